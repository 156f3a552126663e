import numpy as np
import pytest
import tensorflow as tf

from idd_tf.method import losses, networks
from idd_tf.method.config import DiscriminatorConfig, LossWeights


def test_r1_equals_half_gamma_squared_weight_norm_for_linear_discriminator():
    d = networks.LatentDiscriminator(DiscriminatorConfig(hidden=()), 16)  # logit = a.w + b
    a = d.mlp[0].kernel.numpy()[:, 0]
    w = tf.random.stateless_normal([5, 16], seed=[0, 1])
    r1, logits = losses.r1_penalty(d, w, gamma=10.0)
    np.testing.assert_allclose(r1.numpy(), 10.0 / 2 * np.sum(a ** 2), rtol=1e-5)
    np.testing.assert_allclose(logits.numpy()[:, 0], w.numpy() @ a + d.mlp[0].bias.numpy()[0], rtol=1e-5)
    r1_graph, _ = tf.function(lambda x: losses.r1_penalty(d, x, 4.0))(w)
    np.testing.assert_allclose(r1_graph.numpy(), 2.0 * np.sum(a ** 2), rtol=1e-5)


def test_adversarial_losses():
    real = tf.constant([[2.0], [-1.0]])
    fake = tf.constant([[0.5], [-3.0]])
    sp = lambda x: np.log1p(np.exp(x))  # noqa: E731
    np.testing.assert_allclose(losses.generator_adv_loss(fake), np.mean(sp(-fake.numpy())), rtol=1e-6)
    np.testing.assert_allclose(losses.discriminator_loss(real, fake),
                               np.mean(sp(fake.numpy())) + np.mean(sp(-real.numpy())), rtol=1e-6)


def test_id_loss():
    a = tf.constant([[0.0, 1.0], [2.0, 2.0]])
    b = tf.constant([[1.0, 1.0], [2.0, 0.0]])
    np.testing.assert_allclose(losses.id_loss(a, b), 0.75)


def test_landmark_loss_is_the_official_mean_in_160px_units():
    rng = np.random.RandomState(0)
    lnd_a = rng.uniform(size=(2, 68, 2)).astype(np.float32)
    lnd_b = lnd_a.copy()
    lnd_b[:, :17] += 0.3  # the jawline does not count
    assert losses.landmark_loss(lnd_a, lnd_b, 160.0).numpy() == 0
    lnd_b = (lnd_a + rng.normal(0, 0.01, lnd_a.shape)).astype(np.float32)
    # official trainer.py: 0.001 * tf.reduce_mean(keras.losses.MSE(src, dst)), landmarks[:, 17:]
    # in the landmark net's 160-px units (MSE = mean over the last axis, the 2 coordinates)
    src, dst = lnd_a[:, 17:] * 160, lnd_b[:, 17:] * 160
    official = 0.001 * np.mean(np.mean((src - dst) ** 2, axis=-1))
    np.testing.assert_allclose(losses.landmark_loss(lnd_a, lnd_b, 160.0), official / 0.001, rtol=1e-5)
    w = LossWeights()
    got = w.lnd * losses.landmark_loss(lnd_a, lnd_b, w.lnd_scale, w.lnd_sum).numpy()
    np.testing.assert_allclose(got, official, rtol=1e-5)
    # the paper's squared L2 norm in output pixels (--set loss.lnd_sum=true --set loss.lnd_scale=256)
    paper = np.mean(np.sum(((lnd_a - lnd_b)[:, 17:] * 256) ** 2, axis=(1, 2)))
    np.testing.assert_allclose(losses.landmark_loss(lnd_a, lnd_b, 256, reduce_sum=True), paper, rtol=1e-5)
    np.testing.assert_allclose(paper / (official / 0.001), 102 * (256 / 160) ** 2, rtol=1e-4)  # 261x


def official_inverse_gaussian(size, sigma):
    """utils/general_utils.py inverse_gaussian_image of the official code (its numerics)."""
    kernel = 1
    for grid in np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32)):
        mean = (size - 1) / 2
        kernel = kernel * 1 / (sigma * np.sqrt(2 * np.pi)) * np.exp(-((grid - mean) / sigma) ** 2 / 2)
    kernel = kernel / np.sum(kernel)
    inv = np.max(kernel) + np.min(kernel) - kernel
    return inv / np.sum(inv)


@pytest.mark.parametrize("res", [32, 256, 1024])
def test_pixel_mask_is_the_official_inverse_gaussian(res):
    mask = losses.pixel_mask(res)
    assert mask.shape == (res, res) and mask.dtype == np.float32
    np.testing.assert_allclose(mask.sum(), 1.0, rtol=1e-5)
    np.testing.assert_allclose(mask, official_inverse_gaussian(res, int(80 * res / 256)), rtol=1e-4)
    c = res // 2
    assert mask[c, c] < mask[c, res // 4] < mask[c, 0] < mask[0, 0]  # the face centre counts least
    # sigma scales with R: the same profile at 256 and 1024 (centre / corner, mid-edge / corner)
    ref = losses.pixel_mask(256)
    for (y, x) in ((c, c), (c, 0)) if res >= 256 else ():
        np.testing.assert_allclose(mask[y, x] / mask[0, 0], ref[y * 256 // res, x * 256 // res] / ref[0, 0],
                                   rtol=0.02)
    uniform = losses.pixel_mask(res, "uniform")
    np.testing.assert_allclose(uniform, 1.0 / res ** 2)


def test_reconstruction_loss_is_the_official_formula():
    import keras
    rng = np.random.RandomState(1)
    a = rng.uniform(-1, 1, (3, 256, 256, 3)).astype(np.float32)
    b = np.clip(a + rng.normal(0, 0.2, a.shape), -1, 1).astype(np.float32)
    a01, b01 = a * 0.5 + 0.5, b * 0.5 + 0.5
    mask = official_inverse_gaussian(256, 80)
    # trainer.py: MeanAbsoluteError(SUM)(attr, pred, sample_weight=mask broadcast to the batch)
    l1 = np.sum(np.mean(np.abs(a01 - b01), axis=-1) * mask[None])
    keras_l1 = keras.losses.MeanAbsoluteError(reduction="sum")(a01, b01, sample_weight=np.stack([mask] * 3))
    np.testing.assert_allclose(float(keras_l1), l1, rtol=1e-4)
    official = 0.84 * np.mean(1 - tf.image.ssim_multiscale(a01, b01, 1.0).numpy()) + 0.16 * l1
    got = losses.reconstruction_loss(a, b, losses.pixel_mask(256), 0.84, l1_batch=3)
    np.testing.assert_allclose(got.numpy(), official, rtol=1e-4)
    # one --set away: uniform mask, mean over the batch
    plain = 0.84 * np.mean(1 - tf.image.ssim_multiscale(a01, b01, 1.0).numpy()) + 0.16 * np.mean(np.abs(a01 - b01))
    np.testing.assert_allclose(losses.reconstruction_loss(a, b).numpy(), plain, rtol=1e-4)


def test_ms_ssim_is_not_clipped():
    """The official loss feeds the raw generator output ((x + 1) / 2, not clipped) to MS-SSIM."""
    rng = np.random.RandomState(2)
    a = tf.constant(rng.uniform(-0.5, 0.5, (1, 32, 32, 3)).astype(np.float32))
    b = tf.Variable(a.numpy() * 1.5 + 0.6)  # partly above 1
    with tf.GradientTape() as tape:
        s = tf.reduce_sum(losses.ms_ssim(a, b))
    g = tape.gradient(s, b).numpy()
    assert (b.numpy() > 1).any() and np.abs(g[b.numpy() > 1]).min() > 0


def test_ms_ssim_matches_tf_and_reconstruction_loss():
    rng = np.random.RandomState(0)
    a = rng.uniform(-1, 1, (2, 256, 256, 3)).astype(np.float32)
    b = np.clip(a + rng.normal(0, 0.1, a.shape), -1, 1).astype(np.float32)
    ref = tf.image.ssim_multiscale(a * 0.5 + 0.5, b * 0.5 + 0.5, 1.0).numpy()
    np.testing.assert_allclose(losses.ms_ssim(a, b).numpy(), ref, rtol=1e-4)
    np.testing.assert_allclose(losses.ms_ssim(a, a).numpy(), 1.0, rtol=1e-5)
    assert abs(losses.reconstruction_loss(a, a).numpy()) < 1e-5
    assert losses.reconstruction_loss(a, b).numpy() > 0.01


@pytest.mark.parametrize("size", [32, 64, 256])
def test_reconstruction_gradient_finite_for_unrelated_images(size):
    rng = np.random.RandomState(size)
    a = tf.constant(rng.uniform(-1, 1, (2, size, size, 3)).astype(np.float32))
    b = tf.constant(-a.numpy())  # anti-correlated: negative contrast-structure at every scale
    with tf.GradientTape() as tape:
        tape.watch(b)
        loss = losses.reconstruction_loss(a, b)
    g = tape.gradient(loss, b).numpy()
    assert np.isfinite(loss.numpy()) and np.isfinite(g).all() and np.abs(g).max() > 0


@pytest.mark.parametrize("size", [64, 192])
def test_ms_ssim_both_blur_paths_match_tf(size):
    """64 px blurs with band matrices, 192 px with a depthwise convolution: both equal tf's."""
    assert (size <= losses.SSIM_MATMUL_MAX_SIZE) == (size == 64)
    rng = np.random.RandomState(size)
    a = rng.uniform(-1, 1, (2, size, size, 3)).astype(np.float32)
    b = np.clip(a + rng.normal(0, 0.2, a.shape), -1, 1).astype(np.float32)
    x, y = a * 0.5 + 0.5, b * 0.5 + 0.5
    for filter_size in (11, 4):
        ours = losses.ssim_cs(tf.constant(x), tf.constant(y), filter_size)
        ref = tf.image.ssim(x, y, 1.0, filter_size=filter_size, return_index_map=True)
        np.testing.assert_allclose(ours[0].numpy().mean(axis=-1), ref.numpy().mean(axis=(1, 2)), rtol=1e-4)
