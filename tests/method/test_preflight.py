"""scripts/train.py never trains silently random networks: the pre-flight refusal."""

import json

from conftest import FIXTURE_PKL, ROOT, run_script_here

from idd_tf.method.presets import TRAIN_PRESETS

# the files a real preset needs besides the pickle (E_lnd is built in: face-api's net, shipped)
ENCODER_FLAGS = {"--vggface2": "id_encoder.weights", "--inception": "attr_encoder.weights"}


def test_real_preset_without_encoder_weights_refuses_before_any_work(tmp_path):
    runs, dataset = tmp_path / "runs", tmp_path / "dataset"
    proc = run_script_here("scripts/train.py", "--preset", "ffhq256", "--stylegan", FIXTURE_PKL,
                           "--dataset", dataset, "--run_root", runs)
    assert proc.returncode != 0
    for flag, field in ENCODER_FLAGS.items():
        assert flag in proc.stderr and field in proc.stderr, (flag, proc.stderr[-2000:])
    assert "--landmarks" not in proc.stderr
    assert "--allow_random_encoders" in proc.stderr and "Traceback" not in proc.stderr
    assert not runs.exists() and not dataset.exists()  # no run directory, no dataset generation


def test_every_missing_file_is_named_at_once(tmp_path):
    runs = tmp_path / "runs"
    proc = run_script_here("scripts/train.py", "--preset", "ffhq1024", "--vggface2", tmp_path / "nope.h5",
                           "--landmarks", tmp_path / "lnd.weights.h5", "--run_root", runs)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    err = proc.stderr
    assert "nope.h5: no such file" in err and "lnd.weights.h5: no such file" in err
    assert "--stylegan" in err and "stylegan_weights" in err
    assert "--inception" in err and "attr_encoder.weights" in err
    assert not runs.exists()
    # the same for a dry run: it shows what a real run would do
    proc = run_script_here("scripts/train.py", "--preset", "ffhq1024", "--dry_run")
    assert proc.returncode != 0 and all(flag in proc.stderr for flag in ["--stylegan", *ENCODER_FLAGS])


def test_random_networks_only_where_the_config_allows_them(tmp_path):
    # explicit opt-in: the same command passes the check (dry run: stops right after it)
    proc = run_script_here("scripts/train.py", "--preset", "ffhq256", "--stylegan", FIXTURE_PKL,
                           "--allow_random_encoders", "--dry_run", "--nodry_run_time", "--run_root", tmp_path / "runs")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["allow_random_encoders"] is True
    # the tiny test preset allows them by default (its E_attr is the small CNN: no weights exist) ...
    assert TRAIN_PRESETS["tiny"].allow_random_encoders and not TRAIN_PRESETS["ffhq256"].allow_random_encoders
    # ... and refuses like a real preset when told not to; a given weight path that does not
    # exist is an error wherever random weights are allowed or not
    proc = run_script_here("scripts/train.py", "--preset", "tiny", "--noallow_random_encoders", "--landmarks",
                           ROOT / "no_such_lnd.weights.h5", "--run_root", tmp_path / "runs")
    assert proc.returncode != 0
    assert "--vggface2" in proc.stderr and "--stylegan" in proc.stderr and "--inception" not in proc.stderr
    assert "no_such_lnd.weights.h5: no such file" in proc.stderr
    assert not (tmp_path / "runs").exists()


def test_toy_preset_uses_only_shipped_trained_parts(tmp_path):
    """The toy world's preset: every frozen network is a shipped, trained file (no random init)."""
    cfg = TRAIN_PRESETS["toy"]
    assert not cfg.allow_random_encoders and cfg.id_encoder.arch == "toy"
    for path in (cfg.stylegan_weights, cfg.id_encoder.weights, cfg.landmarks.weights):
        assert (ROOT / "stylegan_weights" / "toy" / path.rsplit("/", 1)[1]).is_file(), path
    proc = run_script_here("scripts/train.py", "--preset", "toy", "--dry_run", "--nodry_run_time",
                           "--run_root", tmp_path / "runs")
    assert proc.returncode == 0, proc.stderr[-2000:]
    resolved = json.loads(proc.stdout)
    assert resolved["landmarks"]["weights"].endswith("stylegan_weights/toy/toy_lnd.weights.h5")
    assert not (tmp_path / "runs").exists()
