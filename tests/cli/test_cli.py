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
