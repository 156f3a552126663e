"""Numerical verification of the StyleGAN port: the same network computed in float64.

    float64_twin(model): a float64 copy (same class, config, weight values) of a StyleGAN,
        MappingNetwork, SynthesisNetwork or Discriminator
    layerwise_errors(G, z, ...): float32 vs float64 after every step of G's forward pass
        (accumulated and local), with `layerwise_table` to print it and `comparison_image`
        (float32 | float64 | amplified difference) to look at it
    relative_error(x, ref): max|x - ref| / max|ref|, the golden fixture's metric

Used by scripts/convert_stylegan.py (`--verify`) and the precision tests, which check the port at
sizes without NVIDIA reference outputs (1024 px too).
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from idd_tf.stylegan.config import DEFAULT_TRUNCATION_CUTOFF, DEFAULT_TRUNCATION_PSI
from idd_tf.stylegan.networks import NOISE_MODES, StyleGAN, lrelu, pixel_norm, to_uint8


def _relative_path(variable, model) -> str:
    path = variable.path
    prefix = model.name + "/"
    return path[path.index(prefix) + len(prefix):] if prefix in path else path


def float64_twin(model):
    """A float64 copy of a port network (StyleGAN, MappingNetwork, SynthesisNetwork or
    Discriminator): same class, config and weight values, every variable and op in float64 (built
    under the Keras dtype policy "float64"). On the same inputs it computes what the float32
    network computes, without float32 rounding: the reference for its rounding error."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float64")
    try:
        twin = type(model)(model.config, name=model.name)
    finally:
        keras.config.set_dtype_policy(previous)
    src = {_relative_path(v, model): v for v in model.weights}
    dst = {_relative_path(v, twin): v for v in twin.weights}
    if set(src) != set(dst) or len(src) != len(model.weights):
        raise RuntimeError(f"float64 twin of {model.name} has other weights: "
                           f"{sorted(set(src) ^ set(dst))}")
    for key, v in dst.items():
        v.assign(np.asarray(src[key].numpy(), np.float64))
    return twin


def _generator_steps(G: StyleGAN, psi, cutoff, noise_mode, noise):
    """G_style's forward pass (what `G(z, psi, cutoff, noise_mode, noise)` computes) as named
    steps [(name, fn(x, ws) -> x)]: z -> PixelNorm -> mapping Dense layers -> "dlatents"
    (broadcast + truncation) -> each synthesis layer -> "image" (ToRGB)."""
    syn = G.synthesis
    steps = [("mapping/PixelNorm", lambda x, ws: pixel_norm(x))]
    for layer in G.mapping.dense_layers:
        steps.append((f"mapping/{layer.name}", lambda x, ws, l=layer: lrelu(l(x))))
    steps.append(("dlatents", lambda x, ws: G.truncate(x, psi, cutoff)))
    for i, layer in enumerate(syn.styled_layers):
        steps.append((f"synthesis/{layer.name}", lambda x, ws, i=i, l=layer: l(
            ws[:, 0] if l.kind == "const" else x, ws[:, i],
            syn._layer_noise(i, tf.shape(ws)[0], noise_mode, noise))))
    steps.append(("image", lambda x, ws: syn.torgb[0](x)))
    return steps


def relative_error(x, ref) -> float:
    """max|x - ref| / max|ref| (the golden fixture's metric; element-wise relative error is
    meaningless where ref is near 0)."""
    x, ref = np.asarray(x, np.float64), np.asarray(ref, np.float64)
    scale = np.abs(ref).max()
    return float(np.abs(x - ref).max() / (scale if scale > 0 else 1.0))


def layerwise_errors(G: StyleGAN, z, psi=DEFAULT_TRUNCATION_PSI,
                     cutoff=DEFAULT_TRUNCATION_CUTOFF, noise_mode="const", noise=None,
                     G64: StyleGAN | None = None) -> dict:
    """How far G's float32 computation is from the same network in float64, layer by layer.

    Runs `G(z, psi, cutoff, noise_mode, noise)` step by step (mapping layers, truncated
    dlatents, every synthesis layer, the image) in float32 and in float64 (`float64_twin(G)`,
    or `G64`), and for each step reports `relative_error` (max|f32 - f64| / max|f64|):
    "accumulated" = the float32 chain vs the float64 chain; "local" = the float32 step fed the
    float64 chain's input (the error this step adds by itself). noise_mode "random" draws one
    noise set (seeded) used by both. Returns {"metric", "psi", "cutoff", "noise_mode",
    "layers": [{"name", "shape", "accumulated", "local"}], "image_error", "max_local_error",
    "images": {"float32", "float64"} (NHWC numpy)}; all but "images" is JSON-serialisable.
    """
    if noise_mode not in NOISE_MODES:
        raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
    G64 = float64_twin(G) if G64 is None else G64
    z = np.asarray(z, np.float32)
    if noise is None and noise_mode == "random":
        rs = np.random.RandomState(0)
        noise = [rs.randn(z.shape[0], 2 ** (i // 2 + 2), 2 ** (i // 2 + 2), 1).astype(np.float32)
                 for i in range(G.num_layers)]
    if noise is not None:
        noise = [np.asarray(n, np.float32) for n in noise]
    steps32 = _generator_steps(G, psi, cutoff, noise_mode, noise)
    steps64 = _generator_steps(G64, psi, cutoff, noise_mode, noise)
    x32, ws32 = tf.constant(z, tf.float32), None
    x64, ws64 = tf.constant(z, tf.float64), None
    layers = []
    for (name, f32), (_, f64) in zip(steps32, steps64):
        local_in = (tf.cast(x64, tf.float32), None if ws64 is None else tf.cast(ws64, tf.float32))
        local = f32(*local_in)
        x32, x64 = f32(x32, ws32), f64(x64, ws64)
        if name == "dlatents":
            ws32, ws64 = x32, x64
        layers.append({"name": name, "shape": [int(d) for d in x32.shape],
                       "accumulated": relative_error(x32, x64), "local": relative_error(local, x64)})
    return {"metric": "max|float32 - float64| / max|float64|", "psi": psi, "cutoff": cutoff,
            "noise_mode": noise_mode, "layers": layers, "image_error": layers[-1]["accumulated"],
            "max_local_error": max(layer["local"] for layer in layers),
            "images": {"float32": x32.numpy(), "float64": x64.numpy()}}


def layerwise_table(report: dict) -> str:
    """`layerwise_errors`' result as a printable table."""
    width = max(len(layer["name"]) for layer in report["layers"])
    lines = [f"float32 vs float64, {report['metric']} (accumulated: the float32 chain; local: "
             "the step alone, fed the float64 input)",
             f"{'step':{width}s}  {'shape':>18s}  {'accumulated':>11s}  {'local':>9s}"]
    for layer in report["layers"]:
        shape = "x".join(str(d) for d in layer["shape"])
        lines.append(f"{layer['name']:{width}s}  {shape:>18s}  {layer['accumulated']:11.2e}  "
                     f"{layer['local']:9.2e}")
    lines.append(f"final image: {report['image_error']:.2e}   largest local: "
                 f"{report['max_local_error']:.2e}")
    return "\n".join(lines)


def comparison_image(images32, images64, amplify: float | None = None):
    """One uint8 HWC picture, a row per sample: float32 image | float64 image | difference
    (grey = 0, amplified `amplify` times; default: the smallest power of ten that makes the
    largest difference at least 0.25 in raw [-1, 1] units). Returns (picture, amplify)."""
    a = np.asarray(images32, np.float64)
    b = np.asarray(images64, np.float64)
    diff = a - b
    if amplify is None:
        peak = np.abs(diff).max()
        amplify = 1.0 if peak == 0 else float(10.0 ** max(0, math.ceil(math.log10(0.25 / peak))))
    rows = [np.concatenate([a[i], b[i], diff[i] * amplify], axis=1) for i in range(a.shape[0])]
    return np.asarray(to_uint8(np.concatenate(rows, axis=0)[None].astype(np.float32))[0]), amplify
