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
    from idd_tf import legacy
    return legacy.load_pickle(FIXTURE_PKL)


def run_script(*args, cwd=ROOT, timeout=600):
    """Run a project script in a fresh interpreter; returns CompletedProcess (text)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, *map(str, args)], cwd=cwd, env=env, timeout=timeout,
                          capture_output=True, text=True)


@pytest.fixture(scope="session")
def default_run(tmp_path_factory):
    """The README's main job, `python scripts/train.py`, run once for every test that needs a run."""
    root = tmp_path_factory.mktemp("runs")
    proc = run_script("scripts/train.py", "--run_root", root, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = sorted(root.iterdir())
    assert len(runs) == 1 and runs[0].name == "00000-tiny"
    return {"root": root, "run": runs[0], "proc": proc}


@pytest.fixture(scope="session")
def astronaut():
    """A real face photo that ships inside scikit-image (NASA portrait, public domain)."""
    import skimage.data
    return np.ascontiguousarray(skimage.data.astronaut())
