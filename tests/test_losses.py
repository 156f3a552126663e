import numpy as np
import pytest
import tensorflow as tf

from idd_tf import losses, networks
from idd_tf.config import DiscriminatorConfig


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


def test_id_and_landmark_losses():
    a = tf.constant([[0.0, 1.0], [2.0, 2.0]])
    b = tf.constant([[1.0, 1.0], [2.0, 0.0]])
    np.testing.assert_allclose(losses.id_loss(a, b), 0.75)
    rng = np.random.RandomState(0)
    lnd_a = rng.uniform(size=(2, 68, 2)).astype(np.float32)
    lnd_b = lnd_a.copy()
    lnd_b[:, :17] += 0.3  # the jawline does not count
    assert losses.landmark_loss(lnd_a, lnd_b, 256).numpy() == 0
    lnd_b[0, 30, 0] += 1 / 256  # one pixel on one inner point, one sample of two
    np.testing.assert_allclose(losses.landmark_loss(lnd_a, lnd_b, 256).numpy(), 0.5, rtol=1e-3)


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
