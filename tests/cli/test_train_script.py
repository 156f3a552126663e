"""scripts/train.py end to end: the zero-download default, TensorBoard output, kill -> resume."""

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf
from conftest import ROOT, run_script, run_script_here

from idd_tf.method import data
from idd_tf.utils import image_files

SCALARS = {"loss_id", "loss_lnd", "loss_rec", "loss_nonadv", "loss_adv", "loss_d", "r1", "d_real",
           "d_fake", "grad_norm_nonadv", "grad_norm_adv", "grad_norm_d", "cross_step"}


def read_events(log_dir):
    """{tag: {step: value}} of every scalar, later events overriding earlier ones; image tags."""
    scalars, images = {}, set()
    for f in sorted(Path(log_dir).glob("events.out.tfevents.*")):
        for ev in tf.compat.v1.train.summary_iterator(str(f)):
            for v in ev.summary.value:
                arr = tf.make_ndarray(v.tensor)
                if arr.dtype == object:
                    images.add(v.tag)
                else:
                    scalars.setdefault(v.tag, {})[ev.step] = float(arr)
    return scalars, images


def test_default_run_leaves_everything(default_run):
    run = default_run["run"]
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["steps"] == 200 and cfg["stylegan_weights"] == str(run / "stylegan")
    assert (run / "stylegan" / "stylegan.json").is_file()
    assert (run / "checkpoints" / "checkpoint").is_file()
    assert "done: step 200" in default_run["proc"].stdout
    # a quiet start: one line about the resolved config, not the JSON (that is config.json / --dry_run)
    first = default_run["proc"].stdout.lstrip().splitlines()[0]
    assert first.startswith("config tiny: 200 steps of batch 4") and first.endswith(str(run / "config.json"))
    assert not default_run["proc"].stdout.lstrip().startswith("{")
    assert "steps/s" in default_run["proc"].stderr + default_run["proc"].stdout
    assert "ETA" in default_run["proc"].stdout and (run / "plots" / "curves.png").is_file()
    noise = ("Sharding callback", "cpu_feature_guard", "absl::InitializeLog")   # quiet unless --verbose
    assert not [n for n in noise if n in default_run["proc"].stderr]
    scalars, images = read_events(run / "logs")
    assert SCALARS <= set(scalars), SCALARS - set(scalars)
    assert max(scalars["loss_id"]) == 200
    assert "id_attr_out" in images
    # validation (tiny: every 100 steps) on the held-out split train.py generated beside the dataset
    assert {"val/id_to_out", "val/lnd_dist", "val/rec_psnr"} <= set(scalars)
    assert sorted(scalars["val/id_to_out"]) == [100, 200]
    assert cfg["validation_dataset"] == cfg["dataset"] + "-val"
    assert (Path(cfg["validation_dataset"]) / "manifest.json").is_file()
    for best in ("best_id", "best_lnd"):
        assert tf.train.latest_checkpoint(str(run / "checkpoints" / best)), best
    grid = image_files.load_image(run / "images" / "id_attr_out_0000200.png")
    assert grid.shape == (4 * 32, 3 * 32, 3)


def test_kill_and_resume_matches_uninterrupted(default_run, tmp_path):
    """train.py killed with SIGKILL mid-run, then `--resume`: the next steps equal the
    uninterrupted default run's (same seed, data order and deterministic ops), losses and gradient
    norms. The options only make it cheaper and change nothing that is computed, so the default
    run is the uninterrupted reference: its dataset, a checkpoint at step 72, every step logged
    (so that the kill lands right after that checkpoint)."""
    src = default_run["run"]
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    args = ["--steps", "150", "--dataset", str(src / "dataset"), "--set", "checkpoint_every=72",
            "--set", "log_every=1"]
    command = [sys.executable, "scripts/train.py", "--preset", "tiny", "--run_root", str(tmp_path), *args]
    proc = subprocess.Popen(command,
                            cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    killed = False
    try:
        for line in proc.stdout:
            if line.startswith("step      80/150"):
                proc.send_signal(signal.SIGKILL)
                killed = True
                break
    finally:
        proc.kill()
        proc.wait(timeout=60)
    assert killed, "run finished before it could be killed"
    run = tmp_path / "00000-tiny"
    ckpts = sorted(p.name for p in (run / "checkpoints").glob("ckpt-*.index"))
    assert ckpts == ["ckpt-72.index"]
    before = json.loads((run / "timing.json").read_text())  # the training time, saved with the checkpoint
    assert before["step"] == 72 and before["seconds"] > 0
    # steps 72 (adversarial: every optimizer's restored state is used), 73 and 74; the default
    # run logged step 75 (after step index 74: adversarial and I_attr = I_id, so every loss is
    # compared; 75 is the first logged step that is both)
    resumed = run_script("scripts/train.py", "--resume", run, "--steps", "75", timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed at step 72" in resumed.stderr and "done: step 75" in resumed.stdout
    after = json.loads((run / "timing.json").read_text())  # the resumed session adds to it
    assert after["step"] == 75 and after["seconds"] > before["seconds"]
    ref, _ = read_events(src / "logs")
    got, _ = read_events(run / "logs")
    for tag in ("loss_id", "loss_lnd", "loss_rec", "loss_adv", "loss_d", "r1", "grad_norm_nonadv",
                "grad_norm_adv", "grad_norm_d"):
        assert 75 in ref[tag] and 75 in got[tag], tag
        np.testing.assert_allclose(got[tag][75], ref[tag][75], rtol=1e-4, atol=1e-6, err_msg=tag)
    assert ref["loss_rec"][75] > 0  # an I_attr = I_id step: the reconstruction loss is compared too


def test_dry_run_and_bad_options(tmp_path):
    stand_in = ROOT / "README.md"  # exists, but loads as none of them: the dry run reads the files
    proc = run_script_here("scripts/train.py", "--preset", "ffhq1024", "--stylegan", stand_in, "--vggface2", stand_in,
                           "--inception", stand_in, "--landmarks", stand_in, "--dry_run", "--run_root", tmp_path)
    assert proc.returncode == 1 and "would NOT start" in proc.stderr and "not a pickle file" in proc.stderr
    cfg = json.loads(proc.stdout)   # the resolved config is still printed
    assert cfg["batch_size"] == 2 and cfg["optim"]["lr_nonadv"] == 1e-5  # official trainer.py at 1024
    assert not any(tmp_path.iterdir())
    proc = run_script_here("scripts/train.py", "--preset", "tiny", "--vggface2", tmp_path / "nope.h5",
                           "--run_root", tmp_path)
    assert proc.returncode == 1 and "nope.h5: no such file" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = run_script_here("scripts/train.py", "--preset", "ffhq256", "--dry_run")
    assert proc.returncode == 1 and "--stylegan" in proc.stderr
    proc = run_script_here("scripts/train.py", "--set", "loss.idd=3", "--dry_run")
    assert proc.returncode == 1 and "loss.idd" in proc.stderr


def test_train_landmarks_distils_dlib_and_feeds_training(default_run, distilled_landmarks, tmp_path):
    import keras

    import idd_tf
    from idd_tf.method import config, encoders, faces, model, presets, trainer
    out, run = distilled_landmarks["out"], default_run["run"]  # 96 images, 15 epochs, 32 px, 8 filters
    summary = json.loads(distilled_landmarks["proc"].stdout.strip().splitlines()[-1])
    assert summary["images"] == 96 and summary["mse_last_epoch"] < 0.5 * summary["mse_first_epoch"]
    assert sorted(p.name for p in out.iterdir()) == ["landmarks.json", "landmarks.weights.h5", "metrics.json"]
    # The distilled net approximates dlib on an image it was trained on.
    weights = str(out / "landmarks.weights.h5")
    enc = encoders.LandmarkEncoder(config.LandmarkConfig(input_size=32, base_filters=8, weights=weights))
    held_out = set(json.loads((out / "metrics.json").read_text())["val_items"])
    trained = next(b for b in data.make_dataset(run / "dataset", 1, shuffle_buffer=0)
                   if int(b["index"][0]) not in held_out)
    img = trained["image"]
    u8 = ((img.numpy()[0] + 1) * 127.5).round().clip(0, 255).astype(np.uint8)
    ref = faces.dlib_landmarks(u8, aligned=True) / 32
    pred = enc(img).numpy()[0]
    assert np.abs(pred - ref).mean() < np.abs(0.5 - ref).mean()
    # ... and plugs into training as E_lnd (the tiny preset's landmark net is 32 px, 8 filters):
    # the training model's E_lnd is the distilled net, and a training step (eager, in-process: a
    # train.py run costs a process start and traced steps) uses it in L_lnd
    cfg = presets.TRAIN_PRESETS["tiny"].replace(**{"landmarks.weights": weights})
    keras.utils.set_random_seed(0)
    net = model.IDDModel(cfg, idd_tf.load_stylegan(run / "stylegan"))
    np.testing.assert_allclose(net.e_lnd(img).numpy(), enc(img).numpy(), rtol=1e-5, atol=1e-6)
    tr = trainer.Trainer(net, trainer.dataset_fn_for(run / "dataset", cfg.batch_size, cfg.seed, 0), cfg,
                         tmp_path / "run")
    metrics = tr._distributed_step(tr.next_batch(), False, True)
    assert float(metrics["finite"]) == 1.0 and float(metrics["loss_lnd"]) > 0
    again = run_script_here("scripts/train_landmarks.py", "--dataset", run / "dataset", "--out", out)
    assert again.returncode == 1 and "exists" in again.stderr


def test_divergence_stops_cleanly_and_resume_continues(default_run, tmp_path):
    """A run whose losses explode exits 2 naming the step, writes no non-finite checkpoint, and
    `--resume --set optim.*=...` continues from the last good one."""
    # a copy of the finished default run (its StyleGAN and dataset stay where they are)
    run = tmp_path / "run"
    shutil.copytree(default_run["run"], run, ignore=shutil.ignore_patterns("dataset*", "logs", "images"))
    # a loss weight past float32's range: the first step's loss is inf (deterministic, unlike a
    # huge learning rate, which this small model survives for hundreds of steps)
    bad = run_script("scripts/train.py", "--resume", run, "--steps", "300", "--set", "loss.id=1e39")
    assert bad.returncode == 2, bad.stderr[-3000:]
    assert "diverged at step 200: non-finite loss_nonadv" in bad.stderr, bad.stderr[-3000:]
    assert "--resume" in bad.stderr and "done: step" not in bad.stdout
    assert json.loads((run / "config.json").read_text())["loss"]["id"] == 1e39  # --set on resume is recorded
    latest = tf.train.latest_checkpoint(str(run / "checkpoints"))
    last_good = int(latest.rsplit("-", 1)[1])
    assert last_good == 200
    for index in (run / "checkpoints").glob("ckpt-*.index"):  # every checkpoint holds finite values
        reader = tf.train.load_checkpoint(str(index.with_suffix("")))
        for name in reader.get_variable_to_shape_map():
            value = reader.get_tensor(name)
            if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                assert np.isfinite(value).all(), (index.name, name)
    good = run_script("scripts/train.py", "--resume", run, "--steps", str(last_good + 1),
                      "--set", "loss.id=1.0", "--set", "optim.lr_nonadv=1e-4")
    assert good.returncode == 0, good.stderr[-3000:]
    assert f"resumed at step {last_good}" in good.stderr and f"done: step {last_good + 1}" in good.stdout
    assert tf.train.latest_checkpoint(str(run / "checkpoints")).endswith(f"ckpt-{last_good + 1}")
    assert json.loads((run / "config.json").read_text())["optim"]["lr_nonadv"] == 1e-4
