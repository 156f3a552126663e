"""Photo-like degradations of images: per image a blur or sharpening, a down-and-up resampling, a
small shift and additive noise (`degrade`); stateless (the same seed, the same batch), so a resumed
run sees the same images.

Two uses (docs/toy_world.md#rendered-pairs-what-closes-the-gap): the toy world's E_id / E_lnd trained on
degraded renders (`train_toy_nets.py --augment`), the toy analog of the variety of the photos
VGGFace2 was trained on; and the method's `augment` option, which degrades the encoders' inputs
I_id and I_attr in training (the losses' targets stay clean), so E_attr and M see more than the
StyleGAN's own rendering.
"""

from __future__ import annotations

import tensorflow as tf


def _gaussian_blur(images, sigma: float):
    """Separable Gaussian blur of NHWC images (edges replicated), one fixed sigma for the batch."""
    radius = max(1, int(round(3 * sigma)))
    x = tf.range(-radius, radius + 1, dtype=tf.float32)
    k = tf.exp(-0.5 * (x / sigma) ** 2)
    k /= tf.reduce_sum(k)
    c = images.shape[-1]
    padded = tf.pad(images, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="SYMMETRIC")
    kx = tf.tile(tf.reshape(k, [1, -1, 1, 1]), [1, 1, c, 1])
    ky = tf.tile(tf.reshape(k, [-1, 1, 1, 1]), [1, 1, c, 1])
    out = tf.nn.depthwise_conv2d(padded, kx, [1, 1, 1, 1], "VALID")
    return tf.nn.depthwise_conv2d(out, ky, [1, 1, 1, 1], "VALID")


def degrade(images, seed, max_shift: int = 2, noise_std: float = 0.06):
    """Per image of raw [-1, 1] NHWC `images` (static size), with `seed` an int32 [2] tensor:
    blur (mix with a sigma-1.2 blur, weight in [0, 1]) or sharpening (weight in [-0.6, 0]), a
    resampling through a random size in [S/2, S] mixed in with weight in [0, 1], a shift of up to
    `max_shift` pixels (edges replicated), Gaussian noise with std in [0, noise_std]. Clipped to [-1, 1]."""
    images = tf.convert_to_tensor(images, tf.float32)
    b, size = tf.shape(images)[0], images.shape[1]
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 6)

    def uniform(i, low, high, shape=None):
        return tf.random.stateless_uniform(shape if shape is not None else [b, 1, 1, 1], seeds[i], low, high)

    blur_w = uniform(0, -0.6, 1.0)
    x = images + blur_w * (_gaussian_blur(images, 1.2) - images)
    small = tf.cast(tf.round(uniform(1, size / 2, size, shape=[])), tf.int32)
    resampled = tf.image.resize(tf.image.resize(x, [small, small], antialias=True), [size, size])
    x = x + uniform(2, 0.0, 1.0) * (resampled - x)
    if max_shift:
        m = max_shift
        padded = tf.pad(x, [[0, 0], [m, m], [m, m], [0, 0]], mode="SYMMETRIC")
        offsets = tf.random.stateless_uniform([b, 2], seeds[3], 0, 2 * m + 1, dtype=tf.int32)
        x = tf.map_fn(lambda a: tf.slice(a[0], [a[1][0], a[1][1], 0], [size, size, images.shape[-1]]),
                      (padded, offsets), fn_output_signature=tf.float32)
    x = x + uniform(4, 0.0, noise_std) * tf.random.stateless_normal(tf.shape(x), seeds[5])
    return tf.clip_by_value(x, -1.0, 1.0)
