"""face-api's FaceLandmark68Net ported to Keras (idd_tf/method/landmark_nets.py) against the original.

The default tests compare with the original's outputs stored in stylegan_weights/landmarks_face_api_68
/golden.npz (made under node / TensorFlow.js by tools/convert_landmark_net.py); the slow test runs
the original again under node when node and the npm packages are there.
"""

import dataclasses
import importlib.util
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from idd_tf.method import encoders
from idd_tf.method import landmark_nets as ln
from idd_tf.method.config import LandmarkConfig, TrainConfig
from idd_tf.utils.configs import ConfigError

ROOT = Path(__file__).resolve().parents[2]
TOL = 1e-4   # normalised units (fractions of the input side)


@pytest.fixture(scope="module")
def net():
    return ln.face_api_68_net()


@pytest.fixture(scope="module")
def golden():
    return ln.read_golden()


def _max_err(model, golden):
    return float(np.abs(model(ln.uint8_to_raw(golden["inputs"]), training=False).numpy() - golden["landmarks"]).max())


def test_shipped_files_describe_the_port():
    cfg = json.loads((ln.WEIGHTS_DIR / ln.CONFIG_NAME).read_text())
    assert cfg["arch"] == "face_api_68" and cfg["input_size"] == 112
    assert cfg["source"]["npm"] == "@vladmandic/face-api" and cfg["source"]["version"]
    assert cfg["parity"]["max_abs"] <= TOL
    assert "MIT" in (ln.WEIGHTS_DIR / "LICENSE").read_text()
    card = (ln.WEIGHTS_DIR / "MODEL_CARD.md").read_text()
    assert cfg["source"]["version"] in card and "tools/convert_landmark_net.py" in card
    assert sum(p.stat().st_size for p in ln.WEIGHTS_DIR.iterdir()) < 3 * 2**20


def test_parity_with_the_original_outputs(net, golden):
    assert golden["inputs"].shape == (len(golden["labels"]), 112, 112, 3) and golden["inputs"].dtype == np.uint8
    assert golden["landmarks"].shape == (len(golden["labels"]), 68, 2)
    assert _max_err(net, golden) <= TOL
    # real faces: the points are where a face is (sanity of the golden set itself)
    face = golden["landmarks"][0]
    assert 0.0 < face.min() and face.max() < 1.05 and face[36, 0] < face[45, 0] and face[27, 1] < face[57, 1]


def test_one_perturbed_weight_breaks_parity(net, golden):
    layer = net.get_layer("dense2_conv1")
    saved = layer.get_weights()
    try:
        changed = [w.copy() for w in saved]
        changed[0][1, 1, 5, 0] += 0.05        # one depthwise tap of one channel
        layer.set_weights(changed)
        assert _max_err(net, golden) > TOL
    finally:
        layer.set_weights(saved)
    assert _max_err(net, golden) <= TOL


def _reference_forward(net, x_raw, symmetric_stride2_padding=False):
    """The face-api forward in plain TF ops from the Keras layers' weights; TF 'same' padding, or
    (to break it) symmetric 1-pixel padding on the stride-2 convolutions."""
    x = ((x_raw + 1.0) * 127.5 - tf.constant(ln.FACE_API_MEAN_RGB)) / 255.0

    def conv(t, block, i, stride):
        w = net.get_layer(f"dense{block}_conv{i}").get_weights()
        pad = "SAME"
        if stride == 2 and symmetric_stride2_padding:
            t, pad = tf.pad(t, [[0, 0], [1, 1], [1, 1], [0, 0]]), "VALID"
        if len(w) == 2:
            return tf.nn.conv2d(t, w[0], stride, pad) + w[1]
        return tf.nn.separable_conv2d(t, w[0], w[1], [1, stride, stride, 1], pad) + w[2]

    for block in range(4):
        out1 = tf.nn.relu(conv(x, block, 0, 2))
        out2 = conv(out1, block, 1, 1)
        out3 = conv(tf.nn.relu(out1 + out2), block, 2, 1)
        out4 = conv(tf.nn.relu(out1 + out2 + out3), block, 3, 1)
        x = tf.nn.relu(out1 + out2 + out3 + out4)
    x = tf.nn.avg_pool2d(x, 7, 2, "VALID")
    w, b = net.get_layer("fc").get_weights()
    return tf.reshape(tf.reshape(x, [-1, 256]) @ w + b, [-1, 68, 2]).numpy()


def test_the_padding_rule_matters(net, golden):
    x = ln.uint8_to_raw(golden["inputs"])
    assert np.abs(_reference_forward(net, x) - golden["landmarks"]).max() <= TOL
    assert np.abs(_reference_forward(net, x, symmetric_stride2_padding=True) - golden["landmarks"]).max() > 10 * TOL


def test_gradients_reach_the_pixels(net, golden):
    x = tf.Variable(ln.uint8_to_raw(golden["inputs"][:2]))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(net(x) ** 2)
    g = tape.gradient(loss, x).numpy()
    assert np.isfinite(g).all() and (np.abs(g) > 0).mean() > 0.5
    assert not net.trainable_variables


def test_a_batch_equals_single_images(net, golden):
    x = ln.uint8_to_raw(golden["inputs"][:5])
    batch = net(x).numpy()
    singles = np.concatenate([net(x[i:i + 1]).numpy() for i in range(len(x))])
    np.testing.assert_allclose(batch, singles, atol=1e-5)


def test_landmark_encoder_with_the_face_api_arch(golden):
    enc = encoders.LandmarkEncoder(LandmarkConfig(arch="face_api_68"))
    out = enc(ln.uint8_to_raw(golden["inputs"])).numpy()
    assert np.abs(out - golden["landmarks"]).max() <= TOL          # 112 px in: no resize
    big = tf.image.resize(ln.uint8_to_raw(golden["inputs"][:3]), [256, 256]).numpy()
    out_big = enc(big).numpy()
    assert out_big.shape == (3, 68, 2) and np.abs(out_big - golden["landmarks"][:3]).max() < 0.02
    assert not enc.trainable_variables
    explicit = encoders.LandmarkEncoder(LandmarkConfig(arch="face_api_68", weights=str(ln.DEFAULT_WEIGHTS)))
    np.testing.assert_array_equal(explicit(ln.uint8_to_raw(golden["inputs"][:2])).numpy(), out[:2])


def test_arch_rule_and_the_default_stays_cnn(tmp_path):
    from idd_tf.method.presets import TRAIN_PRESETS
    assert LandmarkConfig().arch == "cnn"
    with pytest.raises(ConfigError, match="landmarks.arch"):
        TrainConfig(landmarks=LandmarkConfig(arch="mediapipe"))
    for name, cfg in TRAIN_PRESETS.items():   # every real preset's E_lnd is this net, on its measured box
        real = name.startswith("ffhq")
        assert cfg.landmarks.arch == ("face_api_68" if real else "cnn"), name
        assert cfg.landmarks.face_box == ((0.16, 0.28, 0.84, 0.96) if real else None), name
    # a CNN weight file is refused by the face-api arch (the config json beside it says why)
    cnn = encoders.landmark_net(32, 8)
    cnn.save_weights(tmp_path / "face_api_68.weights.h5")
    (tmp_path / "face_api_68.json").write_text(json.dumps({"arch": "cnn", "input_size": 32}))
    with pytest.raises(ValueError, match="not 'face_api_68'"):
        encoders.LandmarkEncoder(dataclasses.replace(LandmarkConfig(), arch="face_api_68",
                                                     weights=str(tmp_path / "face_api_68.weights.h5")))
    with pytest.raises(FileNotFoundError):
        ln.face_api_68_net(tmp_path / "none.weights.h5")


def _tool():
    spec = importlib.util.spec_from_file_location("convert_landmark_net", ROOT / "tools" / "convert_landmark_net.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_the_original_under_node_agrees(net, golden, tmp_path):
    """Runs face-api under node / tfjs-cpu on the stored inputs. The npm folder: $IDD_FACE_API_NODE_DIR
    or ~/.cache/idd_tf/face_api_node (npm-installed there if missing; skipped without node / npm /
    the registry)."""
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("node / npm not installed")
    tool = _tool()
    node_dir = Path(os.environ.get("IDD_FACE_API_NODE_DIR", Path.home() / ".cache" / "idd_tf" / "face_api_node"))
    if not tool.node_ready(node_dir):
        try:
            tool.npm_install(node_dir)
        except (subprocess.CalledProcessError, OSError) as e:
            pytest.skip(f"the npm packages could not be installed: {e}")
    model_dir = node_dir / "node_modules" / "@vladmandic" / "face-api" / "model"
    orig = tool.run_original(node_dir, model_dir, golden["inputs"], tmp_path)
    assert orig["info"]["backend"] == "cpu"
    ours = tool.dequantize(model_dir)
    flat = np.concatenate([ours[n].ravel() for n in orig["info"]["weights"]])
    np.testing.assert_array_equal(flat, orig["weights"])        # tfjs' dequantization, bit for bit
    assert np.abs(orig["landmarks"] - golden["landmarks"]).max() <= 1e-6
    assert np.abs(net(ln.uint8_to_raw(golden["inputs"])).numpy() - orig["landmarks"]).max() <= TOL


def test_the_face_box_option_crops_and_maps_back():
    """landmarks.face_box: the net sees the box only; its points come back in image coordinates."""
    from idd_tf.toy import world
    img = np.stack([world.example(i, resolution=128)["image"] for i in range(2)]).astype(np.float32) / 127.5 - 1
    box = (0.22, 0.30, 0.78, 0.86)   # the FFHQ face box: pixels 28..100 x 38..110 at 128 px
    boxed = encoders.LandmarkEncoder(LandmarkConfig(arch="face_api_68", face_box=box))(img).numpy()
    plain = encoders.LandmarkEncoder(LandmarkConfig(arch="face_api_68"))(img[:, 38:110, 28:100]).numpy()
    np.testing.assert_allclose(boxed, np.array([28, 38]) / 128 + plain * 72 / 128, atol=1e-6)
    with pytest.raises(ValueError, match="face_box"):
        LandmarkConfig(face_box=(0.8, 0.3, 0.2, 0.9))
