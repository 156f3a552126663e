"""StyleGAN v1 (Karras et al., 2019) in Keras 3, NHWC, numerically matching NVIDIA's TF1 code.

Port of `training/networks_stylegan.py` (G_mapping, G_synthesis, G_style truncation, D_basic) with
`structure='fixed'` semantics at lod 0 (what NVIDIA's recursive graph computes at lod 0). All
weights are stored exactly as NVIDIA stores them (equalized-lr: N(0,1)-scale storage, runtime
coefficient applied in `call`), so converted pickles are plain copies plus layout transposes.

Images are NHWC float32 in NVIDIA's raw range (about [-1, 1], not clipped). Use `to_uint8`,
`to_unit_range` or `to_nchw` for other layouts.
"""

from __future__ import annotations

import math
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from idd_tf.stylegan.config import DEFAULT_TRUNCATION_CUTOFF, DEFAULT_TRUNCATION_PSI, StyleGANConfig

NOISE_MODES = ("const", "random", "none")
# Equalized learning rate: He gain for lrelu layers, slope of every LeakyReLU.
LRELU_GAIN = math.sqrt(2.0)
LRELU_SLOPE = 0.2
NORM_EPSILON = 1e-8
MBSTD_EPSILON = 1e-8
BLUR_FILTER = (1.0, 2.0, 1.0)
# Generator/discriminator fused resampling switches on at this resolution (NVIDIA fused_scale='auto').
FUSED_SCALE_MIN_RES = 128
# Unfused upscale+conv layers at or above this output resolution run as an equivalent
# transposed conv (speed only: below it, upscale + 3x3 conv is faster on CPU).
SUBPIXEL_MIN_RES = 32
# Likewise, unfused 3x3-conv + 2x2-downscale layers at or above this input resolution run as the
# equivalent strided conv with the folded 4x4 kernel (speed only).
STRIDED_DOWN_MIN_RES = 32


# ----------------------------------------------------------------------------------------------
# Functional primitives (NHWC).

def runtime_coef(shape: Sequence[int], gain: float, lrmul: float = 1.0) -> float:
    """Equalized-lr runtime multiplier of NVIDIA's `get_weight(use_wscale=True)`."""
    fan_in = float(np.prod(shape[:-1]))
    return gain / math.sqrt(fan_in) * lrmul


def lrelu(x):
    return tf.nn.leaky_relu(x, alpha=LRELU_SLOPE)


def instance_moments(x):
    """Per-sample, per-channel mean and (biased) variance over H and W of an NHWC map, each
    [B, 1, 1, C], as `tf.nn.moments(x, [1, 2], keepdims=True)` computes them but accurate at
    1024x1024: every reduction runs in two stages (over W, then over H), so no float32
    accumulator sums more than max(H, W) terms. A one-stage fp32 reduction over a 1024x1024 map
    drifts by ~6e-5 relative in the variance (4e-4 on final images against NVIDIA's); two stages
    stay at ~1e-7, and are no slower on CPU. Variance is taken around the mean (two-pass)."""
    mean = tf.reduce_mean(tf.reduce_mean(x, axis=2, keepdims=True), axis=1, keepdims=True)
    sq = tf.math.squared_difference(x, tf.stop_gradient(mean))
    var = tf.reduce_mean(tf.reduce_mean(sq, axis=2, keepdims=True), axis=1, keepdims=True)
    return mean, var


def pixel_norm(x, axis=-1):
    return x * tf.math.rsqrt(tf.reduce_mean(tf.square(x), axis=axis, keepdims=True) + NORM_EPSILON)


def blur2d(x):
    """[1,2,1] x [1,2,1] / 16 depthwise blur with SAME padding (NVIDIA `blur2d`)."""
    f = np.asarray(BLUR_FILTER, dtype=np.float32)
    f = np.outer(f, f)
    f /= f.sum()
    channels = x.shape[-1]
    kernel = tf.constant(np.tile(f[:, :, None, None], [1, 1, channels, 1]), dtype=x.dtype)
    return tf.nn.depthwise_conv2d(x, kernel, strides=[1, 1, 1, 1], padding="SAME")


def upscale2d(x, factor=2):
    """Nearest-neighbour upscale."""
    s = tf.shape(x)
    h, w, c = x.shape[1], x.shape[2], x.shape[3]
    x = tf.reshape(x, [s[0], h, 1, w, 1, c])
    x = tf.tile(x, [1, 1, factor, 1, factor, 1])
    return tf.reshape(x, [s[0], h * factor, w * factor, c])


def downscale2d(x):
    """2x2 box downscale (NVIDIA `_downscale2d` for factor 2)."""
    return tf.nn.avg_pool2d(x, ksize=2, strides=2, padding="VALID")


def _fold_matrix(flip: bool) -> np.ndarray:
    """[16, 9] map from a 3x3 kernel to NVIDIA's fused 4x4 kernel (pad by 1, sum the four
    1-pixel shifts), optionally of the spatially flipped 3x3 kernel."""
    m = np.zeros((4, 3), np.float32)
    for a in range(4):
        for p in (a, a + 1):
            if 1 <= p <= 3:
                m[a, p - 1] += 1.0
    if flip:
        m = m[:, ::-1]
    return np.einsum("ai,bj->abij", m, m).reshape(16, 9)


_FOLD = {False: _fold_matrix(False), True: _fold_matrix(True)}


def fold_kernel(w, flip=False, transpose=False):
    """[3,3,a,b] -> [4,4,a,b] fused-resampling kernel ([4,4,b,a] with transpose), as one matmul
    (several times faster on CPU than pad + four strided slices of a 512x512 kernel)."""
    if transpose:
        w = tf.transpose(w, [0, 1, 3, 2])
    shape = tf.concat([[4, 4], tf.shape(w)[2:]], 0)
    fold = tf.constant(_FOLD[flip], dtype=w.dtype)
    return tf.reshape(tf.matmul(fold, tf.reshape(w, [9, -1])), shape)


def minibatch_stddev(x, group_size=4, num_new_features=1):
    """NVIDIA `minibatch_stddev_layer` in NHWC. Groups are samples {m, M+m, 2M+m, ...}."""
    n = tf.shape(x)[0]
    g = tf.minimum(group_size, n)
    h, w, c = x.shape[1], x.shape[2], x.shape[3]
    y = tf.reshape(x, [g, -1, h, w, num_new_features, c // num_new_features])
    y = y - tf.reduce_mean(y, axis=0, keepdims=True)
    y = tf.reduce_mean(tf.square(y), axis=0)
    y = tf.sqrt(y + MBSTD_EPSILON)
    y = tf.reduce_mean(y, axis=[1, 2, 4])  # [M, n]
    y = tf.reshape(y, [-1, 1, 1, num_new_features])
    y = tf.tile(y, [g, h, w, 1])
    return tf.concat([x, y], axis=-1)


# ----------------------------------------------------------------------------------------------
# Layers.

class EqualizedDense(keras.layers.Layer):
    """Fully connected layer with equalized learning rate: `x @ (weight * coef) + bias * lrmul`.

    Weights are named `weight` [in, units] and `bias` [units] as in NVIDIA's pickles.
    """

    def __init__(self, units, gain=LRELU_GAIN, lrmul=1.0, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.gain = float(gain)
        self.lrmul = float(lrmul)

    def build(self, input_shape):
        fan_in = int(input_shape[-1])
        self.weight = self.add_weight(
            name="weight", shape=(fan_in, self.units),
            initializer=keras.initializers.RandomNormal(0.0, 1.0 / self.lrmul))
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")
        self.coef = runtime_coef((fan_in, self.units), self.gain, self.lrmul)

    def call(self, x):
        return tf.matmul(x, self.weight * self.coef) + self.bias * self.lrmul

    def get_config(self):
        return {**super().get_config(), "units": self.units, "gain": self.gain, "lrmul": self.lrmul}


class EqualizedConv2D(keras.layers.Layer):
    """Conv layer with equalized learning rate and optional NVIDIA resampling.

    resample: None, "up" (nearest-upscale then conv, or fused transposed conv when `fused`),
    "down" (conv then 2x2 box downscale, or fused strided conv when `fused`). `use_bias` adds
    `bias` after the conv; the synthesis layers add their bias later (after noise), so they
    construct this with use_bias=False.
    """

    def __init__(self, filters, kernel_size, gain=LRELU_GAIN, resample=None, fused=False,
                 use_bias=True, **kwargs):
        super().__init__(**kwargs)
        if resample not in (None, "up", "down"):
            raise ValueError(f"resample must be None, 'up' or 'down', got {resample!r}")
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.gain = float(gain)
        self.resample = resample
        self.fused = bool(fused)
        self.use_bias = bool(use_bias)

    def build(self, input_shape):
        shape = (self.kernel_size, self.kernel_size, int(input_shape[-1]), self.filters)
        self.weight = self.add_weight(name="weight", shape=shape,
                                      initializer=keras.initializers.RandomNormal(0.0, 1.0))
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")
        self.coef = runtime_coef(shape, self.gain)

    def call(self, x):
        w = self.weight * self.coef
        if self.resample == "up" and (self.fused or x.shape[1] * 2 >= SUBPIXEL_MIN_RES):
            # NVIDIA's fused path is conv2d_transpose with the folded kernel. The unfused path
            # (nearest upscale, then 3x3 conv) equals the same transposed conv with the kernel
            # flipped, exactly in algebra, with 4/9 of the multiply-adds (used where faster).
            w = fold_kernel(w, flip=not self.fused, transpose=True)  # [4,4,out,in]
            h, wd = x.shape[1] * 2, x.shape[2] * 2
            out_shape = tf.stack([tf.shape(x)[0], h, wd, self.filters])
            x = tf.nn.conv2d_transpose(x, w, out_shape, strides=2, padding="SAME")
            x = tf.ensure_shape(x, [None, h, wd, self.filters])
        elif self.resample == "down" and (self.fused or x.shape[1] >= STRIDED_DOWN_MIN_RES):
            # NVIDIA's fused path: strided conv with the folded 4x4 kernel. The unfused path
            # (3x3 conv, then 2x2 box downscale) equals the same strided conv exactly in algebra,
            # with 4/9 of the multiply-adds (used where faster).
            x = tf.nn.conv2d(x, fold_kernel(w) * 0.25, strides=2, padding="SAME")
        else:
            if self.resample == "up":
                x = upscale2d(x)
            x = tf.nn.conv2d(x, w, strides=1, padding="SAME")
            if self.resample == "down":
                x = downscale2d(x)
        if self.use_bias:
            x = tf.nn.bias_add(x, self.bias)
        return x

    def compute_output_shape(self, input_shape):
        h, w = input_shape[1], input_shape[2]
        if self.resample == "up":
            h, w = h * 2, w * 2
        elif self.resample == "down":
            h, w = h // 2, w // 2
        return (input_shape[0], h, w, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "gain": self.gain, "resample": self.resample, "fused": self.fused,
                "use_bias": self.use_bias}


class StyledLayer(keras.layers.Layer):
    """One synthesis layer: [const | conv(+up+blur)] -> noise -> bias -> lrelu -> instance norm -> style.

    Weights: `const` [1,4,4,C] (first layer) or `weight` (conv), `noise_strength` [C], `bias` [C],
    and the `StyleMod` EqualizedDense (dlatent -> 2C: scale, shift).
    """

    def __init__(self, filters, kind="conv", fused=False, **kwargs):
        super().__init__(**kwargs)
        if kind not in ("const", "conv", "up"):
            raise ValueError(f"kind must be 'const', 'conv' or 'up', got {kind!r}")
        self.filters = int(filters)
        self.kind = kind
        self.fused = bool(fused)
        self.conv = None
        if kind != "const":
            self.conv = EqualizedConv2D(filters, 3, resample="up" if kind == "up" else None,
                                        fused=fused, use_bias=False, name="conv")
        self.style = EqualizedDense(2 * filters, gain=1.0, name="StyleMod")

    def build(self, x_shape, w_shape):
        if self.kind == "const":
            self.const = self.add_weight(name="const", shape=(1, 4, 4, self.filters),
                                         initializer="ones")
        else:
            self.conv.build(x_shape)
        self.noise_strength = self.add_weight(name="noise_strength", shape=(self.filters,),
                                              initializer="zeros")
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")
        self.style.build(w_shape)

    def call(self, x, w, noise=None):
        """x: NHWC input (batch template for 'const'), w: [B, dlatent], noise: [B|1, H, W, 1] or None."""
        if self.kind == "const":
            x = tf.tile(self.const, [tf.shape(w)[0], 1, 1, 1])
        else:
            x = self.conv(x)
            if self.kind == "up":
                x = blur2d(x)
        if noise is not None:
            x = x + noise * self.noise_strength
        x = lrelu(x + self.bias)
        # Instance norm then style modulation, (x - mean) * rsqrt(var + eps) * (s + 1) + t,
        # applied as one per-channel scale and shift (two passes over x instead of five).
        mean, var = instance_moments(x)
        style = self.style(w)
        scale = tf.math.rsqrt(var + NORM_EPSILON) * (style[:, None, None, :self.filters] + 1.0)
        shift = style[:, None, None, self.filters:] - mean * scale
        return x * scale + shift

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kind": self.kind,
                "fused": self.fused}


# ----------------------------------------------------------------------------------------------
# Networks.

def _config_from(config) -> StyleGANConfig:
    return config if isinstance(config, StyleGANConfig) else StyleGANConfig.from_dict(config)


class MappingNetwork(keras.Model):
    """G_mapping: z [B, latent_size] -> w broadcast to [B, num_layers, dlatent_size].

    Pixel-normalises z, then `mapping_layers` equalized Dense + LeakyReLU(0.2) with lr multiplier
    `mapping_lrmul`. Layers are named `Dense0..Dense{n-1}` like NVIDIA's scopes.
    """

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.config = _config_from(config)
        c = self.config
        self.dense_layers = [
            EqualizedDense(c.dlatent_size if i == c.mapping_layers - 1 else c.mapping_fmaps,
                           gain=LRELU_GAIN, lrmul=c.mapping_lrmul, name=f"Dense{i}")
            for i in range(c.mapping_layers)]
        self.build((None, c.latent_size))

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.dense_layers:
            layer.build(shape)
            shape = (shape[0], layer.units)
        self.built = True

    def call(self, z, broadcast=True):
        x = pixel_norm(tf.convert_to_tensor(z, self.compute_dtype))
        for layer in self.dense_layers:
            x = lrelu(layer(x))
        if broadcast:
            x = tf.tile(x[:, None, :], [1, self.config.num_layers, 1])
        return x

    def get_config(self):
        return {**super().get_config(), "config": self.config.to_dict()}


def split_lod(lod: float, config: StyleGANConfig) -> tuple[int, float]:
    """A Python lod in [0, resolution_log2 - 2] -> (level = floor(lod), fade = lod - level)."""
    if not 0 <= lod <= config.resolution_log2 - 2:
        raise ValueError(f"lod must be in [0, {config.resolution_log2 - 2}], got {lod}")
    level = int(np.floor(lod))
    return level, lod - level


class SynthesisNetwork(keras.Model):
    """G_synthesis: per-layer dlatents [B, num_layers, dlatent_size] -> NHWC image [B, R, R, C].

    Holds NVIDIA's per-layer noise buffers (`noise0..`, non-trainable, [1, H, W, 1]) and ToRGB
    layers for every lod (all are used while growing progressively, see `grown`).

    call(ws, noise_mode="const"|"random"|"none", noise=None, lod=0.0): "const" uses the stored buffers
    (NVIDIA randomize_noise=False), "random" draws fresh N(0,1) noise, "none" disables noise;
    `noise` (a list of num_layers tensors broadcastable to [B, H, W, 1]) overrides the mode.
    A [B, dlatent_size] input is broadcast to every layer. A Python `lod` > 0 gives NVIDIA's
    full-size output of a progressive-growing network at that level of detail.
    """

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.config = _config_from(config)
        c = self.config
        self.styled_layers = [StyledLayer(c.nf(1), kind="const", name="4x4_Const"),
                              StyledLayer(c.nf(1), kind="conv", name="4x4_Conv")]
        for res in range(3, c.resolution_log2 + 1):
            r = 2 ** res
            fused = r >= FUSED_SCALE_MIN_RES
            self.styled_layers.append(
                StyledLayer(c.nf(res - 1), kind="up", fused=fused, name=f"{r}x{r}_Conv0_up"))
            self.styled_layers.append(StyledLayer(c.nf(res - 1), kind="conv", name=f"{r}x{r}_Conv1"))
        self.torgb = {}
        for res in range(2, c.resolution_log2 + 1):
            lod = c.resolution_log2 - res
            self.torgb[lod] = EqualizedConv2D(c.num_channels, 1, gain=1.0, name=f"ToRGB_lod{lod}")
        self.build((None, c.num_layers, c.dlatent_size))

    def build(self, input_shape):
        c = self.config
        self.noise_buffers = []
        for i in range(c.num_layers):
            r = 2 ** (i // 2 + 2)
            self.noise_buffers.append(self.add_weight(
                name=f"noise{i}", shape=(1, r, r, 1), trainable=False,
                initializer=keras.initializers.RandomNormal(0.0, 1.0)))
        w_shape = (None, c.dlatent_size)
        for i, layer in enumerate(self.styled_layers):
            res = i // 2 + 2
            in_res = 2 ** (res - 1) if layer.kind == "up" else 2 ** res
            in_ch = c.nf(res - 2) if layer.kind == "up" else c.nf(res - 1)
            layer.build((None, in_res, in_res, in_ch), w_shape)
        for lod, layer in self.torgb.items():
            res = c.resolution_log2 - lod
            layer.build((None, 2 ** res, 2 ** res, c.nf(res - 1)))
        self.built = True

    def _layer_noise(self, i, batch, noise_mode, noise):
        if noise is not None:
            return tf.cast(tf.convert_to_tensor(noise[i]), self.compute_dtype)
        if noise_mode == "const":
            return self.noise_buffers[i]
        if noise_mode == "random":
            r = 2 ** (i // 2 + 2)
            return tf.random.normal([batch, r, r, 1], dtype=self.compute_dtype)
        return None

    def call(self, ws, noise_mode="const", noise=None, lod=0.0):
        c = self.config
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        if noise is not None and len(noise) != c.num_layers:
            raise ValueError(f"noise must hold {c.num_layers} tensors, got {len(noise)}")
        ws = tf.cast(tf.convert_to_tensor(ws), self.compute_dtype)
        if ws.shape.rank == 2:
            ws = tf.tile(ws[:, None, :], [1, c.num_layers, 1])
        if ws.shape.rank != 3 or ws.shape[1] != c.num_layers or ws.shape[2] != c.dlatent_size:
            raise ValueError(f"dlatents must be [B, {c.num_layers}, {c.dlatent_size}] "
                             f"(or [B, {c.dlatent_size}]), got {ws.shape}")
        if not lod:
            return self.grown(ws, 0, None, noise_mode=noise_mode, noise=noise)
        level, fade = split_lod(lod, c)
        images = self.grown(ws, level, fade, noise_mode=noise_mode, noise=noise)
        return upscale2d(images, 2 ** level) if level else images

    def grown(self, ws, level: int, fade, noise_mode="const", noise=None):
        """Progressive growing: the image at its native resolution 2**(resolution_log2 - level).

        NVIDIA's lod = level + fade: only the layers up to that resolution run, and the newest
        block's ToRGB output is blended with the upscaled ToRGB output of the block below,
        `img + (upscale(img_below) - img) * fade` (`lerp_clip` of G_synthesis). Upscaling the
        result by 2**level (nearest) is exactly NVIDIA's full-size output at that lod.
        `level` is a Python int (it sets the graph); `fade` in [0, 1] may be a tensor (None: no
        blend, i.e. 0; the fixed-structure network at level 0).
        """
        c = self.config
        res_log2 = c.resolution_log2 - level
        ws = tf.cast(tf.convert_to_tensor(ws), self.compute_dtype)
        if ws.shape.rank == 2:
            ws = tf.tile(ws[:, None, :], [1, c.num_layers, 1])
        batch = tf.shape(ws)[0]
        x, below = ws[:, 0], None  # ws[:, 0]: the batch template of the constant input layer
        for i, layer in enumerate(self.styled_layers[:2 * (res_log2 - 1)]):
            x = layer(x, ws[:, i], self._layer_noise(i, batch, noise_mode, noise))
            if i == 2 * (res_log2 - 2) - 1 and fade is not None:
                below = x
        images = self.torgb[level](x)
        if below is None:
            return images
        fade = tf.cast(fade, images.dtype)
        return images + (upscale2d(self.torgb[level + 1](below)) - images) * fade

    def get_config(self):
        return {**super().get_config(), "config": self.config.to_dict()}


def truncation_enabled(psi, cutoff) -> bool:
    """Whether NVIDIA's G_style truncates: only when neither psi nor cutoff is None, psi != 1 and
    cutoff > 0 (`truncation_psi=None` or `truncation_cutoff=None` = disable, per its docs)."""
    return psi is not None and cutoff is not None and psi != 1 and cutoff > 0


class StyleGAN(keras.Model):
    """A StyleGAN v1 generator (G_style): mapping + truncation + synthesis, W-space API.

    - `mapping(z)` -> [B, num_layers, dlatent] (NVIDIA broadcast), `get_latent(z)` -> [B, dlatent]
    - `truncate(ws, psi, cutoff)` lerps towards `dlatent_avg` on layers < cutoff; as in NVIDIA's
      G_style, psi None or 1, or cutoff None or <= 0, disables truncation altogether
    - `synthesis(ws, noise_mode=...)` -> NHWC raw image
    - `__call__(z, truncation_psi=0.7, truncation_cutoff=8, noise_mode="const")` end to end
    - `mean_latent(n)` estimates the mean w from n samples (the stored `dlatent_avg` is NVIDIA's)
    """

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.config = _config_from(config)
        self.mapping = MappingNetwork(self.config, name="mapping")
        self.synthesis = SynthesisNetwork(self.config, name="synthesis")
        self.dlatent_avg = self.add_weight(name="dlatent_avg", shape=(self.config.dlatent_size,),
                                           initializer="zeros", trainable=False)
        self.built = True

    @property
    def num_layers(self) -> int:
        return self.config.num_layers

    @property
    def resolution(self) -> int:
        return self.config.resolution

    @property
    def latent_size(self) -> int:
        return self.config.latent_size

    @property
    def dlatent_size(self) -> int:
        return self.config.dlatent_size

    def get_latent(self, z):
        return self.mapping(z, broadcast=False)

    def truncate(self, ws, psi=DEFAULT_TRUNCATION_PSI, cutoff=DEFAULT_TRUNCATION_CUTOFF):
        """NVIDIA G_style's truncation trick: avg + (w - avg) * coef, coef = psi on layers < cutoff
        and 1 elsewhere. Exactly as in G_style, `psi` None or 1, or `cutoff` None or <= 0,
        disables truncation: ws come back unchanged (broadcast to [B, num_layers, dlatent]).
        To truncate every layer pass cutoff=G.num_layers."""
        ws = tf.cast(tf.convert_to_tensor(ws), self.compute_dtype)
        if ws.shape.rank == 2:
            ws = tf.tile(ws[:, None, :], [1, self.num_layers, 1])
        if not truncation_enabled(psi, cutoff):
            return ws
        # The coefficients are float32 as in NVIDIA's graph (float32(psi)), whatever the dtype.
        coefs = np.where(np.arange(self.num_layers) < int(cutoff), psi, 1.0).astype(np.float32)
        coefs = tf.cast(tf.constant(coefs[None, :, None]), self.compute_dtype)
        return self.dlatent_avg + (ws - self.dlatent_avg) * coefs

    def mean_latent(self, n=4096, seed=0):
        z = tf.random.stateless_normal([n, self.latent_size], seed=[seed, 0])
        return tf.reduce_mean(self.get_latent(z), axis=0)

    def call(self, z, truncation_psi=DEFAULT_TRUNCATION_PSI,
             truncation_cutoff=DEFAULT_TRUNCATION_CUTOFF, noise_mode="const", noise=None,
             lod=0.0):
        ws = self.mapping(z)
        if truncation_enabled(truncation_psi, truncation_cutoff):
            ws = self.truncate(ws, truncation_psi, truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode, noise=noise, lod=lod)

    def get_config(self):
        return {**super().get_config(), "config": self.config.to_dict()}


class Discriminator(keras.Model):
    """D_basic: NHWC image [B, R, R, C] in the raw [-1, 1] range -> score [B, 1].

    FromRGB layers exist for every lod (all are used while growing progressively, see `grown`;
    `call(images, lod)` takes full-size images at any lod, like NVIDIA's). Minibatch stddev groups follow NVIDIA:
    group size min(mbstd_group_size, B), and B must be divisible by it.
    """

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.config = _config_from(config)
        c = self.config
        self.fromrgb = {}
        for res in range(2, c.resolution_log2 + 1):
            lod = c.resolution_log2 - res
            self.fromrgb[lod] = EqualizedConv2D(c.nf(res - 1), 1, name=f"FromRGB_lod{lod}")
        self.blocks = []
        for res in range(c.resolution_log2, 2, -1):
            r = 2 ** res
            self.blocks.append((
                EqualizedConv2D(c.nf(res - 1), 3, name=f"{r}x{r}_Conv0"),
                EqualizedConv2D(c.nf(res - 2), 3, resample="down",
                                fused=r >= FUSED_SCALE_MIN_RES, name=f"{r}x{r}_Conv1_down")))
        self.conv4 = EqualizedConv2D(c.nf(1), 3, name="4x4_Conv")
        self.dense0 = EqualizedDense(c.nf(0), name="4x4_Dense0")
        self.dense1 = EqualizedDense(1, gain=1.0, name="4x4_Dense1")
        self.build((None, c.resolution, c.resolution, c.num_channels))

    def build(self, input_shape):
        c = self.config
        for lod, layer in self.fromrgb.items():
            r = 2 ** (c.resolution_log2 - lod)
            layer.build((None, r, r, c.num_channels))
        for i, (conv0, conv1) in enumerate(self.blocks):
            res = c.resolution_log2 - i
            conv0.build((None, 2 ** res, 2 ** res, c.nf(res - 1)))
            conv1.build((None, 2 ** res, 2 ** res, c.nf(res - 1)))
        extra = c.mbstd_num_features if c.mbstd_group_size > 1 else 0
        self.conv4.build((None, 4, 4, c.nf(1) + extra))
        self.dense0.build((None, 16 * c.nf(1)))
        self.dense1.build((None, c.nf(0)))
        self.built = True

    def call(self, images, lod=0.0):
        c = self.config
        x = tf.convert_to_tensor(images, self.compute_dtype)
        if x.shape.rank != 4 or tuple(x.shape[1:]) != (c.resolution, c.resolution, c.num_channels):
            raise ValueError(f"discriminator expects NHWC [B, {c.resolution}, {c.resolution}, "
                             f"{c.num_channels}] images, got {x.shape}")
        if not lod:
            return self.grown(x, 0, None)
        level, fade = split_lod(lod, c)
        for _ in range(level):
            x = downscale2d(x)
        return self.grown(x, level, fade)

    def grown(self, images, level: int, fade):
        """Progressive growing: scores of images at their native resolution
        2**(resolution_log2 - level). NVIDIA's lod = level + fade: the newest block's output is
        blended with FromRGB of the 2x-downscaled input, `x + (y - x) * fade` (`lerp_clip` of
        D_basic); the same as NVIDIA's D on the images upscaled to full size. `level` is a Python
        int; `fade` (None: no blend, i.e. 0) may be a tensor."""
        c = self.config
        x = tf.convert_to_tensor(images, self.compute_dtype)
        r = 2 ** (c.resolution_log2 - level)
        if x.shape.rank != 4 or tuple(x.shape[1:3]) != (r, r):
            raise ValueError(f"at level {level} the discriminator expects [B, {r}, {r}, C] images, "
                             f"got {x.shape}")
        x = lrelu(self.fromrgb[level](x))
        for i, (conv0, conv1) in enumerate(self.blocks[level:]):
            x = lrelu(conv0(x))
            x = lrelu(conv1(blur2d(x)))
            if i == 0 and fade is not None:
                y = lrelu(self.fromrgb[level + 1](downscale2d(tf.convert_to_tensor(images, x.dtype))))
                x = x + (y - x) * tf.cast(fade, x.dtype)
        if c.mbstd_group_size > 1:
            x = minibatch_stddev(x, c.mbstd_group_size, c.mbstd_num_features)
        x = lrelu(self.conv4(x))
        x = tf.reshape(x, [-1, 16 * c.nf(1)])
        x = lrelu(self.dense0(x))
        return self.dense1(x)

    def get_config(self):
        return {**super().get_config(), "config": self.config.to_dict()}


def random_stylegan(config, seed: int = 0, name: str = "Gs") -> StyleGAN:
    """A randomly initialised StyleGAN, identical for the same (config, seed).

    `dlatent_avg` is set to the mean of 1024 mapped latents so truncation behaves as on a
    trained model.
    """
    keras.utils.set_random_seed(seed)
    G = StyleGAN(config, name=name)
    G.dlatent_avg.assign(G.mean_latent(1024, seed=seed))
    return G


def seed_images(G: StyleGAN, seeds, psi=DEFAULT_TRUNCATION_PSI,
                cutoff=DEFAULT_TRUNCATION_CUTOFF, noise_mode="const"):
    """Raw NHWC images for seeds (z from `seed_latents`)."""
    return G(seed_latents(G, seeds), truncation_psi=psi, truncation_cutoff=cutoff,
             noise_mode=noise_mode)


def seed_latents(G: StyleGAN, seeds) -> np.ndarray:
    """float32 z [len(seeds), latent_size]; seed s uses z = RandomState(s).randn(1, latent_size)
    (NVIDIA's pretrained_example.py convention)."""
    z = np.concatenate([np.random.RandomState(s).randn(1, G.latent_size) for s in seeds])
    return z.astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Image layout helpers.

def to_nchw(images):
    """NHWC -> NCHW (NVIDIA layout), values unchanged."""
    return tf.transpose(images, [0, 3, 1, 2])


def to_unit_range(images):
    """Raw [-1, 1] NHWC -> NHWC float in [0, 1] (clipped)."""
    return tf.clip_by_value(images * 0.5 + 0.5, 0.0, 1.0)


def to_uint8(images):
    """Raw [-1, 1] NHWC -> NHWC uint8, NVIDIA's convert: clip(round(x * 127.5 + 127.5))."""
    x = tf.round(tf.convert_to_tensor(images, tf.float32) * 127.5 + 127.5)
    return tf.cast(tf.clip_by_value(x, 0.0, 255.0), tf.uint8)


def from_uint8(images):
    """NHWC uint8 -> raw [-1, 1] float32 (inverse of `to_uint8` up to rounding)."""
    return (tf.cast(images, tf.float32) - 127.5) / 127.5
