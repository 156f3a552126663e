"""dlib's face-recognition ResNet in Keras (idd_tf.method.dlib_resnet) against dlib's C++ on the
same 150x150 chips: a real photo from scikit-image, toy-world renders and random images; the
float64 twin, gradients, batching, the file reader's refusals, the identity metric and the
`dlib_resnet` E_id. Parity checks are shown to fail for one changed weight or padding rule."""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from idd_tf.method import dlib_resnet as dr
from idd_tf.method import faces, metrics

TOL = 1e-4


@pytest.fixture(scope="module")
def cpp():
    import dlib
    return dlib.face_recognition_model_v1(dr.default_weights())


@pytest.fixture(scope="module")
def dat():
    return dr.read_dat()


@pytest.fixture(scope="module")
def model():
    return dr._cached_model(dr.default_weights())[0]


@pytest.fixture(scope="module")
def model64(dat):
    return dr.build_model(dat, dtype="float64")


@pytest.fixture(scope="module")
def astronaut_shape(astronaut):
    import dlib
    box = faces.largest_face(astronaut)
    return faces.dlib_models()["predictor"](astronaut, dlib.rectangle(*map(int, box)))


@pytest.fixture(scope="module")
def chips(astronaut, astronaut_shape):
    """[7, 150, 150, 3] uint8: dlib's chip of the astronaut, 3 toy renders, 3 random images."""
    from idd_tf.toy import world
    out = [dr.face_chip(astronaut, astronaut_shape)]
    for i in range(3):   # the toy renderer makes powers of two: 256 resized to the chip size
        img = world.example(i, resolution=256)["image"]
        out.append(np.asarray(Image.fromarray(img).resize((dr.CHIP_SIZE,) * 2, Image.BILINEAR)))
    rng = np.random.RandomState(0)
    out.append(rng.randint(0, 256, (150, 150, 3)).astype(np.uint8))                        # white noise
    smooth = np.asarray(Image.fromarray(rng.randint(0, 256, (10, 10, 3)).astype(np.uint8)).resize((150, 150)))
    out.append(smooth)                                                                     # smooth noise
    out.append(np.where(rng.rand(150, 150, 1) < 0.5, 0, 255).astype(np.uint8).repeat(3, -1))  # extremes
    return np.stack(out)


@pytest.fixture(scope="module")
def reference(cpp, chips):
    return np.stack([np.asarray(cpp.compute_face_descriptor(np.ascontiguousarray(c))) for c in chips])


def _max_diff(model_or_fn, chips, reference):
    return float(np.abs(np.asarray(model_or_fn(chips.astype(np.float32)), np.float64) - reference).max())


# ----------------------------------------------------------------------------------------------
# The file.

def test_reader_finds_dlibs_network(dat):
    kinds = [layer["kind"] for layer in dat.layers]
    assert kinds.count("con") == 29 and kinds.count("affine") == 29 and kinds.count("add_prev") == 14
    assert kinds[:4] == ["con", "affine", "relu", "max_pool"] and kinds[-2:] == ["avg_pool", "fc"]
    assert dat.num_weights == 5_614_592                # 29 convs + biases, 29 affines, fc 256 -> 128
    np.testing.assert_allclose(dat.mean_rgb, (122.782, 117.001, 104.298), atol=1e-4)
    assert dat.loss == pytest.approx({"margin": 0.04, "dist_thresh": 0.6})
    con = [layer for layer in dat.layers if layer["kind"] == "con"]
    assert (con[0]["filters"].shape, con[0]["strides"], con[0]["padding"]) == ((32, 3, 7, 7), 2, 0)
    assert [(c["strides"], c["padding"]) for c in con[7:9]] == [(2, 0), (1, 1)]   # first down block
    assert dat.layers[-1]["weights"].shape == (256, 128)


def test_serialization_primitives():
    s = dr._Stream(bytes([0x01, 0x7F, 0x82, 0x01, 0x01, 0x02, 0x2C, 0x01]) + b"1", "x")
    assert (s.int(), s.int(), s.int()) == (127, -257, 300)
    assert s.bool() is True
    # float_details: mantissa then exponent; 0.04 as dlib writes it (loss_metric_2's margin)
    s = dr._Stream(b"\x03\n\xd7\xa3\x81\x1c", "x")
    assert s.float() == pytest.approx(0.04, abs=1e-9)
    with pytest.raises(dr.DlibModelError, match="control byte"):
        dr._Stream(b"\x00", "x").int()
    with pytest.raises(dr.DlibModelError, match="ends early"):
        dr._Stream(b"\x02\x01", "x").int()


def test_reader_refuses_other_files(tmp_path):
    from idd_tf.utils.errors import UserError
    models = Path(dr.default_weights()).parent
    # another dlib DNN (the MMOD face detector: loss_mmod_) and a non-DNN dlib file
    with pytest.raises(UserError, match="not dlib's face-recognition ResNet.*loss_metric_"):
        dr.read_dat(models / "mmod_human_face_detector.dat")
    with pytest.raises(UserError, match="not dlib's face-recognition ResNet"):
        dr.read_dat(models / "shape_predictor_5_face_landmarks.dat")
    data = Path(dr.default_weights()).read_bytes()
    (tmp_path / "cut.dat").write_bytes(data[:len(data) // 2])
    with pytest.raises(dr.DlibModelError, match="ends early"):
        dr.read_dat(tmp_path / "cut.dat")
    (tmp_path / "long.dat").write_bytes(data + b"\x00")
    with pytest.raises(dr.DlibModelError, match="1 bytes left"):
        dr.read_dat(tmp_path / "long.dat")
    (tmp_path / "text.dat").write_bytes(b"hello world, not a network")
    with pytest.raises(dr.DlibModelError):
        dr.read_dat(tmp_path / "text.dat")
    with pytest.raises(FileNotFoundError):
        dr.read_dat(tmp_path / "missing.dat")


# ----------------------------------------------------------------------------------------------
# Parity with dlib's C++.

def test_parity_with_dlib_cpp(model, chips, reference, astronaut, astronaut_shape, cpp):
    diff = _max_diff(model, chips, reference)
    print(f"max |keras - dlib| over {len(chips)} chips: {diff:.2e}")
    assert diff <= TOL
    # compute_face_descriptor(image, shape) is compute_face_descriptor(its chip): the same numbers
    full = np.asarray(cpp.compute_face_descriptor(astronaut, astronaut_shape))
    np.testing.assert_array_equal(full, reference[0])
    # not L2-normalised by dlib (nor here)
    assert abs(np.linalg.norm(reference[0]) - 1) > 0.05
    np.testing.assert_allclose(dr.descriptors(chips[0]), reference[0], atol=TOL)


def _perturbed(i_target, change):
    def perturb(i, layer):
        return change(layer) if i == i_target else layer
    return perturb


def test_parity_check_fails_for_a_changed_weight_or_padding(dat, chips, reference):
    con_index = [i for i, layer in enumerate(dat.layers) if layer["kind"] == "con"]

    def one_weight(layer):            # one of 295k weights, by a tenth of the layer's largest
        f = layer["filters"].copy()
        f[3, 2, 1, 1] += 0.1 * np.abs(f).max()
        return {**layer, "filters": f}

    def padding_0(layer):                             # a stride-1 conv without dlib's padding of 1
        return {**layer, "padding": 0}

    for idx, change, factor in ((con_index[12], one_weight, 1), (con_index[20], padding_0, 100)):
        diff = _max_diff(dr.build_model(dat, perturb=_perturbed(idx, change)), chips, reference)
        print(f"{change.__name__}: max |keras - dlib| {diff:.2e}")
        assert diff > factor * TOL, (change.__name__, diff)


def test_parity_check_fails_for_another_add_prev_rule(dat, chips, reference, monkeypatch):
    """add_prev zero-extends at the END (bottom rows, right columns): dlib's tt::add. Padding the
    smaller tensor on the other side (top / left) instead must break parity (3x3 + 4x4 at 256 ch)."""
    dlib_input, affine, add_prev = dr._keras_layers()

    class TopLeft(add_prev):
        def call(self, inputs):
            a, b = inputs
            h, w, c = (max(a.shape[i], b.shape[i]) for i in (1, 2, 3))
            ext = [tf.pad(t, [[0, 0], [h - t.shape[1], 0], [w - t.shape[2], 0], [0, c - t.shape[3]]])
                   for t in (a, b)]
            return ext[0] + ext[1]

    monkeypatch.setattr(dr, "_keras_layers", lambda: (dlib_input, affine, TopLeft))
    assert _max_diff(dr.build_model(dat), chips, reference) > 100 * TOL


def test_float64_drift(model64, model, chips, reference):
    m64 = model64
    out64 = np.asarray(m64(chips.astype(np.float64)))
    out32 = np.asarray(model(chips.astype(np.float32)), np.float64)
    drift = np.abs(out32 - out64).max()
    print(f"float32 drift (max |f32 - f64|): {drift:.2e}; dlib vs f64: {np.abs(reference - out64).max():.2e}")
    assert drift <= 1e-5
    assert np.abs(reference - out64).max() <= TOL


def test_gradients_reach_the_pixels(model64, chips):
    m64 = model64
    rng = np.random.RandomState(1)
    w = tf.constant(np.linspace(-1, 1, 128))
    # off the kinks: flat image regions give exact max-pool ties, where no derivative exists
    x = tf.constant(chips[[0, 4]].astype(np.float64) + rng.rand(2, 150, 150, 3))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(m64(x) * w)
    g = tape.gradient(y, x).numpy()
    assert np.isfinite(g).all() and np.abs(g).reshape(2, -1).max(1).min() > 0   # both images
    # the white-noise chip: the directional derivative equals a central difference (float64; eps
    # small enough that no ReLU / max-pool kink is crossed: the difference is flat from 1e-4 to 1e-6)
    v, eps = rng.randn(1, 150, 150, 3), 1e-5
    fd = (tf.reduce_sum(m64(x[1:] + eps * v) * w) - tf.reduce_sum(m64(x[1:] - eps * v) * w)) / (2 * eps)
    assert float(np.sum(g[1:] * v)) == pytest.approx(float(fd), rel=1e-5)


def test_batch_equals_singles(model, chips):
    batch = np.asarray(model(chips.astype(np.float32)))
    singles = np.concatenate([np.asarray(model(c[None].astype(np.float32))) for c in chips[::3]])
    assert np.abs(batch[::3] - singles).max() <= 1e-5


# ----------------------------------------------------------------------------------------------
# The identity metric and the chip of aligned images.

def test_identity_metric_is_the_keras_network_with_cpp_numbers(astronaut, astronaut_shape, cpp):
    keras_desc = metrics.face_descriptor(astronaut)
    cpp_desc = np.asarray(cpp.compute_face_descriptor(astronaut, astronaut_shape))
    assert keras_desc.shape == (128,) and keras_desc.dtype == np.float64
    assert np.abs(keras_desc - cpp_desc).max() <= TOL


def test_fixed_chip_is_dlibs_bilinear_chip_of_the_box(astronaut):
    """chip_from_aligned samples where dlib's extract_image_chip does for the same rectangle
    (FFHQ_CHIP_BOX as a chip_details, angle 0; 256 px: no image pyramid)."""
    import dlib
    img = faces.align_face(astronaut, 256).astype(np.float32)
    size, box = 256, dr.FFHQ_CHIP_BOX
    s = [(box[2] - box[0]) * size / dr.CHIP_SIZE, (box[3] - box[1]) * size / dr.CHIP_SIZE]
    left, top = box[0] * size + 0.5 * s[0] - 0.5, box[1] * size + 0.5 * s[1] - 0.5
    rect = dlib.drectangle(left, top, left + 149 * s[0], top + 149 * s[1])
    ref = np.stack([dlib.extract_image_chip(np.ascontiguousarray(img[..., c]),
                                            dlib.chip_details(rect, dlib.chip_dims(150, 150)))
                    for c in range(3)], -1)
    ours = np.asarray(dr.chip_from_aligned(img[None]))[0]
    assert np.abs(ours - ref)[2:-2, 2:-2].max() < 1e-2       # inside: the same bilinear samples


def test_fixed_chip_is_close_to_dlibs_own_chip(astronaut, cpp):
    """On an FFHQ-aligned photo the fixed chip's descriptor is the same person as dlib's chip's
    (dlib's threshold: euclidean distance 0.6); measured over 106 photos: docs/dlib_resnet.md."""
    aligned = faces.align_face(astronaut, 256)
    box = dr.dlib_chip_box(aligned)
    np.testing.assert_allclose(box[:4], dr.FFHQ_CHIP_BOX, atol=0.03)
    fixed = dr.descriptors(np.asarray(dr.chip_from_aligned(aligned[None].astype(np.float32)))[0])
    own = metrics.face_descriptor(aligned)
    assert np.linalg.norm(fixed - own) < 0.4 and metrics.cosine(fixed, own) > 0.95


# ----------------------------------------------------------------------------------------------
# E_id.

def test_dlib_resnet_identity_encoder(astronaut, cpp):
    from idd_tf.method import registry
    from idd_tf.method.config import IdEncoderConfig
    from idd_tf.method.encoders import IdentityEncoder

    assert "dlib_resnet" in registry.id_encoder_names()
    enc = IdentityEncoder(IdEncoderConfig(arch="dlib_resnet"))      # no weights file needed
    assert enc.embedding_size == 128 and not enc.trainable_weights
    aligned = faces.align_face(astronaut, 256)                      # a generated-size image
    x = tf.constant(aligned[None].astype(np.float32) / 127.5 - 1.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        emb = enc(x)
        loss = tf.reduce_sum(emb[:, :8])
    assert np.abs(tape.gradient(loss, x).numpy()).max() > 0
    emb = np.asarray(emb)[0]
    assert abs(np.linalg.norm(emb) - 1) < 1e-5
    chip = np.asarray(dr.chip_from_aligned(aligned[None].astype(np.float32)))[0]
    ref = np.asarray(cpp.compute_face_descriptor(np.ascontiguousarray(np.round(chip).astype(np.uint8))))
    ref = ref / np.linalg.norm(ref)
    # the C++ path gets the chip rounded to uint8; the encoder keeps it in float
    print(f"E_id vs C++ on the rounded chip: max {np.abs(emb - ref).max():.2e}")
    assert np.abs(emb - ref).max() < 2e-3 and float(emb @ ref) > 0.9999
    ours_rounded = dr.descriptors(np.round(chip).astype(np.uint8))
    assert np.abs(ours_rounded / np.linalg.norm(ours_rounded) - ref).max() <= TOL


@pytest.mark.slow
def test_benchmark_runs_at_tiny_size():
    """benchmarks/bench_dlib_resnet.py --tiny (no timing asserted; the numbers are in its docstring)."""
    import json

    from conftest import run_script
    proc = run_script("benchmarks/bench_dlib_resnet.py", "--tiny")
    assert proc.returncode == 0, proc.stderr[-2000:]
    speed = json.loads(proc.stdout.strip().splitlines()[-1])["speed"]
    assert speed["keras_faces_per_s"] > 0 and speed["dlib_faces_per_s"] > 0
