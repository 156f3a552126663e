"""Alignment, detection and the paper's metrics on real photos shipped by scikit-image."""

import numpy as np
import pytest
from PIL import Image

from idd_tf.method import faces, metrics


@pytest.fixture(scope="module")
def aligned(astronaut):
    return faces.align_face(astronaut, 256)


@pytest.fixture(scope="module")
def cameraman():
    import skimage.data
    return np.ascontiguousarray(np.repeat(skimage.data.camera()[..., None], 3, axis=-1))


def test_detection(astronaut):
    found = faces.detect_faces(astronaut)
    assert len(found) == 1 and found[0]["confidence"] > 0.99
    l, t, r, b = found[0]["box"]
    lm = faces.dlib_landmarks(astronaut)
    eyes = lm[36:48].mean(0)
    assert l < eyes[0] < r and t < eyes[1] < b
    blank = np.full((200, 200, 3), 128, np.uint8)
    with pytest.raises(faces.NoFaceError):
        faces.largest_face(blank)
    with pytest.raises(faces.NoFaceError):
        faces.align_face(blank, 64)
    with pytest.raises(ValueError, match="uint8"):
        faces.detect_faces(blank.astype(np.float32))


def test_several_faces_choose_largest(astronaut, caplog):
    small = np.asarray(Image.fromarray(astronaut).resize((256, 256)))
    canvas = np.full((600, 900, 3), 200, np.uint8)
    canvas[:512, :512] = astronaut
    canvas[300:556, 620:876] = small
    found = faces.detect_faces(canvas)
    assert len(found) >= 2
    with caplog.at_level("WARNING"):
        box = faces.largest_face(canvas)
    assert box == found[0]["box"] and box[2] <= 512  # the full-size face, not the small copy
    assert "using the largest" in caplog.text


@pytest.mark.parametrize("size", [128, 256])
def test_alignment_puts_eyes_where_ffhq_does(astronaut, size):
    out = faces.align_face(astronaut, size)
    assert out.shape == (size, size, 3) and out.dtype == np.uint8
    lm = faces.dlib_landmarks(out) / size
    left, right = lm[36:42].mean(0), lm[42:48].mean(0)
    # FFHQ recipe: eye distance = 1/4 of the crop (when eyes dominate), centred, eyes ~0.475 down
    np.testing.assert_allclose(left, [0.375, 0.475], atol=0.02)
    np.testing.assert_allclose(right, [0.625, 0.475], atol=0.02)


def test_alignment_handles_faces_near_the_border(astronaut):
    shifted = astronaut[40:, 120:]  # face close to the top-left corner: the quad leaves the photo
    out = faces.align_face(shifted, 128)
    lm = faces.dlib_landmarks(out) / 128
    np.testing.assert_allclose(lm[36:42].mean(0), [0.375, 0.475], atol=0.03)


def test_identity_metric(aligned, astronaut, cameraman):
    assert metrics.identity_similarity(aligned, aligned) == pytest.approx(1.0, abs=1e-9)
    gray = np.repeat(astronaut.mean(-1, keepdims=True).astype(np.uint8), 3, -1)
    same_person = metrics.identity_similarity(astronaut, gray)
    other_person = metrics.identity_similarity(astronaut, cameraman)
    assert 0.95 < same_person < 1.0
    assert other_person < same_person - 0.1


def test_expression_and_pose_metrics(aligned):
    assert metrics.expression_distance(aligned, aligned) == 0.0
    assert metrics.pose_distance(aligned, aligned) == 0.0
    rot = np.asarray(Image.fromarray(aligned).rotate(15, resample=Image.BILINEAR))
    assert metrics.pose_distance(aligned, rot) == pytest.approx(15, abs=4)  # mostly roll
    roll_a, roll_r = metrics.head_pose(aligned)[2], metrics.head_pose(rot)[2]
    assert abs(abs(roll_r - roll_a) - 15) < 4
    assert metrics.expression_distance(aligned, rot) > 0.02
    flip = np.ascontiguousarray(aligned[:, ::-1])
    assert metrics.expression_distance(aligned, flip) > 0.0


def test_reconstruction_metrics(aligned):
    assert metrics.rmse(aligned, aligned) == 0 and metrics.psnr(aligned, aligned) == float("inf")
    noisy = np.clip(aligned + np.random.RandomState(0).normal(0, 5, aligned.shape), 0, 255).astype(np.uint8)
    noisier = np.clip(aligned + np.random.RandomState(0).normal(0, 20, aligned.shape), 0, 255).astype(np.uint8)
    assert 0 < metrics.rmse(aligned, noisy) < metrics.rmse(aligned, noisier)
    assert metrics.psnr(aligned, noisy) > metrics.psnr(aligned, noisier) > 10


def test_fid(aligned, astronaut, tmp_path):
    rng = np.random.RandomState(0)
    a = rng.randn(300, 6)
    assert abs(metrics.frechet_distance(a, a)) < 1e-6
    assert metrics.frechet_distance(a, a + 0.5) == pytest.approx(6 * 0.25, rel=1e-6)
    assert metrics.frechet_distance(a, rng.randn(300, 6) * 2) > metrics.frechet_distance(a, rng.randn(300, 6))

    feats = metrics.FIDFeatures(None)(  # random InceptionV3: exercises cropping + features
        [astronaut, np.ascontiguousarray(astronaut[:, ::-1])])
    assert feats.shape == (2, 2048) and np.isfinite(feats).all()


def test_arcface_alignment_and_user_network(astronaut, cameraman, tmp_path):
    import keras

    from idd_tf.method.metrics import ARCFACE_TEMPLATE
    crop = metrics.ArcFace.align(astronaut)
    assert crop.shape == (112, 112, 3)
    lm = faces.dlib_landmarks(np.asarray(Image.fromarray(crop).resize((224, 224)))) / 2
    np.testing.assert_allclose(lm[36:42].mean(0), ARCFACE_TEMPLATE[0], atol=4)  # eyes on the template
    np.testing.assert_allclose(lm[42:48].mean(0), ARCFACE_TEMPLATE[1], atol=4)
    # a user network in the ArcFace contract, saved the two supported ways
    keras.utils.set_random_seed(0)
    inp = keras.Input((112, 112, 3))
    x = keras.layers.Conv2D(8, 5, strides=4, activation="relu")(inp)
    net = keras.Model(inp, keras.layers.Dense(16)(keras.layers.Flatten()(x)))
    net.save(tmp_path / "arcface.keras")
    import tensorflow as tf
    tf.saved_model.save(net, str(tmp_path / "arcface_sm"))
    for w in (tmp_path / "arcface.keras", tmp_path / "arcface_sm"):
        arc = metrics.ArcFace(w)
        assert arc.similarity(astronaut, astronaut) == pytest.approx(1.0, abs=1e-6)
        assert arc.similarity(astronaut, cameraman) < 0.999
    with pytest.raises(FileNotFoundError, match="ArcFace network not found"):
        metrics.ArcFace(tmp_path / "none.onnx")


def test_single_detection_path_equals_image_level_metrics(aligned, cameraman):
    """evaluate.py detects each image once (metrics.face_info) and derives every metric from it."""
    rot = np.asarray(Image.fromarray(aligned).rotate(10, resample=Image.BILINEAR))
    fa, fr, fc = (metrics.face_info(x) for x in (aligned, rot, cameraman))
    assert fa["landmarks"].shape == (68, 2) and fa["descriptor"].shape == (128,)
    assert metrics.cosine(fa["descriptor"], fc["descriptor"]) == pytest.approx(
        metrics.identity_similarity(aligned, cameraman), abs=1e-9)
    assert metrics.landmark_distance(fa["landmarks"], fr["landmarks"], 256) == pytest.approx(
        metrics.expression_distance(aligned, rot), abs=1e-9)
    pose = np.linalg.norm(metrics.head_pose(aligned, fa["landmarks"]) - metrics.head_pose(rot, fr["landmarks"]))
    assert pose == pytest.approx(metrics.pose_distance(aligned, rot), abs=1e-9) and pose > 5
    with pytest.raises(faces.NoFaceError):
        metrics.face_info(np.full((64, 64, 3), 128, np.uint8))


@pytest.mark.parametrize("n_a,n_b,d", [(300, 200, 6), (20, 30, 64), (40, 25, 64)])
def test_frechet_distance_equals_the_textbook_formula(n_a, n_b, d):
    """Both routes (few samples: the Gram nuclear norm; many: two eigh) give the textbook
    |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^1/2) computed with a general matrix square root."""
    import scipy.linalg
    rng = np.random.RandomState(n_a + d)
    a = rng.randn(n_a, d) @ rng.randn(d, d) * 0.3
    b = rng.randn(n_b, d) * 1.5 + 0.2
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    ref = (np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(s_a) + np.trace(s_b)
           - 2 * np.trace(scipy.linalg.sqrtm(s_a @ s_b).real))
    assert metrics.frechet_distance(a, b) == pytest.approx(ref, rel=1e-6, abs=1e-6)


def test_several_faces_warning_names_the_image(tmp_path, caplog):
    """Two faces in one photo: the largest is aligned, and the warning names the file."""
    import logging

    from PIL import Image
    from skimage import data as skdata

    from idd_tf.method import data as method_data
    face = skdata.astronaut()[:300, 80:380]
    small = np.asarray(Image.fromarray(face).resize((200, 200)))
    photo = np.full((300, 520, 3), 128, np.uint8)
    photo[:, :300] = face
    photo[50:250, 310:510] = small
    path = tmp_path / "two people.png"
    Image.fromarray(photo).save(path)
    with caplog.at_level(logging.WARNING):
        out = method_data.prepare_face(path, 64, align=True)
    assert out.shape == (64, 64, 3)
    assert any("2 faces found; using the largest" in r.getMessage() and str(path) in r.getMessage()
               for r in caplog.records), [r.getMessage() for r in caplog.records]


def test_fid_folder_features_skip_and_name_what_has_no_face(astronaut, tmp_path):
    """FID reference features of a photo folder: faces cropped from any size, a file that is not
    an image and a faceless image skipped, counted and named with their reasons."""
    from idd_tf.method import protocol
    Image.fromarray(astronaut).save(tmp_path / "astronaut.jpg")
    Image.fromarray(np.full((120, 90, 3), 128, np.uint8)).save(tmp_path / "grey.png")
    (tmp_path / "notes.txt").write_text("not an image")
    seen = []

    def fid(crops, crop):
        seen.extend(c.shape for c in crops)
        return np.ones((len(crops), 2048))

    r = protocol.fid_folder_features(fid, tmp_path)
    assert r["count"] == 1 and r["features"].shape == (1, 2048)
    assert seen and seen[0][0] < astronaut.shape[0]    # a face crop, not the whole photo
    assert r["skipped"] == {"unreadable": ["notes.txt"], "no_face": ["grey.png"]}
    assert r["reasons"] == {"notes.txt": "not an image", "grey.png": "no face found"}
