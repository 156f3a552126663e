"""Encoders at random init, and loading Keras-2 .h5 files written in the real files' layer naming."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import ROOT
from keras2_h5 import write_keras2_weights

from idd_tf.method import encoders
from idd_tf.method.config import AttrEncoderConfig, IdEncoderConfig, LandmarkConfig

SMALL_ID = IdEncoderConfig(input_size=64, resize_to=72, width=0.125)
BN_WEIGHTS = ("gamma:0", "beta:0", "moving_mean:0", "moving_variance:0")


def vggface2_file_layers(model, rng, classifier=None):
    """(h5 name, weights) for every weighted layer, named as in the released files, with random
    values (BN variances positive)."""
    layers = []
    for layer in model.layers:
        if not layer.weights:
            continue
        h5_name = {"conv1_7x7_s2": "conv1/7x7_s2", "conv1_7x7_s2_bn": "conv1/7x7_s2/bn"}.get(
            layer.name, layer.name.replace("_bn", "/bn"))
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.weights[0].shape[0]
            vals = [rng.uniform(0.5, 1.5, c), rng.normal(0, 0.1, c), rng.normal(0, 0.1, c),
                    rng.uniform(0.5, 1.5, c)]
            names = BN_WEIGHTS
        else:
            vals = [rng.normal(0, 0.05, w.shape) for w in layer.weights]
            names = ("kernel:0", "bias:0")[:len(vals)]
        layers.append((h5_name, [(n, v.astype(np.float32)) for n, v in zip(names, vals)]))
    if classifier:
        layers.append((classifier, [("kernel:0", rng.normal(0, 1, (8, 3)).astype(np.float32))]))
    return layers


def test_resnet50_real_size_names_and_params():
    net = encoders.resnet50_vggface2(224, 1.0, projection=True)
    names = {l.name for l in net.layers}
    assert {"conv1_7x7_s2", "conv1_7x7_s2_bn", "conv2_1_1x1_proj", "conv5_3_1x1_increase_bn",
            "dim_proj"} <= names
    assert net.count_params() == 24_610_240  # ResNet-50 (23.56M) + 2048x512 dim_proj
    assert net.output.shape[-1] == 512
    notop = encoders.resnet50_vggface2(224, 1.0, projection=False)
    assert notop.output.shape[-1] == 2048


def test_identity_encoder_preprocessing_and_normalisation():
    enc = encoders.IdentityEncoder(SMALL_ID)
    red = np.zeros((1, 72, 72, 3), np.float32) - 1.0
    red[..., 0] = 1.0
    pre = enc.preprocess(red).numpy()
    assert pre.shape == (1, 64, 64, 3)
    np.testing.assert_allclose(pre[0, 10, 10], [0 - 91.4953, 0 - 103.8827, 255 - 131.0912], rtol=1e-5)
    emb = enc(np.random.RandomState(0).uniform(-1, 1, (3, 40, 40, 3)).astype(np.float32)).numpy()
    assert emb.shape == (3, enc.embedding_size)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-5)
    assert not enc.trainable_variables


@pytest.mark.parametrize("projection, classifier", [(True, "classifier_low_dim"), (False, None)])
def test_load_vggface2_h5_by_name(tmp_path, projection, classifier):
    cfg = IdEncoderConfig(input_size=64, resize_to=64, width=0.125, projection=projection)
    src = encoders.IdentityEncoder(cfg)
    layers = vggface2_file_layers(src.backbone, np.random.RandomState(1), classifier)
    path = write_keras2_weights(tmp_path / "vggface2.h5", layers)
    loaded = encoders.IdentityEncoder(IdEncoderConfig(**{**cfg.__dict__, "weights": str(path)}))
    conv = loaded.backbone.get_layer("conv1_7x7_s2").weights[0].numpy()
    np.testing.assert_array_equal(conv, dict(layers[0][1])["kernel:0"])
    bn = loaded.backbone.get_layer("conv2_1_3x3_bn")
    np.testing.assert_array_equal(bn.weights[3].numpy(), dict(dict(layers)["conv2_1_3x3/bn"])["moving_variance:0"])
    x = np.random.RandomState(2).uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    assert not np.allclose(loaded(x), src(x))  # really different weights now


def test_vggface2_h5_errors(tmp_path):
    cfg = IdEncoderConfig(input_size=64, resize_to=64, width=0.125)
    layers = vggface2_file_layers(encoders.IdentityEncoder(cfg).backbone, np.random.RandomState(3))
    path = write_keras2_weights(tmp_path / "missing.h5", [l for l in layers if l[0] != "conv3_2_3x3"])
    with pytest.raises(ValueError, match=r"missing from the weight file: \['conv3_2_3x3'\]"):
        encoders.IdentityEncoder(IdEncoderConfig(**{**cfg.__dict__, "weights": str(path)}))
    weights = str(write_keras2_weights(tmp_path / "ok.h5", layers))
    wide = IdEncoderConfig(input_size=64, resize_to=64, width=0.25, weights=weights)
    with pytest.raises(ValueError, match="has shapes"):
        encoders.IdentityEncoder(wide)
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="not an HDF5"):
        encoders.IdentityEncoder(IdEncoderConfig(**{**cfg.__dict__, "weights": str(tmp_path / "junk.h5")}))
    with pytest.raises(FileNotFoundError):
        encoders.IdentityEncoder(IdEncoderConfig(**{**cfg.__dict__, "weights": str(tmp_path / "nope.h5")}))


def test_inception_v3_attribute_encoder_and_h5(tmp_path):
    enc = encoders.AttributeEncoder(AttrEncoderConfig(input_size=75))
    assert enc.embedding_size == 2048
    x = np.random.RandomState(0).uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    out = enc(x).numpy()
    assert out.shape == (2, 2048)
    assert enc.trainable_variables
    # ImageNet notop files are Keras-2 HDF5 in topological layer order; keras.applications reads them.
    rng = np.random.RandomState(4)
    layers = [(l.name, [(f"w{i}:0", rng.normal(0, 0.05, w.shape).astype(np.float32) if "variance" not in w.path
                         else rng.uniform(0.5, 1.5, w.shape).astype(np.float32))
                        for i, w in enumerate(l.weights)])
              for l in enc.backbone.layers if l.weights]
    path = write_keras2_weights(tmp_path / "inception_v3_notop.h5", layers)
    loaded = encoders.AttributeEncoder(AttrEncoderConfig(input_size=75, weights=str(path)))
    first = [l for l in loaded.backbone.layers if l.weights][0]
    np.testing.assert_array_equal(first.weights[0].numpy(), layers[0][1][0][1])
    with pytest.raises(FileNotFoundError):
        encoders.AttributeEncoder(AttrEncoderConfig(input_size=75, weights=str(tmp_path / "x.h5")))
    with pytest.raises(ValueError, match=">= 75"):
        encoders.AttributeEncoder(AttrEncoderConfig(input_size=64))


def test_small_attribute_encoder_flattens_a_4x4_map():
    """arch="small" (the toy world's E_attr): strided convs down to 4x4, flattened (the layout of
    the features is kept, unlike average pooling), one dense code."""
    cfg = AttrEncoderConfig(arch="small", input_size=32, small_widths=(8, 16, 16), small_code=24)
    enc = encoders.AttributeEncoder(cfg)
    assert enc.embedding_size == 24
    x = np.random.RandomState(0).uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)  # resized to 32
    assert enc(x).shape == (2, 24) and enc.trainable_variables
    flat = enc.backbone.get_layer("flatten")
    assert flat.input.shape[1:] == (4, 4, 16) and flat.output.shape[-1] == 4 * 4 * 16
    # the same pixels moved elsewhere give another code (a global average of local features
    # would see only the border effects of the move)
    blob = np.full((1, 32, 32, 3), -1, np.float32)
    blob[:, 4:12, 4:12] = 1
    moved = np.roll(blob, (16, 16), axis=(1, 2))
    a, b = enc(blob).numpy(), enc(moved).numpy()
    assert np.abs(a - b).max() > 0.1 * np.abs(a).max()
    with pytest.raises(FileNotFoundError, match="x.weights.h5"):
        encoders.AttributeEncoder(AttrEncoderConfig(arch="small", weights="x.weights.h5"))


def test_small_attribute_encoder_loads_a_pretrained_backbone(tmp_path):
    """arch="small" with `weights`: a .weights.h5 of its backbone (e.g. the toy world's render
    autoencoder's encoder) is loaded; a backbone of other widths is refused naming the file."""
    cfg = AttrEncoderConfig(arch="small", input_size=32, small_widths=(8, 16, 16), small_code=24)
    path = tmp_path / "attr.weights.h5"
    keras.utils.set_random_seed(1)
    source = encoders.small_attr_backbone(32, (8, 16, 16), 24)
    source.save_weights(path)
    enc = encoders.AttributeEncoder(dataclasses.replace(cfg, weights=str(path)))
    x = np.random.RandomState(0).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(enc(x).numpy(), source(x).numpy(), rtol=1e-6, atol=1e-6)
    assert enc.trainable_variables   # fine-tuned by the method, as the paper's E_attr
    with pytest.raises(ValueError, match="attr.weights.h5 does not hold"):
        encoders.AttributeEncoder(dataclasses.replace(cfg, small_widths=(8, 16, 32), weights=str(path)))
    with pytest.raises(ValueError, match=".weights.h5 file"):
        encoders.AttributeEncoder(dataclasses.replace(cfg, weights=str(ROOT / "README.md")))


def test_landmark_encoder_forms(tmp_path):
    cfg = LandmarkConfig(input_size=32, base_filters=8)
    enc = encoders.LandmarkEncoder(cfg)
    x = np.random.RandomState(0).uniform(-1, 1, (2, 48, 48, 3)).astype(np.float32)
    out = enc(x).numpy()
    assert out.shape == (2, 68, 2) and out.min() >= 0 and out.max() <= 1
    assert not enc.trainable_variables
    enc.net.save_weights(tmp_path / "lnd.weights.h5")
    enc.net.save(tmp_path / "lnd.keras")
    for p in ("lnd.weights.h5", "lnd.keras"):
        other = encoders.LandmarkEncoder(LandmarkConfig(input_size=32, base_filters=8, weights=str(tmp_path / p)))
        np.testing.assert_allclose(other(x), out, rtol=1e-5, atol=1e-6)
    tf.saved_model.save(enc.net, str(tmp_path / "lnd_savedmodel"))
    sm = encoders.LandmarkEncoder(LandmarkConfig(input_size=32, weights=str(tmp_path / "lnd_savedmodel")))
    np.testing.assert_allclose(sm(x), out, rtol=1e-5, atol=1e-6)
    with pytest.raises(FileNotFoundError, match="landmark network not found"):
        encoders.LandmarkEncoder(LandmarkConfig(weights=str(tmp_path / "none.h5")))
