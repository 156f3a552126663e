"""Loss terms of the method, as pure functions of tensors (and of D_W for R1)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

# The 68-point iBUG scheme of E_lnd; L_lnd compares the 51 inner points (the 17 jawline points dropped).
NUM_LANDMARKS = 68
INNER_LANDMARKS = tuple(range(17, 68))

MSSSIM_POWER_FACTORS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
MSSSIM_FILTER_SIZE = 11
SSIM_MATMUL_MAX_SIZE = 128  # blur as matrix products up to this size (CPU speed), else depthwise conv


def generator_adv_loss(fake_logits):
    """Non-saturating adversarial loss for M (and E_attr): E[softplus(-D(fake))]."""
    return tf.reduce_mean(tf.nn.softplus(-fake_logits))


def discriminator_loss(real_logits, fake_logits):
    """Logistic loss of D_W: E[softplus(D(fake))] + E[softplus(-D(real))]."""
    return tf.reduce_mean(tf.nn.softplus(fake_logits)) + tf.reduce_mean(tf.nn.softplus(-real_logits))


def r1_penalty(discriminator, real_w, gamma):
    """R1 = gamma / 2 * E[||grad_w D(w)||^2] on real samples. Returns (penalty, real_logits)."""
    with tf.GradientTape() as tape:
        tape.watch(real_w)
        logits = discriminator(real_w)
        total = tf.reduce_sum(logits)
    grad = tape.gradient(total, real_w)
    sq = tf.reduce_sum(tf.reshape(tf.square(grad), [tf.shape(grad)[0], -1]), axis=1)
    return 0.5 * gamma * tf.reduce_mean(sq), logits


def id_loss(emb_id, emb_out):
    """L_id: L1 between identity embeddings, mean over batch and dimensions."""
    return tf.reduce_mean(tf.abs(emb_id - emb_out))


def landmark_loss(lnd_attr, lnd_out, scale=160.0, reduce_sum=False):
    """L_lnd on the 51 inner landmarks ([B, 68, 2] (x, y) in [0, 1], multiplied by `scale`).

    Official (trainer.py l.182-183: mean(keras MSE) of landmarks in the 160-px units of its
    landmark net): the mean squared difference over batch, points and coordinates. `reduce_sum`:
    the paper's squared L2 norm, summed over points and coordinates, mean over the batch.
    """
    idx = list(INNER_LANDMARKS)
    sq = tf.square((tf.gather(lnd_attr, idx, axis=1) - tf.gather(lnd_out, idx, axis=1)) * scale)
    if reduce_sum:
        return tf.reduce_mean(tf.reduce_sum(sq, axis=[1, 2]))
    return tf.reduce_mean(sq)


def _gaussian_window(size, sigma=1.5):
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-x ** 2 / (2 * sigma ** 2))
    return (g / g.sum()).astype(np.float32)


def _valid_band(n, g) -> np.ndarray:
    """[n, n - k + 1] matrix whose columns are the k-tap filter g at every VALID position."""
    k = len(g)
    m = np.zeros((n, n - k + 1), np.float32)
    for j in range(n - k + 1):
        m[j:j + k, j] = g
    return m


def ssim_cs(x, y, filter_size, max_val=1.0, k1=0.01, k2=0.03):
    """Per-channel SSIM and contrast-structure, [B, C] each (tf.image.ssim's definitions).

    The separable Gaussian blur (VALID) runs as two small matrix products on the five statistics
    stacked along the batch (images up to SSIM_MATMUL_MAX_SIZE px): the same sums as an 11x11
    depthwise convolution, but with its gradient 6x cheaper on a CPU at 64 px
    (benchmarks/bench_train_step.py)."""
    g = _gaussian_window(filter_size)
    if max(x.shape[1], x.shape[2]) <= SSIM_MATMUL_MAX_SIZE:
        along_h = tf.constant(_valid_band(x.shape[1], g), dtype=x.dtype)
        along_w = tf.constant(_valid_band(x.shape[2], g), dtype=x.dtype)

        def blur(t):
            return tf.einsum("bhvc,hu->buvc", tf.einsum("bhwc,wv->bhvc", t, along_w), along_h)
    else:  # the band matrices' cost grows with the size: a depthwise convolution at 256-1024 px
        kern = tf.constant(np.tile(np.outer(g, g)[:, :, None, None], [1, 1, 5 * x.shape[-1], 1]),
                           dtype=x.dtype)

        def blur(t):  # the five statistics as channels: one call
            t = tf.concat(tf.split(t, 5, axis=0), axis=-1)
            t = tf.nn.depthwise_conv2d(t, kern, [1, 1, 1, 1], "VALID")
            return tf.concat(tf.split(t, 5, axis=-1), axis=0)

    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    mx, my, bxx, byy, bxy = tf.split(blur(tf.concat([x, y, x * x, y * y, x * y], axis=0)), 5, axis=0)
    lum = (2 * mx * my + c1) / (mx ** 2 + my ** 2 + c1)
    sxy = bxy - mx * my
    sxx = bxx - mx ** 2
    syy = byy - my ** 2
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    return tf.reduce_mean(lum * cs, axis=[1, 2]), tf.reduce_mean(cs, axis=[1, 2])


def ms_ssim(a, b, eps=1e-6):
    """MS-SSIM [B] of raw [-1, 1] images, compared in [0, 1]; as many scales as the size allows.

    Same definition as tf.image.ssim_multiscale (Gaussian 11x11, sigma 1.5, k1 0.01, k2 0.03,
    weights 0.0448..0.1333), except that per-scale terms are clamped at `eps` instead of 0 before
    the fractional powers: tf's clamp at 0 gives 0 * inf = NaN gradients whenever a scale's
    contrast-structure goes negative, which is routine early in training.
    """
    size = min(a.shape[1], a.shape[2])
    scales = 1
    while scales < len(MSSSIM_POWER_FACTORS) and size // 2 ** scales >= MSSSIM_FILTER_SIZE:
        scales += 1
    factors = np.asarray(MSSSIM_POWER_FACTORS[:scales], np.float32)
    factors = factors / factors.sum()
    filter_size = min(MSSSIM_FILTER_SIZE, size // 2 ** (scales - 1))
    x, y = a * 0.5 + 0.5, b * 0.5 + 0.5  # not clipped, as the official loss (gradients everywhere)
    terms = []
    for i in range(scales):
        ssim, cs = ssim_cs(x, y, filter_size)
        terms.append(ssim if i == scales - 1 else cs)
        if i < scales - 1:
            x = tf.nn.avg_pool2d(x, 2, 2, "VALID")
            y = tf.nn.avg_pool2d(y, 2, 2, "VALID")
    stacked = tf.maximum(tf.stack(terms, axis=-1), eps)  # [B, C, scales]
    return tf.reduce_mean(tf.reduce_prod(stacked ** factors, axis=-1), axis=-1)


def pixel_mask(resolution, kind="gaussian", sigma_at_256=80.0):
    """[R, R] float32 per-pixel weights of L_rec's L1, summing to 1.

    "gaussian": the official inverse Gaussian (utils/general_utils.py inverse_gaussian_image, sigma
    int(80 R / 256) as trainer.py l.38): max + min - g of a centred Gaussian g, so the face centre
    counts less than the periphery. "uniform": 1 / R^2 everywhere.
    """
    if kind == "uniform":
        return np.full((resolution, resolution), 1.0 / resolution ** 2, np.float32)
    if kind != "gaussian":
        raise ValueError(f"unknown pixel mask {kind!r}")
    sigma = int(sigma_at_256 * resolution / 256)
    x = np.arange(resolution, dtype=np.float64) - (resolution - 1) / 2
    g = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * sigma ** 2))
    g /= g.sum()
    inv = g.max() + g.min() - g
    return (inv / inv.sum()).astype(np.float32)


def masked_l1(target, output, mask):
    """Per-image L1 [B] in [0, 1] image units: sum over pixels of mask * mean over channels |t - o|."""
    per_pixel = tf.reduce_mean(tf.abs(target - output), axis=-1) * 0.5
    return tf.reduce_sum(per_pixel * mask, axis=[1, 2])


def reconstruction_loss(target, output, mask=None, ssim_weight=0.84, l1_batch=1.0):
    """L_rec = ssim_weight * mean(1 - MS-SSIM) + (1 - ssim_weight) * l1_batch * mean(masked L1).

    Official (trainer.py l.190-196): 0.84 * mean(1 - MS-SSIM) + 0.16 * L1, the L1 weighted by
    `pixel_mask` and SUMMED over the batch: l1_batch = the (global) batch size. mask=None: uniform.
    """
    if mask is None:
        mask = pixel_mask(target.shape[1], "uniform")
    l1 = l1_batch * tf.reduce_mean(masked_l1(target, output, mask))
    return ssim_weight * tf.reduce_mean(1.0 - ms_ssim(target, output)) + (1.0 - ssim_weight) * l1
