"""Numerical fidelity of the StyleGAN port beyond the 128 px golden fixture.

- float32 rounding at 1024x1024: the port against the same layers/network computed in float64
  (Keras dtype policy "float64", identical weights), and the instance-norm statistics against
  float64 NumPy. A one-stage float32 reduction over 1024x1024 (tf.nn.moments) fails these.
- `convert_stylegan.py --verify` (float32 vs float64, layer by layer) on the fixture pickle.
- Truncation: NVIDIA's G_style semantics for psi / cutoff None.
"""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import FIXTURE_PKL, run_script_here

from idd_tf.stylegan import config as sg_config
from idd_tf.stylegan import networks as stylegan
from idd_tf.stylegan import precision as stylegan_precision
from idd_tf.stylegan.config import StyleGANConfig

# A 1024 network with 4-8 channels: every layer of the real one, at a fraction of the cost.
TINY_1024 = StyleGANConfig(resolution=1024, latent_size=16, dlatent_size=16, mapping_layers=2,
                           mapping_fmaps=16, fmap_base=2048, fmap_max=8)
# float32 vs float64 of the same synthesis: ~5e-6 with accurate statistics, ~3e-4 without.
MAX_F32_ERROR = 2e-5


def _styled_layer(dtype, filters=4, in_shape=(None, 1024, 1024, 4), w_dim=8):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(dtype)
    try:
        layer = stylegan.StyledLayer(filters, kind="conv", name="s")
        layer.build(in_shape, (None, w_dim))
    finally:
        keras.config.set_dtype_policy(previous)
    return layer


def test_instance_norm_statistics_at_1024_match_float64_numpy():
    """Mean/variance over a 1024x1024 map whose mean (~100) dwarfs its spread (~1-3)."""
    rs = np.random.RandomState(0)
    x = (100.0 + rs.randn(1, 1, 1, 4) + rs.randn(2, 1024, 1024, 4) * [1, 2, 3, 0.5]).astype(np.float32)
    x64 = x.astype(np.float64)
    mean, var = stylegan.instance_moments(tf.constant(x))
    assert tuple(mean.shape) == tuple(var.shape) == (2, 1, 1, 4)
    m64, v64 = x64.mean(axis=(1, 2), keepdims=True), x64.var(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(mean.numpy(), m64, rtol=1e-6, atol=0)  # tf.nn.moments: ~2e-5
    np.testing.assert_allclose(var.numpy(), v64, rtol=1e-5, atol=0)   # tf.nn.moments: ~6e-5
    # Small maps: the same values as the textbook definition.
    s = rs.randn(3, 4, 4, 5).astype(np.float32)
    np.testing.assert_allclose(stylegan.instance_moments(s)[1].numpy(),
                               s.var(axis=(1, 2), keepdims=True), rtol=1e-5, atol=1e-6)


def test_styled_layer_float32_matches_float64_at_1024_with_large_offset():
    """conv -> bias (~50) -> lrelu -> instance norm -> style at 1024x1024, float32 vs float64."""
    l32, l64 = _styled_layer("float32"), _styled_layer("float64")
    rs = np.random.RandomState(1)
    for a, b in zip(l32.weights, l64.weights):
        assert a.path == b.path and b.dtype == "float64"
        v = rs.randn(*a.shape).astype(np.float32)
        if a.path == "s/bias":
            v += 50.0
        a.assign(v)
        b.assign(v.astype(np.float64))
    x = rs.randn(1, 1024, 1024, 4).astype(np.float32)
    w = rs.randn(1, 8).astype(np.float32)
    y32 = l32(x, w).numpy()
    y64 = l64(x.astype(np.float64), w.astype(np.float64)).numpy()
    assert y64.dtype == np.float64
    err = stylegan_precision.relative_error(y32, y64)
    assert err < 1e-5, err  # tf.nn.moments statistics: ~7e-3


@pytest.fixture(scope="module")
def tiny_1024():
    G = stylegan.random_stylegan(TINY_1024, seed=1)
    rs = np.random.RandomState(0)
    for layer in G.synthesis.styled_layers:  # trained networks have nonzero noise and biases
        layer.noise_strength.assign(rs.uniform(0.1, 0.5, layer.noise_strength.shape).astype(np.float32))
        layer.bias.assign(rs.randn(*layer.bias.shape).astype(np.float32))
    return G


def test_float64_twin_has_the_same_weights_in_float64(tiny_1024):
    G64 = stylegan_precision.float64_twin(tiny_1024)
    assert isinstance(G64, stylegan.StyleGAN) and G64.config == tiny_1024.config
    assert len(G64.weights) == len(tiny_1024.weights)
    for a, b in zip(tiny_1024.weights, G64.weights):
        assert a.path == b.path and b.dtype == "float64"
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored


def test_synthesis_1024_float32_within_tolerance_of_float64(tiny_1024):
    G = tiny_1024
    G64 = stylegan_precision.float64_twin(G)
    ws = G.truncate(G.mapping(np.random.RandomState(2).randn(1, G.latent_size).astype(np.float32)))
    img32 = G.synthesis(ws, noise_mode="const").numpy()
    img64 = G64.synthesis(tf.cast(ws, tf.float64), noise_mode="const").numpy()
    assert img32.shape == img64.shape == (1, 1024, 1024, 3) and img64.dtype == np.float64
    err = stylegan_precision.relative_error(img32, img64)
    assert err <= MAX_F32_ERROR, err


def test_layerwise_errors_on_fixture_network(official_networks, reference):
    G = official_networks["Gs"]
    z = reference["z"][:2]
    rep = stylegan_precision.layerwise_errors(G, z, 0.7, 8)
    names = [layer["name"] for layer in rep["layers"]]
    assert names[0] == "mapping/PixelNorm" and names[-1] == "image" and "dlatents" in names
    assert sum(n.startswith("synthesis/") for n in names) == G.num_layers
    assert rep["layers"][-1]["shape"] == [2, 128, 128, 3]
    # The step-by-step float32 chain is exactly what G computes end to end.
    np.testing.assert_array_equal(rep["images"]["float32"], G(z, truncation_psi=0.7, truncation_cutoff=8))
    assert 0 < rep["image_error"] < 1e-5 and 0 < rep["max_local_error"] < 2e-6
    # The float64 computation agrees with NVIDIA's float32 graph to its own tolerance.
    nvidia = np.transpose(reference["images_trunc_psi0p7_cut8"][:2], (0, 2, 3, 1))
    assert stylegan_precision.relative_error(rep["images"]["float64"], nvidia) < 2e-5
    json.dumps({k: v for k, v in rep.items() if k != "images"})
    picture, amplify = stylegan_precision.comparison_image(rep["images"]["float32"], rep["images"]["float64"])
    assert picture.shape == (256, 384, 3) and picture.dtype == np.uint8
    assert amplify >= 1e4 and np.abs(picture[:, 256:].astype(int) - 128).max() > 16


def test_convert_script_verify(tmp_path):
    out = tmp_path / "converted"
    proc = run_script_here("scripts/convert_stylegan.py", FIXTURE_PKL, "--out", out, "--verify",
                           "--verify_seeds", "0,1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "PASS" in proc.stdout and "synthesis/128x128_Conv1" in proc.stdout
    report = json.loads((out / "verify" / "layerwise_errors.json").read_text())
    assert report["passed"] and report["seeds"] == [0, 1] and report["network"] == "Gs"
    assert report["image_error"] < sg_config.VERIFY_TOLERANCE
    assert all(layer["accumulated"] < 1e-4 and layer["local"] < 1e-4 for layer in report["layers"])
    png = out / "verify" / report["png"]
    assert png.is_file() and f"x{report['amplify']:g}" in png.name
    # Verify-only mode (the converted directory): refuses to replace earlier outputs...
    vdir = out / "verify"
    refused = run_script_here("scripts/convert_stylegan.py", out, "--verify", "--verify_dir", vdir)
    assert refused.returncode != 0 and "--overwrite" in refused.stderr
    assert "Traceback" not in refused.stderr
    # ...unless --overwrite.
    forced = run_script_here("scripts/convert_stylegan.py", out, "--verify", "--verify_dir", vdir,
                             "--verify_seeds", "3", "--overwrite")
    assert forced.returncode == 0, forced.stderr[-3000:]
    assert json.loads((vdir / "layerwise_errors.json").read_text())["seeds"] == [3]


# ----------------------------------------------------------------------------------------------
# Truncation: NVIDIA's G_style (training/networks_stylegan.py, NVlabs/stylegan 1e0d5c7) truncates
# only `if truncation_psi is not None and truncation_cutoff is not None`, after setting psi == 1
# to None and cutoff <= 0 to None: either one None disables truncation, it never means "all".

@pytest.fixture(scope="module")
def tiny_g():
    return stylegan.random_stylegan(sg_config.STYLEGAN_PRESETS["tiny"], seed=3)


@pytest.mark.parametrize("psi, cutoff", [(0.5, None), (None, 8), (None, None), (1.0, 4),
                                         (0.5, 0), (0.5, -1)])
def test_truncation_disabled_like_g_style(tiny_g, psi, cutoff):
    G = tiny_g
    z = tf.random.stateless_normal([2, G.latent_size], seed=[7, 8])
    ws = G.mapping(z).numpy()
    assert not stylegan.truncation_enabled(psi, cutoff)
    np.testing.assert_array_equal(G.truncate(ws, psi, cutoff), ws)
    np.testing.assert_array_equal(G.truncate(ws[:, 0], psi, cutoff), ws)  # broadcast [B, D]
    plain = G.synthesis(ws).numpy()
    np.testing.assert_array_equal(G(z, truncation_psi=psi, truncation_cutoff=cutoff), plain)


def test_truncation_every_layer_needs_an_explicit_cutoff(tiny_g):
    G = tiny_g
    ws = G.mapping(tf.random.stateless_normal([2, G.latent_size], seed=[9, 10])).numpy()
    avg = G.dlatent_avg.numpy()
    assert stylegan.truncation_enabled(0.5, G.num_layers)
    t = G.truncate(ws, 0.5, G.num_layers).numpy()
    np.testing.assert_allclose(t, avg + 0.5 * (ws - avg), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(G.truncate(ws, 0.0, 100).numpy(), np.broadcast_to(avg, ws.shape),
                               rtol=1e-6, atol=1e-6)
    t3 = G.truncate(ws, 0.5, 3).numpy()
    np.testing.assert_allclose(t3[:, :3], t[:, :3], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(t3[:, 3:], ws[:, 3:], rtol=1e-6, atol=1e-6)
