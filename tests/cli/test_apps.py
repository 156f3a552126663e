"""The inference scripts end to end from the tiny run of scripts/train.py (no downloads)."""

import json
import shutil

import numpy as np
from conftest import run_script_here
from PIL import Image

from idd_tf.method import faces, model
from idd_tf.utils import fileio, image_files


def test_load_run_restores_training_state(default_run):
    r = model.load_run(default_run["run"])
    assert r["checkpoint"].endswith("ckpt-200")
    r2 = model.load_run(default_run["run"])
    x = np.random.RandomState(0).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(r["model"](x, x[::-1])["images"], r2["model"](x, x[::-1])["images"],
                               rtol=1e-5, atol=1e-5)
    # Every weight of E_attr, M and D_W is the trained one stored in the checkpoint (M and D_W
    # used to come back as their seeded initialisation: only the optimizers had saved them).
    import keras
    import tensorflow as tf

    from idd_tf.utils.checkpoints import named_weights
    reader = tf.train.load_checkpoint(r["checkpoint"])
    keras.utils.set_random_seed(r["config"].seed)
    fresh = model.IDDModel(r["config"], r["stylegan"])
    for part in ("e_attr", "mapping", "d_w"):
        init = {v.path: v.numpy() for v in getattr(fresh, part).weights}
        moved = 0
        for key, var in named_weights(getattr(r["model"], part)).items():
            escaped = key.replace(".", "..")  # tf.train.Checkpoint's escaping of object names
            stored = reader.get_tensor(f"{part}/{escaped}/.ATTRIBUTES/VARIABLE_VALUE")
            np.testing.assert_array_equal(var.numpy(), stored, err_msg=f"{part}/{key}")
            moved += not np.array_equal(stored, init[var.path])
        assert moved > 0, f"{part}: no weight differs from its initialisation"


def test_combine_grid_from_seeds_and_files(default_run, tmp_path):
    run = default_run["run"]
    out = tmp_path / "grid.png"
    proc = run_script_here("scripts/combine_grid.py", "--run", run, "--id_seeds", "0-3", "--attr_seeds", "10-12",
                           "--out", out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    grid = image_files.load_image(out)
    assert grid.shape == ((3 + 1) * 32, (4 + 1) * 32, 3)  # (n_attr+1) rows x (n_id+1) columns
    assert (grid[:32, :32] == 255).all()
    # an existing result is not replaced unless asked
    again = run_script_here("scripts/combine_grid.py", "--run", run, "--id_seeds", "0", "--attr_seeds", "1",
                            "--out", out)
    assert again.returncode == 1 and "--overwrite" in again.stderr
    assert image_files.load_image(out).shape == grid.shape
    # the top row holds the identity inputs, the left column the attribute inputs
    from idd_tf.stylegan import networks as stylegan
    r = model.load_run(run)
    ids = stylegan.to_uint8(stylegan.seed_images(r["stylegan"], [0, 1, 2, 3], 0.7, 8)).numpy()
    for j in range(4):
        assert np.abs(grid[:32, (j + 1) * 32:(j + 2) * 32].astype(int) - ids[j]).max() <= 1
    # image files as inputs (replacing the grid above: --overwrite), and pairs mode
    for name, seed in (("a.png", 0), ("b.png", 1)):
        fileio.save_image(tmp_path / "ids" / name, ids[seed])
        fileio.save_image(tmp_path / "attrs" / name, ids[3 - seed])
    proc = run_script_here("scripts/combine_grid.py", "--run", run, "--id", tmp_path / "ids",
                           "--attr", tmp_path / "attrs" / "a.png", "--out", out, "--overwrite")
    assert proc.returncode == 0, proc.stderr[-2000:]
    g2 = image_files.load_image(out)
    assert g2.shape == (2 * 32, 3 * 32, 3)  # (1 + 1) rows x (2 + 1) columns: replaced
    for j in range(2):  # the identity files, in name order, in the top row
        assert np.abs(g2[:32, (j + 1) * 32:(j + 2) * 32].astype(int) - ids[j]).max() <= 1
    proc = run_script_here("scripts/combine_grid.py", "--run", run, "--pairs", "--id", tmp_path / "ids",
                           "--attr", tmp_path / "attrs", "--outdir", tmp_path / "pairs")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "pairs").iterdir()) == ["a.png", "b.png"]


def test_combine_grid_aligns_real_photos(default_run, astronaut, tmp_path):
    Image.fromarray(astronaut).save(tmp_path / "astronaut.png")
    proc = run_script_here("scripts/combine_grid.py", "--run", default_run["run"], "--id", tmp_path / "astronaut.png",
                           "--attr_seeds", "5", "--align", "--out", tmp_path / "g.png")
    assert proc.returncode == 0, proc.stderr[-2000:]
    top = image_files.load_image(tmp_path / "g.png")[:32, 32:64]
    expect = faces.align_face(astronaut, 32)
    assert np.abs(top.astype(int) - expect).mean() < 2
    Image.fromarray(astronaut[:, :400]).save(tmp_path / "wide.png")
    proc = run_script_here("scripts/combine_grid.py", "--run", default_run["run"], "--id", tmp_path / "wide.png",
                           "--attr_seeds", "5", "--out", tmp_path / "g_wide.png")  # not square, no --align
    assert proc.returncode == 1 and "square" in proc.stderr and "Traceback" not in proc.stderr
    Image.new("RGB", (64, 64), (90, 90, 90)).save(tmp_path / "blank.png")
    proc = run_script_here("scripts/combine_grid.py", "--run", default_run["run"], "--id", tmp_path / "blank.png",
                           "--attr_seeds", "5", "--align", "--out", tmp_path / "g_blank.png")
    assert proc.returncode == 1 and "no face" in proc.stderr


def test_interpolate(default_run, tmp_path):
    import cv2
    proc = run_script_here("scripts/interpolate.py", "--run", default_run["run"], "--id_seeds", "0,1",
                           "--attr_seeds", "2,3", "--steps", 5, "--gif", "--mp4", "--outdir", tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for vary in ("attr", "id"):
        for space in ("w", "z"):
            strip = image_files.load_image(tmp_path / f"{vary}_{space}.png")
            assert strip.shape == (2 * 32, 5 * 32, 3)
            frames = [strip[32:, i * 32:(i + 1) * 32].astype(int) for i in range(5)]
            assert np.abs(frames[0] - frames[-1]).mean() > 0  # the ends differ
            with Image.open(tmp_path / f"{vary}_{space}.gif") as gif:
                assert gif.n_frames == 2 * 5 - 2
            cap = cv2.VideoCapture(str(tmp_path / f"{vary}_{space}.mp4"))
            assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 2 * 5 - 2
            cap.release()
    # W and Z interpolation share their end points and differ in between
    w = image_files.load_image(tmp_path / "attr_w.png").astype(int)
    z = image_files.load_image(tmp_path / "attr_z.png").astype(int)
    assert np.abs(w[32:, :32] - z[32:, :32]).max() <= 1 and np.abs(w[32:, -32:] - z[32:, -32:]).max() <= 1


def test_reenact_folder_and_video(default_run, tmp_path):
    import cv2
    frames = tmp_path / "frames"
    from idd_tf.stylegan import networks as stylegan
    G = model.load_run(default_run["run"])["stylegan"]
    imgs = stylegan.to_uint8(stylegan.seed_images(G, [7, 8, 9], 0.7, 8)).numpy()
    for i, im in enumerate(imgs):
        fileio.save_image(frames / f"{i:03d}.png", im)
    proc = run_script_here("scripts/reenact.py", "--run", default_run["run"], "--identity_seed", 3,
                           "--driving", frames, "--outdir", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(list((tmp_path / "out").glob("frame_*.png"))) == 3
    cap = cv2.VideoCapture(str(tmp_path / "out" / "reenact.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    cap.release()
    # a video as driving input
    vw = cv2.VideoWriter(str(tmp_path / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (32, 32))
    for im in imgs:
        vw.write(cv2.cvtColor(im, cv2.COLOR_RGB2BGR))
    vw.release()
    proc = run_script_here("scripts/reenact.py", "--run", default_run["run"], "--identity_seed", 3,
                           "--driving", tmp_path / "clip.mp4", "--outdir", tmp_path / "out2", "--novideo")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(list((tmp_path / "out2").glob("frame_*.png"))) == 3
    proc = run_script_here("scripts/reenact.py", "--run", default_run["run"], "--identity_seed", 3,
                           "--driving", tmp_path / "nothing.mp4", "--outdir", tmp_path / "out3")
    assert proc.returncode == 1 and "not found" in proc.stderr


def test_evaluate_counts_skipped_faces(default_run, tmp_path):
    proc = run_script_here("scripts/evaluate.py", "--run", default_run["run"], "--num_pairs", 4, "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((tmp_path / "metrics.json").read_text())
    assert result["pairs"] == 4 and result["counts"]["rec_rmse"] == 4
    # random tiny faces are not detectable: skipped and counted, not a crash
    assert result["skipped_no_face"]["disentanglement"] + result["counts"]["identity"] == 4
    assert result["rec_rmse"] > 0 and "| reconstruction RMSE |" in (tmp_path / "metrics.md").read_text()
    proc = run_script_here("scripts/evaluate.py", "--run", default_run["run"], "--fid_weights",
                           tmp_path / "missing.h5", "--out", tmp_path / "x")
    assert proc.returncode == 1 and "missing.h5" in proc.stderr
    proc = run_script_here("scripts/evaluate.py", "--run", default_run["run"], "--arcface",
                           tmp_path / "arcface_r100.keras", "--out", tmp_path / "y")
    assert proc.returncode == 1 and "arcface_r100.keras" in proc.stderr and "Traceback" not in proc.stderr


def test_missing_weight_file_is_named(default_run, tmp_path):
    run = tmp_path / "moved_run"
    shutil.copytree(default_run["run"], run, ignore=shutil.ignore_patterns("dataset", "logs", "images"))
    cfg = json.loads((run / "config.json").read_text())
    cfg["id_encoder"]["weights"] = str(tmp_path / "vggface2_resnet50.h5")
    (run / "config.json").write_text(json.dumps(cfg))
    proc = run_script_here("scripts/combine_grid.py", "--run", run, "--id_seeds", 0, "--attr_seeds", 1,
                           "--out", tmp_path / "g.png")
    assert proc.returncode == 1 and "vggface2_resnet50.h5" in proc.stderr and "Traceback" not in proc.stderr


def test_generate_default_and_no_silent_overwrite(tmp_path):
    out = tmp_path / "gen"
    proc = run_script_here("scripts/generate.py", "--seeds", "0-2", "--outdir", out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == ["seed0000.png", "seed0001.png", "seed0002.png"]
    assert image_files.load_image(out / "seed0001.png").shape == (32, 32, 3)
    again = run_script_here("scripts/generate.py", "--seeds", "5", "--outdir", out)
    assert again.returncode == 1 and "not empty" in again.stderr and "Traceback" not in again.stderr
