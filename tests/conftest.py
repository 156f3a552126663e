import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.experimental.enable_tensor_float_32_execution(False)

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_DIR = ROOT / "tests" / "fixtures" / "stylegan_official_128"
FIXTURE_PKL = FIXTURE_DIR / "network.pkl"


@pytest.fixture(scope="session")
def fixture_meta():
    return json.loads((FIXTURE_DIR / "fixture.json").read_text())


@pytest.fixture(scope="session")
def reference():
    with np.load(FIXTURE_DIR / "reference.npz") as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="session")
def official_networks():
    from idd_tf.stylegan import legacy
    return legacy.load_pickle(FIXTURE_PKL)


def run_script(*args, cwd=ROOT, timeout=600):
    """Run a project script in a fresh interpreter; returns CompletedProcess (text)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, *map(str, args)], cwd=cwd, env=env, timeout=timeout,
                          capture_output=True, text=True)


def run_script_here(*args, cwd=ROOT):
    """Run a tool (`scripts/<tool>.py`: idd_tf.cli.<tool>) in this interpreter, as `run_script` does
    in a new one, minus the ~7 s of starting Python + TensorFlow: the console set up as the tool's
    main() does, argv parsed by the tool's absl flags (which are removed again afterwards), its
    app_main run through idd_tf.cli's user-error handling, stdout/stderr (print, absl logging, tqdm)
    captured, the exit status from SystemExit (0 when app_main returns None), flag errors and uncaught
    exceptions reported on stderr with status 1 as `absl.app.run` and the interpreter do. Returns a
    CompletedProcess.

    Only for runs that leave nothing process-wide behind: inference tools, conversions, and
    refusals and dry runs (train stops before its first TensorFlow work there). Training runs,
    kills and multi-process tests use `run_script`."""
    import contextlib
    import importlib
    import io
    import logging
    import traceback

    from absl import app, flags
    from absl import logging as absl_logging

    from idd_tf import cli
    from idd_tf.cli import console

    script, argv = str(args[0]), [str(a) for a in args]
    tool = importlib.import_module(f"idd_tf.cli.{Path(script).stem}")
    FLAGS = flags.FLAGS
    defined_before = set(FLAGS)
    out, err = io.StringIO(), io.StringIO()
    logger, tf_logger = absl_logging.get_absl_logger(), logging.getLogger("tensorflow")
    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter("%(levelname).1s %(filename)s:%(lineno)d] %(message)s"))
    saved = (logger.level, logger.filters[:], tf_logger.level, sys.argv, os.getcwd())
    code = 0
    try:
        os.chdir(cwd)
        sys.argv = argv
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                console.setup(argv)
                cli.define(tool.define_flags)
                try:
                    rest = FLAGS(argv)
                except flags.Error as e:
                    print(f"FATAL Flags parsing error: {e}", file=sys.stderr)
                    raise SystemExit(1)
                raise SystemExit(cli.reporting_user_errors(tool.app_main)(rest))
            except SystemExit as e:
                if e.code is None or isinstance(e.code, int):
                    code = e.code or 0
                else:
                    print(e.code, file=sys.stderr)
                    code = 1
            except app.UsageError as e:
                print(f"FATAL: {e}", file=sys.stderr)
                code = e.exitcode
            except Exception:  # noqa: BLE001 -- what the interpreter would print
                traceback.print_exc()
                code = 1
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.filters[:] = saved[1]
        tf_logger.setLevel(saved[2])
        sys.argv = saved[3]
        os.chdir(saved[4])
        for name in set(FLAGS) - defined_before:  # the tool's flags (and --verbose): the next tool
            if name in FLAGS:                     # defines its own
                delattr(FLAGS, name)
        FLAGS.unparse_flags()
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def default_run(tmp_path_factory):
    """The tiny run, `python scripts/train.py --preset tiny` (random small networks, about a minute;
    the README's main job is the toy preset, ~10 minutes), run once for every test that needs a run:
    under pytest-xdist (setup.cfg runs two workers) the first worker to need it trains it in the
    session's shared temporary folder while the other waits on a lock, then both read it. Tests
    only read it (copy it to change it)."""
    import fcntl
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    base = tmp_path_factory.getbasetemp()
    if worker is not None:   # <basetemp>/popen-gw<i>: the parent is shared by the workers
        base = base.parent
    root, done = base / "default_run", base / "default_run.json"
    with open(base / "default_run.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.is_file():
            proc = run_script("scripts/train.py", "--preset", "tiny", "--run_root", root, timeout=900)
            assert proc.returncode == 0, proc.stderr[-3000:]
            done.write_text(json.dumps({"args": proc.args, "stdout": proc.stdout, "stderr": proc.stderr}))
        saved = json.loads(done.read_text())
    proc = subprocess.CompletedProcess(saved["args"], 0, saved["stdout"], saved["stderr"])
    runs = sorted(root.iterdir())
    assert len(runs) == 1 and runs[0].name == "00000-tiny"
    return {"root": root, "run": runs[0], "proc": proc}


@pytest.fixture(scope="session")
def distilled_landmarks(default_run, tmp_path_factory):
    """scripts/train_landmarks.py on the default run's dataset, run once for the tests of E_lnd
    distillation: 96 images labelled by dlib, a quarter of them held out; 32 px, 8 filters (the
    tiny preset's E_lnd)."""
    out = tmp_path_factory.mktemp("landmarks") / "lnd"
    proc = run_script("scripts/train_landmarks.py", "--dataset", default_run["run"] / "dataset", "--out", out,
                      "--input_size", 32, "--base_filters", 8, "--epochs", 15, "--max_images", 96,
                      "--val_fraction", 0.25)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"out": out, "proc": proc, "dataset": default_run["run"] / "dataset"}


@pytest.fixture(scope="session")
def astronaut():
    """A real face photo that ships inside scikit-image (NASA portrait, public domain)."""
    import skimage.data
    return np.ascontiguousarray(skimage.data.astronaut())
