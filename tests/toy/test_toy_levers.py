"""Issue 28's levers for rendered pairs: photo-like degradations of the toy nets' training renders
(idd_tf.method.augment) and E_attr's backbone pretrained as an autoencoder on renders
(idd_tf.toy.attr_pretraining)."""

import numpy as np
import tensorflow as tf

from idd_tf.method import augment, encoders
from idd_tf.method.config import AttrEncoderConfig
from idd_tf.toy import attr_pretraining
from idd_tf.toy import nets as toynets
from idd_tf.toy import world as toyworld


def _renders(n=6, size=32):
    return toynets.to_float(np.stack([toyworld.person_example(p, 0, 3, size)["image"] for p in range(n)]))


def test_degrade_is_seeded_varied_and_keeps_the_image():
    x = _renders()
    a = augment.degrade(x, tf.constant([1, 0])).numpy()
    assert a.shape == x.shape and a.dtype == np.float32 and a.min() >= -1 and a.max() <= 1
    np.testing.assert_array_equal(a, augment.degrade(x, tf.constant([1, 0])).numpy())   # stateless
    b = augment.degrade(x, tf.constant([1, 1])).numpy()
    assert np.abs(a - b).mean() > 1e-3                                                    # another step
    diff = np.abs(a - x).mean(axis=(1, 2, 3))
    assert (diff > 1e-3).all()                    # every image is changed ...
    assert (diff < 0.25).all()                    # ... but stays the same picture
    # each image gets its own draw: the degradations differ across the batch
    assert np.std(diff) > 0.1 * np.mean(diff)
    # without shift and noise, a flat image stays flat (blur/resampling keep constants)
    flat = np.full((2, 16, 16, 3), 0.3, np.float32)
    out = augment.degrade(flat, tf.constant([2, 0]), max_shift=0, noise_std=0.0).numpy()
    np.testing.assert_allclose(out, flat, atol=1e-5)


def test_attr_autoencoder_trains_and_its_encoder_is_e_attrs_backbone(tmp_path):
    """A few steps at 32 px: the L1 falls, the encoder is written as a .weights.h5 that the
    method's arch-"small" E_attr loads (same outputs), and a rerun resumes (no steps left)."""
    widths, code = (8, 16, 16), 16
    lines = []
    info = attr_pretraining.train(tmp_path, steps=100, batch=16, lr=3e-3, input_size=32, widths=widths, code=code,
                                  log=lines.append, log_every=10, heldout=32)
    assert info["steps_done"] == 100 and (tmp_path / attr_pretraining.WEIGHTS_FILE).is_file()
    first, last = (float(line.split("L1 ")[1].split()[0]) for line in (lines[0], lines[-1]))
    assert last < first, lines
    assert np.isfinite(info["heldout_psnr_db"]) and info["heldout_psnr_db"] > 10
    cfg = AttrEncoderConfig(arch="small", input_size=32, small_widths=widths, small_code=code,
                            weights=str(tmp_path / attr_pretraining.WEIGHTS_FILE))
    enc = encoders.AttributeEncoder(cfg)
    encoder, _ = attr_pretraining.build(32, widths, code)
    encoder.load_weights(tmp_path / attr_pretraining.WEIGHTS_FILE)
    x = _renders(3)
    np.testing.assert_allclose(enc(x).numpy(), encoder(x).numpy(), rtol=1e-5, atol=1e-6)
    again = attr_pretraining.train(tmp_path, steps=100, batch=16, lr=3e-3, input_size=32, widths=widths,
                                   code=code, log=lines.append, heldout=32)
    assert again["steps_done"] == 100 and again["heldout_psnr_db"] == info["heldout_psnr_db"]


def test_train_toy_nets_augment_flag(tmp_path):
    """--augment trains E_id / E_lnd on degraded renders (recorded in the card); the evaluator has
    no such option (it judges, and is trained as shipped)."""
    from conftest import run_script_here
    proc = run_script_here("scripts/train_toy_nets.py", "--net", "evaluator", "--augment", "--quick",
                           "--out", tmp_path / "o", "--work_dir", tmp_path / "w")
    assert proc.returncode == 1 and "--augment applies to the id and lnd nets" in proc.stderr
    proc = run_script_here("scripts/train_toy_nets.py", "--net", "id", "--augment", "--quick",
                           "--out", tmp_path / "o", "--work_dir", tmp_path / "w")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "method/augment.py" in (tmp_path / "o" / "MODEL_CARD_id.md").read_text()
    assert '"augment": true' in (tmp_path / "w" / "id" / "settings.json").read_text()


def test_lever_tools_refuse_before_any_work(tmp_path):
    """toy_table's part-loading variants name the command that builds a missing part; the
    pretraining tool does not replace its output without --overwrite."""
    from conftest import run_script_here
    proc = run_script_here("scripts/toy_table.py", "--variants", "full,all3", "--parts", tmp_path / "parts",
                           "--out", tmp_path / "table")
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "variant all3 needs" in proc.stderr and "train_toy_nets.py --net id --augment" in proc.stderr
    assert not (tmp_path / "table").exists()
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / attr_pretraining.WEIGHTS_FILE).write_bytes(b"x")
    proc = run_script_here("scripts/pretrain_toy_attr.py", "--out", tmp_path / "parts")
    assert proc.returncode == 1 and "--overwrite" in proc.stderr


def test_pretrain_toy_attr_writes_its_model_card_last(tmp_path):
    """The tool (2 steps): the weights, toy_attr.json and a model card naming its command, its
    measured held-out PSNR, its size and its licence; --work keeps the checkpoints elsewhere."""
    import json

    from conftest import run_script_here
    out, work = tmp_path / "parts", tmp_path / "work"
    proc = run_script_here("scripts/pretrain_toy_attr.py", "--out", out, "--work", work, "--steps", 2,
                           "--card_command", "python scripts/pretrain_toy_attr.py --steps 2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    info = json.loads((out / "toy_attr.json").read_text())
    card = (out / attr_pretraining.CARD_FILE).read_text()
    assert "- Command: `python scripts/pretrain_toy_attr.py --steps 2`" in card
    assert f"{info['heldout_psnr_db']:.2f} dB" in card and "## Licence" in card
    assert f"{(out / attr_pretraining.WEIGHTS_FILE).stat().st_size} bytes" in card
    assert (work / "checkpoints").is_dir() and not (out / "work").exists()


def test_the_toy_preset_starts_e_attr_from_the_shipped_backbone():
    """The shipped toy_attr.weights.h5 is the toy preset's E_attr start and loads into it whole."""
    from idd_tf.method import presets
    cfg = presets.TRAIN_PRESETS["toy"].attr_encoder
    assert cfg.weights == f"{presets.TOY_WEIGHTS_DIR}/{attr_pretraining.WEIGHTS_FILE}"
    enc = encoders.AttributeEncoder(cfg)
    encoder, _ = attr_pretraining.build(cfg.input_size, cfg.small_widths, cfg.small_code)
    encoder.load_weights(cfg.weights)
    x = _renders(2, cfg.input_size)
    np.testing.assert_allclose(enc(x).numpy(), encoder(x).numpy(), rtol=1e-5, atol=1e-6)
