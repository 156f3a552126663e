"""Bad configuration fails before any work, with a message naming the field and what is allowed."""

import json

import pytest
from conftest import run_script, run_script_here

from idd_tf.method import data, presets
from idd_tf.stylegan import config as sg_config
from idd_tf.utils import configs

TINY = presets.TRAIN_PRESETS["tiny"]


def _breaking_value(value, rule):
    """A value of the field's type that its rule refuses."""
    if callable(rule):
        return "no-such-architecture"
    if isinstance(rule[0], str):
        return "no-such-choice"
    low, _, inclusive = rule
    bad = low - 1 if inclusive else low
    if isinstance(value, tuple):
        return tuple(type(v)(bad) for v in value)
    return type(value)(bad) if value is not None else float(bad)


@pytest.mark.parametrize("preset", [presets.TRAIN_PRESETS["tiny"], sg_config.GAN_PRESETS["toy"]],
                         ids=["TrainConfig", "GANTrainConfig"])
def test_every_preset_is_valid_and_every_rule_refuses_a_value_outside_it(preset):
    for p in list(presets.TRAIN_PRESETS.values()) + list(sg_config.GAN_PRESETS.values()):
        configs.validate(p)
    rules = configs.rules(type(preset))
    assert len(rules) > 20
    for name, rule in rules.items():
        value = preset.to_dict()
        for part in name.split("."):
            value = value[part]
        value = tuple(value) if isinstance(value, list) else value
        with pytest.raises(configs.ConfigError, match=name.replace(".", r"\.")):
            preset.replace(**{name: _breaking_value(value, rule)})


@pytest.mark.parametrize("changes, words", [
    ({"batch_sise": 3}, ["unknown config field 'batch_sise'", "did you mean 'batch_size'", "cross_every"]),
    ({"optim.lrnonadv": 1e-4}, ["'optim.lrnonadv'", "did you mean 'optim.lr_nonadv'", "lr_disc"]),
    ({"steps.x": 1}, ["'steps.x'", "steps has no sub-fields"]),
    ({"batch_size": "abc"}, ["batch_size='abc'", "wrong type", "expected int"]),
    ({"mapping.w_plus": "yes"}, ["mapping.w_plus='yes'", "expected bool"]),
    ({"mapping.hidden": [64, "x"]}, ["mapping.hidden", "wrong type"]),
    ({"optim.lr_nonadv": -1e-4}, ["optim.lr_nonadv=-0.0001", "must be >= 0"]),
    ({"batch_size": 0}, ["batch_size=0", "must be >= 1"]),
    ({"loss.rec_ssim": 1.5}, ["loss.rec_ssim=1.5", "<= 1"]),
    ({"mapping.hidden": [64, 0]}, ["mapping.hidden=(64, 0)", ">= 1"]),
    ({"id_encoder.arch": "resnet"}, ["id_encoder.arch='resnet'", "'resnet50_vggface2', 'dlib_resnet', 'toy'"]),
    ({"loss.rec_mask": "box"}, ["loss.rec_mask='box'", "'gaussian', 'uniform'"]),
    ({"optim.lr_disc": float("nan")}, ["optim.lr_disc=nan"]),
])
def test_bad_train_fields_are_named(changes, words):
    with pytest.raises(configs.ConfigError) as e:
        TINY.replace(**changes)
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_good_changes_still_work():
    c = TINY.replace(**{"optim.lr_nonadv": 1, "mapping.hidden": [8, 8], "loss.rec_mask": "uniform"})
    assert c.mapping.hidden == (8, 8) and c.optim.lr_nonadv == 1 and c.loss.rec_mask == "uniform"
    assert TINY.__class__.from_dict(json.loads(json.dumps(c.to_dict()))) == c


def test_gan_fields_and_the_minibatch_stddev_group():
    toy = sg_config.GAN_PRESETS["toy"]
    with pytest.raises(configs.ConfigError, match=r"style_mixing_prob=2 .*<= 1"):
        toy.replace(style_mixing_prob=2)
    with pytest.raises(configs.ConfigError, match=r"r1_interval=0"):
        toy.replace(r1_interval=0)
    with pytest.raises(configs.ConfigError, match=r"batch_size=6 must be a multiple of .* group size 4"):
        toy.replace(batch_size=6)
    assert toy.replace(batch_size=2).batch_size == 2        # group min(4, 2) = 2 divides it


def test_a_resumed_run_cannot_change_what_its_checkpoints_depend_on():
    with pytest.raises(configs.ConfigError, match=r"mapping\.w_plus: this run was made with false.*true"):
        configs.check_resume(TINY, TINY.replace(**{"mapping.w_plus": True}))
    with pytest.raises(configs.ConfigError, match=r"stylegan\.resolution"):
        configs.check_resume(TINY, TINY.replace(**{"stylegan.resolution": 64}))
    configs.check_resume(TINY, TINY.replace(**{"optim.lr_nonadv": 1e-6, "steps": 9}))   # allowed
    gan = sg_config.GAN_PRESETS["quick"]
    with pytest.raises(configs.ConfigError, match=r"stylegan\.fmap_max"):
        configs.check_resume(gan, gan.replace(**{"stylegan.fmap_max": 8}))


def test_manifest_damage_is_named(tmp_path):
    path = tmp_path / data.MANIFEST
    path.write_text('{"format": ')
    with pytest.raises(ValueError, match="corrupt manifest"):
        data.read_manifest(tmp_path)
    path.write_text(json.dumps({"format": data.DATASET_FORMAT, "resolution": 32}))
    with pytest.raises(ValueError, match="lacks num_layers, dlatent_size, shards"):
        data.read_manifest(tmp_path)


def test_scripts_refuse_bad_config_before_any_work(tmp_path):
    runs = tmp_path / "runs"
    proc = run_script_here("scripts/train.py", "--preset", "tiny", "--run_root", runs, "--set", "optim.lr_nonadv=-1",
                           "--set", "batch_size=4")
    assert proc.returncode == 1 and "optim.lr_nonadv=-1 is impossible" in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and not runs.exists()
    proc = run_script_here("scripts/train_stylegan.py", "--preset", "quick", "--run_root", runs,
                           "--set", "batch_sise=8")
    assert proc.returncode == 1 and "did you mean 'batch_size'" in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and not runs.exists()

    # --resume: W+ on a run trained for W is refused; a lower learning rate is fine (dry run)
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(TINY.to_dict()))
    proc = run_script_here("scripts/train.py", "--resume", run, "--set", "mapping.w_plus=true")
    assert proc.returncode == 1 and "mapping.w_plus: this run was made with false" in proc.stderr
    proc = run_script_here("scripts/train.py", "--resume", run, "--set", "optim.lr_nonadv=1e-6", "--dry_run",
                           "--nodry_run_time")   # (the timed step: tests/test_dry_run.py)
    assert proc.returncode == 0 and '"lr_nonadv": 1e-06' in proc.stdout, proc.stderr[-2000:]


def test_a_dataset_from_another_stylegan_is_refused_before_generation(tmp_path):
    dataset, runs = tmp_path / "dataset", tmp_path / "runs"
    dataset.mkdir()
    (dataset / data.MANIFEST).write_text(json.dumps({
        "format": data.DATASET_FORMAT, "resolution": 64, "num_layers": 10, "dlatent_size": 128, "shards": []}))
    proc = run_script("scripts/train.py", "--preset", "tiny", "--run_root", runs, "--dataset", dataset, "--steps", "1",
                      timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "made by another StyleGAN: 64px, w 128-d; this StyleGAN is 32px, w 64-d" in proc.stderr
    assert not (tmp_path / "dataset-val").exists()    # refused before generating the held-out set


def test_a_corrupt_latest_checkpoint_falls_back_to_the_one_before(tmp_path):
    import tensorflow as tf

    from idd_tf.utils.checkpoints import restore_latest
    v = tf.Variable(0.0)
    ckpt = tf.train.Checkpoint(v=v)
    manager = tf.train.CheckpointManager(ckpt, str(tmp_path), max_to_keep=3)
    for step in (1, 2, 3):
        v.assign(float(step))
        manager.save(checkpoint_number=step)
    data_file = next(tmp_path.glob("ckpt-3.data-*"))
    data_file.write_bytes(data_file.read_bytes()[:7])            # a write cut short
    v.assign(-1.0)
    got = restore_latest(ckpt, tmp_path)
    assert float(v.numpy()) == 2.0 and got["path"].endswith("ckpt-2")
    assert [p.rsplit("/", 1)[-1] for p, _ in got["skipped"]] == ["ckpt-3"]
    (tmp_path / "checkpoint").write_text("garbage {{{")           # the index damaged too
    got = restore_latest(ckpt, tmp_path)
    assert float(v.numpy()) == 2.0 and len(got["skipped"]) == 2
    for p in tmp_path.glob("ckpt-*.index"):                       # nothing readable: named error
        p.write_bytes(b"")
    with pytest.raises(RuntimeError, match="no readable checkpoint .*ckpt-1"):
        restore_latest(ckpt, tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert restore_latest(ckpt, empty) == {"path": None, "skipped": []}


def test_a_comma_list_for_a_tuple_field_gets_the_json_form():
    with pytest.raises(configs.ConfigError, match=r"a JSON list: --set sample_grid=\[2,2\]"):
        sg_config.GAN_PRESETS["quick"].replace(sample_grid="2,2")
    with pytest.raises(configs.ConfigError, match=r"--set mapping.hidden=\[64,32\]"):
        TINY.replace(**{"mapping.hidden": "64,32"})
