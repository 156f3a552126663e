"""scripts/evaluate.py on real photo folders (the paper's Table 1 / 2 protocol), and its library."""

import json

import numpy as np
import pytest
from conftest import run_script_here
from PIL import Image

from idd_tf.method import faces, metrics, protocol


@pytest.fixture(scope="module")
def real_faces(astronaut):
    """Three aligned 256 px real faces: two of one person, one of another."""
    import skimage.data
    camera = np.ascontiguousarray(np.repeat(skimage.data.camera()[..., None], 3, axis=-1))
    return {"astro": faces.align_face(astronaut, 256),
            "astro_flip": faces.align_face(np.ascontiguousarray(astronaut[:, ::-1]), 256),
            "camera": faces.align_face(camera, 256)}


def test_sample_pairs_are_seeded_distinct_and_never_self_pairs():
    a = protocol.sample_pairs(10, 7, 20, seed=3)
    assert a == protocol.sample_pairs(10, 7, 20, seed=3) != protocol.sample_pairs(10, 7, 20, seed=4)
    assert len(set(a)) == 20 and all(0 <= i < 10 and 0 <= j < 7 for i, j in a)
    same = protocol.sample_pairs(4, 4, 100, seed=0, same_folder=True)  # all 4 * 3 that exist
    assert sorted(same) == [(i, j) for i in range(4) for j in range(4) if i != j]
    with pytest.raises(ValueError, match="two"):
        protocol.sample_pairs(1, 1, 5, same_folder=True)


def test_evaluate_pairs_on_real_faces(real_faces, monkeypatch):
    calls = []
    face_info = metrics.face_info
    monkeypatch.setattr(metrics, "face_info", lambda img: calls.append(1) or face_info(img))
    imgs = real_faces
    pairs = [("astro", imgs["astro"], "camera", imgs["camera"]),
             ("astro", imgs["astro"], "astro_flip", imgs["astro_flip"]),
             ("camera", imgs["camera"], "astro", imgs["astro"])]
    # a "model" that returns I_id: identity is kept perfectly, reconstruction is exact
    keep_id = protocol.evaluate_pairs(lambda i, a: i.copy(), pairs, progress=False)
    assert keep_id["pairs"] == 3 and keep_id["counts"]["identity"] == 3
    assert keep_id["identity"] == pytest.approx(1.0, abs=1e-9)
    assert keep_id["expression"] > 0 and keep_id["pose"] >= 0
    assert keep_id["counts"]["rec_rmse"] == 2  # once per distinct identity image
    assert keep_id["rec_rmse"] == 0 and keep_id["rec_psnr"] == 100.0
    assert keep_id["rec_identity"] == pytest.approx(1.0, abs=1e-9)
    # inputs detected once each (3 images), plus each output (3 pairs + 2 reconstructions)
    assert len(calls) == 3 + 3 + 2
    # a "model" that returns I_attr: expression and pose are kept, identity is not; FID of the
    # outputs against a reference set. The plumbing only: a small random network stands in for
    # InceptionV3, whose 2048-d features cost ~30 s of eigenvalues per FID on 2 cores
    # (FIDFeatures' own InceptionV3: test_faces_metrics.py::test_fid, test_evaluate_script_on_real_folders)
    import keras
    fid = object.__new__(metrics.FIDFeatures)
    fid.net = keras.Sequential([keras.Input((metrics.FID_INPUT_SIZE, metrics.FID_INPUT_SIZE, 3)),
                                keras.layers.Conv2D(16, 8, strides=8), keras.layers.GlobalAveragePooling2D()])
    ref = protocol.fid_features(fid, [imgs["astro"], imgs["camera"], imgs["astro_flip"]])
    keep_attr = protocol.evaluate_pairs(lambda i, a: a.copy(), pairs, fid=fid, fid_reference=ref,
                                       progress=False)
    assert keep_attr["expression"] == 0 and keep_attr["pose"] == 0
    assert keep_attr["identity"] < keep_id["identity"] - 0.1
    assert keep_attr["fid_reference"] == "reference folder" and keep_attr["counts"]["fid_outputs"] == 3
    assert np.isfinite(keep_attr["fid"]) and keep_attr["fid"] >= -1e-6
    # faceless outputs: every pair skipped and counted, reconstruction RMSE still measured
    blank = protocol.evaluate_pairs(lambda i, a: np.full_like(i, 128), pairs, progress=False)
    assert blank["skipped_no_face"] == {"disentanglement": 3, "reconstruction": 2}
    assert blank["identity"] is None and blank["counts"]["rec_rmse"] == 2 and blank["rec_rmse"] > 0


def test_evaluate_script_on_real_folders(default_run, astronaut, tmp_path):
    import keras
    import skimage.data
    camera = np.repeat(skimage.data.camera()[..., None], 3, axis=-1)
    folders = {"ids": {"astronaut.png": astronaut, "astronaut_flip.png": astronaut[:, ::-1],
                       "blank.png": np.full((200, 200, 3), 128, np.uint8)},
               "attrs": {"camera.png": camera, "astronaut_rot.jpg": np.asarray(
                   Image.fromarray(astronaut).rotate(10, resample=Image.BILINEAR))},
               "real": {"astronaut.png": astronaut, "camera.png": camera,
                        "blank.png": np.full((100, 120, 3), 30, np.uint8)}}
    for folder, images in folders.items():
        (tmp_path / folder).mkdir()
        for name, img in images.items():
            Image.fromarray(np.ascontiguousarray(img)).save(tmp_path / folder / name)
    (tmp_path / "ids" / "broken.png").write_bytes(b"not an image at all")
    inception = tmp_path / "inception_random.weights.h5"  # stands in for the user's FID weights
    keras.applications.InceptionV3(include_top=False, weights=None, pooling="avg").save_weights(inception)
    out = tmp_path / "eval"
    proc = run_script_here("scripts/evaluate.py", "--run", default_run["run"], "--id_dir", tmp_path / "ids",
                           "--attr_dir", tmp_path / "attrs", "--align", "--num_pairs", 3, "--seed", 1,
                           "--real_dir", tmp_path / "real", "--fid_weights", inception, "--out", out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads((out / "metrics.json").read_text())
    assert r["mode"] == "folders" and r["align"] is True and r["pairs"] == 3 and r["seed"] == 1
    ids = r["inputs"]["id_dir"]
    assert ids["usable"] == 2 and ids["skipped"]["unreadable"] == ["broken.png"]
    assert ids["skipped"]["no_face"] == ["blank.png"]
    assert r["inputs"]["attr_dir"]["usable"] == 2
    real = r["inputs"]["real_dir"]
    assert real["usable"] == 2 and real["skipped"]["no_face"] == ["blank.png"]
    assert all(i.startswith("id:") and a.startswith("attr:") for i, a in r["pair_items"])
    used = {i.removeprefix("id:") for i, _ in r["pair_items"]}
    assert used <= {"astronaut.png", "astronaut_flip.png"}
    assert {a.removeprefix("attr:") for _, a in r["pair_items"]} <= {"camera.png", "astronaut_rot.jpg"}
    assert len({tuple(p) for p in r["pair_items"]}) == 3  # distinct pairs
    # reconstruction once per distinct identity image; disentanglement: counted or skipped
    assert r["counts"]["rec_rmse"] == len(used) and r["rec_rmse"] > 0
    assert r["counts"]["identity"] + r["skipped_no_face"]["disentanglement"] == 3
    assert r["fid_reference"] == "reference folder"
    md = (out / "metrics.md").read_text()
    assert "| reconstruction RMSE |" in md and "1 unreadable" in md and "1 no face" in md
    # the real folder is FID's reference set only: without FID weights it is an error, not ignored
    proc = run_script_here("scripts/evaluate.py", "--run", default_run["run"], "--id_dir", tmp_path / "ids",
                           "--real_dir", tmp_path / "real", "--out", tmp_path / "eval2")
    assert proc.returncode == 1 and "--fid_weights" in proc.stderr and "Traceback" not in proc.stderr
