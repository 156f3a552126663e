"""Behaviour of the StyleGAN port's building blocks (independent of the golden fixture)."""

import numpy as np
import pytest
import tensorflow as tf

from idd_tf.stylegan import config as sg_config
from idd_tf.stylegan import networks as stylegan
from idd_tf.stylegan.config import StyleGANConfig

TINY = sg_config.STYLEGAN_PRESETS["tiny"]


@pytest.mark.parametrize("fused, size", [(False, 8), (False, 32), (True, 8), (True, 32)])
def test_upscale_conv_against_explicit_reference(fused, size):
    """Unfused = nearest upscale then 3x3 conv; NVIDIA's fused = the same with the kernel flipped
    (conv2d_transpose). Both are computed by the layer as transposed convs; check against the
    explicit ops."""
    x = tf.random.stateless_normal([2, size // 2, size // 2, 5], seed=[1, 2])
    layer = stylegan.EqualizedConv2D(7, 3, resample="up", fused=fused, name="a")
    layer.build(x.shape)
    layer.bias.assign(tf.random.normal([7]))
    w = layer.weight.numpy() * layer.coef
    if fused:
        w = w[::-1, ::-1]
    up = np.repeat(np.repeat(x.numpy(), 2, axis=1), 2, axis=2)
    ref = tf.nn.conv2d(up, w, 1, "SAME").numpy() + layer.bias.numpy()
    out = layer(x).numpy()
    assert out.shape == (2, size, size, 7)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(stylegan.upscale2d(x).numpy(), up)


def test_fused_conv_downscale_equals_conv_then_box_downscale():
    x = tf.random.stateless_normal([2, 8, 8, 5], seed=[3, 4])
    fused = stylegan.EqualizedConv2D(6, 3, resample="down", fused=True, name="a")
    plain = stylegan.EqualizedConv2D(6, 3, resample="down", fused=False, name="b")
    fused.build(x.shape)
    plain.build(x.shape)
    plain.weight.assign(fused.weight)
    a, b = fused(x).numpy(), plain(x).numpy()
    assert a.shape == (2, 4, 4, 6)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_equalized_lr_runtime_coefficient():
    layer = stylegan.EqualizedDense(4, gain=np.sqrt(2), lrmul=0.01)
    layer.build((None, 50))
    x = np.random.RandomState(0).randn(3, 50).astype(np.float32)
    w = layer.weight.numpy()
    layer.bias.assign(np.arange(4, dtype=np.float32))
    expect = x @ (w * np.sqrt(2) / np.sqrt(50) * 0.01) + np.arange(4) * 0.01
    np.testing.assert_allclose(layer(x).numpy(), expect, rtol=1e-5, atol=1e-6)


def test_minibatch_stddev_matches_numpy_definition():
    x = np.random.RandomState(0).randn(8, 4, 4, 6).astype(np.float32)
    y = stylegan.minibatch_stddev(x, group_size=4).numpy()
    assert y.shape == (8, 4, 4, 7)
    np.testing.assert_array_equal(y[..., :6], x)
    for m in range(2):  # groups are {m, m+2, m+4, m+6}
        grp = x[m::2]
        sd = np.sqrt(((grp - grp.mean(0)) ** 2).mean(0) + 1e-8).mean()
        np.testing.assert_allclose(y[m::2, ..., 6], sd, rtol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError):
        stylegan.minibatch_stddev(x[:6], group_size=4)  # 6 not divisible by 4, as in NVIDIA


def test_styled_layer_normalises_then_modulates():
    x = np.random.RandomState(1).randn(2, 6, 6, 4).astype(np.float32) * 3 + 2
    w = np.random.RandomState(2).randn(2, 8).astype(np.float32)
    layer = stylegan.StyledLayer(3, kind="conv", name="s")
    layer.build(x.shape, w.shape)
    layer.style.weight.assign(np.zeros((8, 6), np.float32))  # style = (scale 0, shift 0)
    y = layer(x, w).numpy()
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose((y ** 2).mean(axis=(1, 2)), 1, atol=1e-4)
    layer.style.bias.assign(np.array([1, 1, 1, 0.5, -1, 2], np.float32))  # scale+1 = 2, shift
    y2 = layer(x, w).numpy()
    np.testing.assert_allclose(y2, 2 * y + np.array([0.5, -1, 2]), rtol=1e-5, atol=1e-5)


def test_pixel_norm():
    z = stylegan.pixel_norm(np.array([[3.0, 4.0]], np.float32)).numpy()
    np.testing.assert_allclose(z, [[3 / np.sqrt(12.5), 4 / np.sqrt(12.5)]], rtol=1e-6)


@pytest.fixture(scope="module")
def tiny_g():
    G = stylegan.random_stylegan(TINY, seed=3)
    for layer in G.synthesis.styled_layers:  # NVIDIA initialises noise strengths to 0
        layer.noise_strength.assign(tf.fill(layer.noise_strength.shape, 0.5))
    return G


def test_noise_modes(tiny_g):
    G = tiny_g
    ws = G.truncate(G.mapping(tf.random.stateless_normal([2, G.latent_size], seed=[0, 1])), 0.7, 8)
    c1, c2 = G.synthesis(ws, noise_mode="const"), G.synthesis(ws, noise_mode="const")
    np.testing.assert_array_equal(c1, c2)
    r1, r2 = G.synthesis(ws, noise_mode="random"), G.synthesis(ws, noise_mode="random")
    assert not np.allclose(r1, r2)
    n = G.synthesis(ws, noise_mode="none")
    assert not np.allclose(n, c1)
    # Caller-supplied noise: the stored buffers reproduce 'const', zeros reproduce 'none'.
    given = G.synthesis(ws, noise=[b.numpy() for b in G.synthesis.noise_buffers])
    np.testing.assert_allclose(given, c1, rtol=1e-6, atol=1e-6)
    zeros = G.synthesis(ws, noise=[np.zeros_like(b.numpy()) for b in G.synthesis.noise_buffers])
    np.testing.assert_allclose(zeros, n, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="noise_mode"):
        G.synthesis(ws, noise_mode="fresh")
    with pytest.raises(ValueError, match="noise must hold"):
        G.synthesis(ws, noise=[0.0])


def test_w_input_forms_and_truncation(tiny_g):
    G = tiny_g
    z = tf.random.stateless_normal([3, G.latent_size], seed=[5, 6])
    w = G.get_latent(z)
    ws = G.mapping(z)
    assert tuple(w.shape) == (3, G.dlatent_size) and tuple(ws.shape) == (3, G.num_layers, G.dlatent_size)
    np.testing.assert_array_equal(ws[:, 4], w)
    np.testing.assert_allclose(G.synthesis(w), G.synthesis(ws), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(G.truncate(ws, 1.0, 8), ws, rtol=1e-6, atol=1e-6)
    t = G.truncate(ws, 0.5, 2).numpy()
    avg = G.dlatent_avg.numpy()
    np.testing.assert_allclose(t[:, :2], avg + 0.5 * (ws.numpy()[:, :2] - avg), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(t[:, 2:], ws.numpy()[:, 2:], rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="dlatents must be"):
        G.synthesis(np.zeros((1, G.num_layers + 1, G.dlatent_size), np.float32))


def test_mean_latent_estimates_dlatent_avg(tiny_g):
    est = tiny_g.mean_latent(1024, seed=9).numpy()
    avg = tiny_g.dlatent_avg.numpy()
    assert np.abs(est - avg).max() < 0.25 * np.abs(avg).max()


@pytest.mark.parametrize("resolution", [32, 64, 128, 256, 512, 1024])
def test_every_resolution_builds(resolution):
    c = StyleGANConfig(resolution=resolution, latent_size=16, dlatent_size=16, mapping_layers=2,
                       mapping_fmaps=16, fmap_base=2048, fmap_max=8)
    G = stylegan.StyleGAN(c)
    assert G.num_layers == 2 * int(np.log2(resolution)) - 2
    img = G.synthesis(np.zeros((1, G.num_layers, 16), np.float32))
    assert tuple(img.shape) == (1, resolution, resolution, 3)
    d = stylegan.Discriminator(c)(img)
    assert tuple(d.shape) == (1, 1)
    fused = [l.name for l in G.synthesis.styled_layers if l.fused]
    assert fused == [f"{r}x{r}_Conv0_up" for r in (128, 256, 512, 1024) if r <= resolution]


@pytest.mark.parametrize("bad", [dict(resolution=100), dict(resolution=2048), dict(label_size=3),
                                 dict(fmap_max=0), dict(fmap_base=256)])
def test_config_validation(bad):
    with pytest.raises(ValueError):
        StyleGANConfig(**bad)


def test_uint8_conversions():
    x = np.array([[[[-1.5, -1.0, 0.0]], [[0.999, 1.0, 2.0]]]], np.float32)
    u = stylegan.to_uint8(x).numpy()
    np.testing.assert_array_equal(u.ravel(), [0, 0, 128, 255, 255, 255])
    np.testing.assert_allclose(stylegan.from_uint8(u).numpy().ravel()[2], 0.5 / 127.5, rtol=1e-6)
    np.testing.assert_allclose(stylegan.to_unit_range(x).numpy().ravel(), [0, 0, .5, .9995, 1, 1], atol=1e-6)
