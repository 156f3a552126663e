"""What every app shares on the command line: a quiet console, seed lists, --checkpoint paths."""

import pytest
import tensorflow as tf
from conftest import run_script, run_script_here

from idd_tf.method import data, model


def test_parse_seeds_expands_ranges_and_refuses_bad_or_huge_ones():
    assert data.parse_seeds("0-3,7") == [0, 1, 2, 3, 7]
    for bad, why in (("0-999999999", "more than"), ("5-2", "empty"), ("a,b", "bad seeds"), ("", "no seeds")):
        with pytest.raises(ValueError, match=why):
            data.parse_seeds(bad)


def test_checkpoint_path_takes_a_prefix_or_a_folder_and_names_what_is_missing(tmp_path):
    v = tf.Variable(1.0)
    folder = tmp_path / "best_id"
    prefix = tf.train.CheckpointManager(tf.train.Checkpoint(v=v), str(folder), 2).save(checkpoint_number=7)
    assert model.checkpoint_path(prefix) == prefix
    assert model.checkpoint_path(folder) == prefix          # a folder: its latest
    with pytest.raises(FileNotFoundError, match="ckpt-8"):
        model.checkpoint_path(str(folder / "ckpt-8"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no checkpoint in"):
        model.checkpoint_path(tmp_path / "empty")


def test_console_is_quiet_unless_verbose(tmp_path):
    """TensorFlow's C++ start-up lines (written before its log level applies) are hidden; the
    script's own error stays; --verbose is accepted and shows TensorFlow's lines again."""
    env_free = {k: v for k, v in __import__("os").environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    quiet = run_script("scripts/evaluate.py", "--run", tmp_path / "nope", timeout=300)
    assert quiet.returncode == 1 and "not a run directory" in quiet.stderr
    noise = [ln for ln in quiet.stderr.splitlines() if ln[:5] in ("I0000", "W0000", "E0000")
             or "absl::InitializeLog" in ln or "cpu_feature_guard" in ln]
    assert not noise, noise
    assert len([ln for ln in quiet.stderr.splitlines() if ln.strip()]) == 1, quiet.stderr
    import subprocess
    import sys

    from conftest import ROOT
    loud = subprocess.run([sys.executable, "scripts/evaluate.py", "--run", str(tmp_path / "nope"), "--verbose"],
                          cwd=ROOT, env=env_free, capture_output=True, text=True, timeout=300)
    assert loud.returncode == 1 and "not a run directory" in loud.stderr
    assert len(loud.stderr.splitlines()) > 1   # TensorFlow's own start-up lines are back


def test_a_run_directory_from_another_version_or_edited_is_a_clear_error(tmp_path):
    import json

    from idd_tf.method import config as cfg
    from idd_tf.method import presets
    from idd_tf.utils import configs
    newer = tmp_path / "newer"
    newer.mkdir()
    d = presets.TRAIN_PRESETS["tiny"].to_dict()
    d["loss"]["lpips"] = 0.5                      # a field this version does not know
    (newer / "config.json").write_text(json.dumps(d))
    with pytest.raises(configs.ConfigError, match="another idd-tf version.*lpips"):
        model.load_run(newer)
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "config.json").write_text(json.dumps(d)[:40])
    with pytest.raises(configs.ConfigError, match="not valid JSON"):
        cfg.TrainConfig.from_run_dir(cut)
    for script in ("scripts/evaluate.py", "scripts/train.py"):
        args = ["--run", newer] if "evaluate" in script else ["--resume", newer]
        proc = run_script_here(script, *args)
        assert proc.returncode == 1 and "another idd-tf version" in proc.stderr, proc.stderr[-2000:]
        assert "Traceback" not in proc.stderr


TOOLS = {"idd-train": "train", "idd-train-stylegan": "train_stylegan", "idd-grid": "combine_grid",
         "idd-interpolate": "interpolate", "idd-reenact": "reenact", "idd-evaluate": "evaluate", "idd-export": "export",
         "idd-demo": "demo", "idd-generate": "generate", "idd-generate-dataset": "generate_dataset",
         "idd-convert-stylegan": "convert_stylegan", "idd-train-landmarks": "train_landmarks",
         "idd-build-toy-world": "build_toy_world", "idd-train-toy-nets": "train_toy_nets", "idd-toy-table": "toy_table",
         "idd-toy-pictures": "toy_pictures", "idd-probe-factors": "probe_factors",
         "idd-pretrain-toy-attr": "pretrain_toy_attr"}


def test_every_tool_is_a_console_script_and_a_script():
    """setup.cfg's console scripts (installed: `pip install -e .`) are idd_tf.cli.<tool>:main, each
    with its scripts/<tool>.py; `idd-train --only_check_args` exits 0; `idd-grid --help` shows the
    tool's usage text and flags (and exits 1, as absl's --help does)."""
    import shutil
    import subprocess
    from importlib.metadata import entry_points

    from conftest import ROOT
    installed = {e.name: e.value for e in entry_points(group="console_scripts") if e.name.startswith("idd-")}
    assert installed == {name: f"idd_tf.cli.{tool}:main" for name, tool in TOOLS.items()}
    assert sorted(p.stem for p in (ROOT / "scripts").glob("*.py")) == sorted(TOOLS.values())
    assert sorted(p.stem for p in (ROOT / "idd_tf" / "cli").glob("*.py")
                  if p.stem not in ("__init__", "console", "common")) == sorted(TOOLS.values())
    assert all(shutil.which(name) for name in TOOLS), [name for name in TOOLS if not shutil.which(name)]
    proc = subprocess.run(["idd-train", "--only_check_args", "--preset", "tiny"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 and not proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
    proc = subprocess.run(["idd-grid", "--help"], capture_output=True, text=True, timeout=300)
    assert "Identity x attribute grid" in proc.stdout and "--attr_seeds" in proc.stdout, proc.stderr[-2000:]


def test_importing_every_tool_defines_no_flag_and_loads_no_tensorflow():
    """Flags are defined when a tool runs (several tools import in one process), TensorFlow after
    the console is set up."""
    import subprocess
    import sys
    modules = ", ".join(f"idd_tf.cli.{tool}" for tool in TOOLS.values())
    code = (f"import sys\nfrom absl import app, flags, logging\nbefore = set(flags.FLAGS)\nimport {modules}\n"
            "assert set(flags.FLAGS) == before, set(flags.FLAGS) - before\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'gradio')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stdout + proc.stderr[-2000:]


def test_a_user_error_is_one_line_and_exit_status_1(tmp_path):
    """A UserError (or a missing file) out of a tool's work: its message as one absl ERROR line, no
    traceback, status 1; a divergence keeps status 2; any other exception is a bug with its traceback."""
    import subprocess
    import sys
    tool = tmp_path / "tool.py"
    tool.write_text("import sys\n"
                    "import idd_tf.cli as cli\n"
                    "from idd_tf.utils.errors import UserError\n"
                    "ERRORS = {'user': UserError('photo.png: not an image (and more)'),\n"
                    "          'missing': FileNotFoundError('no such file: photo.png'),\n"
                    "          'diverged': cli.Diverged('loss is NaN at step 7'), 'bug': KeyError('oops')}\n"
                    "def define_flags():\n"
                    "    pass\n"
                    "def app_main(argv):\n"
                    "    raise ERRORS[argv[1]]\n"
                    "cli.run(app_main, define_flags)\n")
    expected = {"user": (1, "photo.png: not an image (and more)"), "missing": (1, "no such file: photo.png"),
                "diverged": (2, "loss is NaN at step 7")}
    for kind, (code, message) in expected.items():
        proc = subprocess.run([sys.executable, tool, kind], capture_output=True, text=True, timeout=300)
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert proc.returncode == code, (kind, proc.stderr[-2000:])
        assert len(lines) == 1 and lines[0].startswith("E") and lines[0].endswith(f"tool.py:10] {message}"), lines
    bug = subprocess.run([sys.executable, tool, "bug"], capture_output=True, text=True, timeout=300)
    assert bug.returncode == 1 and "Traceback" in bug.stderr and "KeyError: 'oops'" in bug.stderr


def test_a_tool_in_process_reports_user_errors_as_its_subprocess_does(tmp_path):
    """conftest.run_script_here goes through the same handling (idd_tf.cli.reporting_user_errors)."""
    proc = run_script_here("scripts/generate.py", "--seeds", "5-2", "--outdir", tmp_path / "out")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("E ")]
    assert len(errors) == 1 and "generate.py" in errors[0] and "empty" in errors[0], proc.stderr[-2000:]


def test_a_tool_refuses_an_out_of_range_flag_before_any_work(tmp_path):
    """A negative --stylegan_more_kimg is a flag error naming the flag (exit 1), not a build started."""
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "scripts/build_toy_world.py", "--stylegan_more_kimg", "-1",
                           "--out", tmp_path / "out", "--work", tmp_path / "work"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "--stylegan_more_kimg=-1" in proc.stderr and "non-negative" in proc.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "work").exists()
