"""dlib's face-descriptor ResNet (`dlib_face_recognition_resnet_model_v1.dat`) as a Keras model.

The file ships with the `face-recognition-models` package (CC0); this module reads it in pure
Python (no dlib, no C++), following dlib's serialization (dlib/serialize.h, dlib/dnn/core.h,
layers.h, input.h, loss.h, cuda/tensor.h), and builds the same 29-conv network layer for layer:

    input_rgb_image_sized<150>: (pixel - mean RGB stored in the file) / 256
    con 32 7x7/2 (padding 0) - affine - relu - max_pool 3x3/2 (padding 0)
    4 levels of residual blocks (dlib's `ares` / `ares_down`: 32, 64, 128, 256 channels, then one
    more 256 down block); a block is con 3x3 - affine - relu - con 3x3 - affine; stride-1 convs
    pad 1, stride-2 convs pad 0 (dlib's default: padding = stride != 1 ? 0 : size / 2); the
    down blocks add an avg_pool 2x2/2 (padding 0) of their input through `add_prev`, which
    zero-extends the smaller tensor (channels, and rows / columns at the bottom / right) to the
    larger one's shape (dlib's tt::add), e.g. 3x3x256 + 4x4x128 -> 4x4x256
    avg_pool_everything - fc_no_bias 128 -> loss_metric (its output, as is: NOT L2-normalised;
    `compute_face_descriptor` returns the raw fc output, converted to double)

Entry points: `read_dat(path)` (the parsed file), `build_model(...)` (Keras: [B, 150, 150, 3] RGB
chips in 0..255 -> [B, 128] descriptor), `descriptors(chips_u8)` (numpy, cached model),
`chip_from_aligned(images, ...)` (a fixed 150x150 chip of FFHQ-aligned images, dlib's
get_face_chip(..., size=150, padding=0.25) on such images on average; see FFHQ_CHIP_BOX) and
`encoder(weights)` (the method's E_id `id_encoder.arch="dlib_resnet"`: raw [-1, 1] aligned
images -> chip -> ResNet -> L2-normalised 128-d). docs/dlib_resnet.md has the format notes and
the measurements (max 3.9e-7 from dlib's C++ on identical chips; the contract is 1e-4).
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np

from idd_tf.utils.errors import UserError

CHIP_SIZE = 150
EMBEDDING_DIM = 128
# The fixed chip of an FFHQ-aligned image: (left, top, right, bottom) of the 150x150 chip's outer
# edges, in fractions of the aligned image's side (continuous coordinates: the image spans [0, 1]).
# The mean of dlib.get_face_chip_details(68 landmarks, size=150, padding=0.25) over 106 aligned
# real faces (faces.align_face at 256 of scikit-image's astronaut and cameraman, flipped and
# rotated, and of its lfw_subset faces; std ~0.02 per edge); `python benchmarks/bench_dlib_resnet.py
# --chip_box` re-derives it; docs/dlib_resnet.md has how close the fixed crop comes to dlib's chip.
FFHQ_CHIP_BOX = (0.1559, 0.2600, 0.8488, 0.9528)

# dlib's network, dlib_face_recognition_resnet_model_v1 (tools/python/src/face_recognition.cpp,
# examples/dnn_face_recognition_ex.cpp): the residual levels, input side first, as
# (channels, down block first?, number of plain blocks).
_LEVELS = ((32, False, 3), (64, True, 3), (128, True, 2), (256, True, 2), (256, True, 0))


class DlibModelError(UserError, ValueError):
    """A file that is not dlib's face-recognition ResNet (dlib_face_recognition_resnet_model_v1)."""


def default_weights() -> str:
    """The .dat installed by `face-recognition-models` (nothing is downloaded)."""
    import face_recognition_models as frm
    return frm.face_recognition_model_location()


# ----------------------------------------------------------------------------------------------
# The network definition, outermost layer first (the order dlib's deserialize walks it).

def _block(n, stride):
    """dlib's `block<N, affine, stride, SUBNET>` = affine<con<N,3,3,1,1,relu<affine<con<N,3,3,
    stride,stride,SUBNET>>>>>, outermost first."""
    return [("affine",), ("con", n, 3, 1), ("relu",), ("affine",), ("con", n, 3, stride)]


def _ares(n):
    """relu<add_prev1<block<N,affine,1,tag1<SUBNET>>>>"""
    return [("relu",), ("add_prev", 1)] + _block(n, 1) + [("tag", 1)]


def _ares_down(n):
    """relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<N,affine,2,tag1<SUBNET>>>>>>>"""
    return ([("relu",), ("add_prev", 2), ("avg_pool", 2, 2), ("skip", 1), ("tag", 2)]
            + _block(n, 2) + [("tag", 1)])


def network_spec() -> list[tuple]:
    """The layers of anet_type, outermost (the loss) first, innermost (the input) last."""
    spec = [("loss_metric",), ("fc", EMBEDDING_DIM), ("avg_pool", 0, 1)]
    for n, down, plain in reversed(_LEVELS):
        spec += [layer for _ in range(plain) for layer in _ares(n)]
        if down:
            spec += _ares_down(n)
    spec += [("max_pool", 3, 2), ("relu",), ("affine",), ("con", 32, 7, 2), ("input", CHIP_SIZE)]
    return spec


# ----------------------------------------------------------------------------------------------
# dlib's serialization (dlib/serialize.h).

class _Stream:
    def __init__(self, data: bytes, path):
        self.data, self.pos, self.path = data, 0, path

    def fail(self, what):
        raise DlibModelError(f"{self.path}: not dlib's face-recognition ResNet "
                             f"(dlib_face_recognition_resnet_model_v1.dat): {what} at byte {self.pos}")

    def take(self, n):
        if self.pos + n > len(self.data):
            self.fail(f"file ends early (wanted {n} more bytes)")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def int(self, signed=True):
        """A control byte (bit 7: negative; low 4 bits: how many bytes follow), then the magnitude
        in little-endian bytes (dlib's pack_int / unpack_int)."""
        ctrl = self.take(1)[0]
        size = ctrl & 0x0F
        neg = bool(ctrl & 0x80)
        if size == 0 or size > 8 or ctrl & 0x70 or (neg and not signed):
            self.fail(f"bad integer control byte 0x{ctrl:02x}")
        value = int.from_bytes(self.take(size), "little")
        return -value if neg else value

    def float(self):
        """float_details: the mantissa (int64), then the exponent (int16); value = m * 2^e
        (exponents 32000/32001/32002: +inf, -inf, nan). The older ASCII form is refused."""
        if self.pos < len(self.data) and self.data[self.pos] & 0x70:
            self.fail("an ASCII-format float (pre-2013 dlib files are not supported)")
        mantissa, exponent = self.int(), self.int()
        if exponent >= 32000:
            return {32000: np.inf, 32001: -np.inf}.get(exponent, np.nan)
        return float(np.ldexp(np.float64(mantissa), exponent))

    def bool(self):
        c = self.take(1)
        if c not in (b"0", b"1"):
            self.fail(f"bad bool byte {c!r}")
        return c == b"1"

    def string(self):
        n = self.int(signed=False)
        if n > 1000:
            self.fail(f"a string of {n} bytes")
        return self.take(n).decode("latin-1")

    def expect_string(self, *allowed):
        at = self.pos
        s = self.string()
        if s not in allowed:
            self.pos = at
            self.fail(f"expected {' or '.join(map(repr, allowed))}, found {s!r}")
        return s

    def version(self, *allowed):
        v = self.int()
        if v not in allowed:
            self.fail(f"record version {v}, expected {allowed}")
        return v

    def tensor(self):
        """resizable_tensor: version 2, num_samples, k, nr, nc (int64 each), then the values as
        little-endian float32, num_samples*k*nr*nc of them."""
        self.version(2)
        shape = tuple(self.int() for _ in range(4))
        if min(shape) < 0 or np.prod(shape, dtype=np.int64) > 50_000_000:
            self.fail(f"bad tensor shape {shape}")
        n = int(np.prod(shape))
        return np.frombuffer(self.take(4 * n), "<f4").astype(np.float32).reshape(shape)

    def alias_tensor(self):
        """alias_tensor: version 1, then num_samples, k, nr, nc (a view's shape, no data)."""
        self.version(1)
        return tuple(self.int() for _ in range(4))


@dataclasses.dataclass
class DatFile:
    """The parsed file: the input's mean RGB, the layers innermost (input side) first, each a dict
    {"kind", ...parameters}, and the loss's margin / distance threshold."""
    path: str
    mean_rgb: tuple[float, float, float]
    layers: list[dict]
    loss: dict

    @property
    def num_weights(self) -> int:
        return int(sum(v.size for layer in self.layers for v in layer.values() if isinstance(v, np.ndarray)))


def _read_details(s: _Stream, spec: tuple, in_channels: int) -> dict:
    kind = spec[0]
    if kind == "con":
        _, n, size, stride = spec
        version = s.expect_string("con_4", "con_5", "con_6")
        params = s.tensor().reshape(-1)
        num_filters, nr, nc, sy, sx, py, px = (s.int() for _ in range(7))
        filt, bias_shape = s.alias_tensor(), s.alias_tensor()
        for _ in range(4):                 # learning-rate / weight-decay multipliers
            s.float()
        use_bias = s.bool() if version in ("con_5", "con_6") else True
        use_relu = s.bool() if version == "con_6" else False
        want_pad = 0 if stride != 1 else size // 2
        if (num_filters, nr, nc, sy, sx, py, px) != (n, size, size, stride, stride, want_pad, want_pad):
            s.fail(f"con_ layer is {num_filters} {nr}x{nc}/{sy},{sx} padding {py},{px}; the network "
                   f"has {n} {size}x{size}/{stride} padding {want_pad}")
        if filt != (n, in_channels, size, size) or use_relu or (use_bias and bias_shape != (1, n, 1, 1)):
            s.fail(f"con_ filters {filt}, biases {bias_shape} (relu fused: {use_relu}), expected "
                   f"{(n, in_channels, size, size)}")
        n_w = n * in_channels * size * size
        if params.size != n_w + (n if use_bias else 0):
            s.fail(f"con_ has {params.size} parameters, expected {n_w + (n if use_bias else 0)}")
        return {"kind": "con", "filters": params[:n_w].reshape(filt), "strides": stride,
                "padding": want_pad, "bias": params[n_w:] if use_bias else np.zeros(n, np.float32)}
    if kind == "affine":
        version = s.expect_string("affine_", "affine_2")
        params = s.tensor().reshape(-1)
        gamma, beta = s.alias_tensor(), s.alias_tensor()
        mode = s.int()
        disabled = s.bool() if version == "affine_2" else False
        if mode != 0 or disabled or gamma != (1, in_channels, 1, 1) or beta != gamma or \
                params.size != 2 * in_channels:
            s.fail(f"affine_ layer of mode {mode}, gamma {gamma}, {params.size} parameters "
                   f"(expected conv mode over {in_channels} channels)")
        return {"kind": "affine", "gamma": params[:in_channels], "beta": params[in_channels:]}
    if kind == "relu":
        if s.expect_string("relu_", "relu_2") == "relu_2" and s.bool():
            s.fail("a disabled relu_")
        return {"kind": "relu"}
    if kind in ("max_pool", "avg_pool"):
        _, size, stride = spec
        s.expect_string(f"{kind}_2")
        nr, nc, sy, sx, py, px = (s.int() for _ in range(6))
        want_pad = 0 if stride != 1 else size // 2
        if (nr, nc, sy, sx, py, px) != (size, size, stride, stride, want_pad, want_pad):
            s.fail(f"{kind}_ is {nr}x{nc}/{sy},{sx} padding {py},{px}; the network has "
                   f"{size}x{size}/{stride} padding {want_pad}")
        return {"kind": kind, "size": size, "strides": stride, "padding": want_pad}
    if kind == "add_prev":
        s.expect_string("add_prev_")
        return {"kind": "add_prev", "tag": spec[1]}
    if kind == "fc":
        version = s.expect_string("fc_2", "fc_3")
        num_outputs, num_inputs = s.int(signed=False), s.int(signed=False)
        params = s.tensor().reshape(-1)
        w_shape, _ = s.alias_tensor(), s.alias_tensor()
        bias_mode = s.int()
        for _ in range(4):
            s.float()
        if version == "fc_3":
            s.bool()
        if (num_outputs, num_inputs, bias_mode) != (spec[1], in_channels, 1) or \
                params.size != num_inputs * num_outputs or w_shape[:2] != (num_inputs, num_outputs):
            s.fail(f"fc_ layer {num_inputs} -> {num_outputs} (bias mode {bias_mode}, {params.size} "
                   f"parameters); the network has fc_no_bias {in_channels} -> {spec[1]}")
        return {"kind": "fc", "weights": params.reshape(num_inputs, num_outputs)}
    raise AssertionError(kind)


def _out_channels(spec_inner_first):
    """Channels after every layer (innermost first), following tags the way dlib's layer<tag> does."""
    ch, out, tags = 3, [], {}
    for spec in spec_inner_first:
        kind = spec[0]
        if kind == "con":
            ch = spec[1]
        elif kind == "tag":
            tags[spec[1]] = ch
        elif kind == "skip":
            ch = tags[spec[1]]
        elif kind == "add_prev":
            ch = max(ch, tags[spec[1]])
        out.append(ch)
    return out


def read_dat(path=None) -> DatFile:
    """Parse dlib_face_recognition_resnet_model_v1.dat (default: the installed one).

    Layout (dlib/dnn/core.h): add_loss_layer = int version 1, the loss details, its subnetwork;
    add_layer = int version (1-2; 2-3 right above the input), its subnetwork, then its layer
    details, three bools, the x_grad / cached_output (/ params_grad or grad_final) tensors (and
    the sample expansion factor, version 3 above the input); tag and skip layers = int version
    1 and their subnetwork (their ids are in the C++ type, not the file). So the file holds the
    versions from the loss inwards, the input layer, then every layer's details from the input out.
    """
    path = Path(path or default_weights())
    if not path.is_file():
        raise FileNotFoundError(f"dlib face-recognition model not found: {path}")
    s = _Stream(path.read_bytes(), path)
    spec = network_spec()
    channels_inner_first = _out_channels(spec[::-1])
    in_channels = {i: channels_inner_first[len(spec) - i - 2] if i < len(spec) - 1 else 3
                   for i in range(len(spec))}   # input channels of spec[i]

    s.version(1)                                           # add_loss_layer
    name = s.expect_string("loss_metric_", "loss_metric_2")
    loss = {"margin": 0.1, "dist_thresh": 0.75}
    if name == "loss_metric_2":
        loss = {"margin": s.float(), "dist_thresh": s.float()}
    # versions from the outermost layer in
    kinds = []
    for i, layer in enumerate(spec[1:-1], start=1):
        if layer[0] in ("tag", "skip"):
            s.version(1)
        else:
            above_input = i == len(spec) - 2
            kinds.append((i, s.version(*((2, 3) if above_input else (1, 2)))))
    s.expect_string("input_rgb_image_sized")
    mean_rgb = (s.float(), s.float(), s.float())
    nr, nc = s.int(signed=False), s.int(signed=False)
    if (nr, nc) != (CHIP_SIZE, CHIP_SIZE):
        s.fail(f"input of {nr}x{nc}, expected {CHIP_SIZE}x{CHIP_SIZE}")
    layers = []
    for i, version in reversed(kinds):                     # details from the input out
        details = _read_details(s, spec[i], in_channels[i])
        for _ in range(3):
            s.bool()
        s.tensor()                                         # x_grad
        s.tensor()                                         # cached_output
        if i == len(spec) - 2 or version == 2:
            s.tensor()                                     # grad_final / params_grad
        if i == len(spec) - 2 and version == 3:
            s.int(signed=False)                            # sample expansion factor
        layers.append(details)
    if s.pos != len(s.data):
        s.fail(f"{len(s.data) - s.pos} bytes left after the network")
    # tag / skip records become layers of their own (innermost first), for the graph builder
    graph, details = [], iter(layers)
    for layer in spec[-2:0:-1]:
        graph.append({"kind": layer[0], "tag": layer[1]} if layer[0] in ("tag", "skip") else next(details))
    return DatFile(str(path), mean_rgb, graph, loss)


@functools.lru_cache(maxsize=4)
def _read_cached(path: str) -> DatFile:
    return read_dat(path)


# ----------------------------------------------------------------------------------------------
# Keras.

def _keras_layers():
    import keras
    import tensorflow as tf

    class DlibInput(keras.layers.Layer):
        """(pixel - mean RGB) / 256, as input_rgb_image_sized::to_tensor."""

        def __init__(self, mean_rgb=(122.782, 117.001, 104.298), **kwargs):
            super().__init__(**kwargs)
            self.mean_rgb = tuple(float(v) for v in mean_rgb)

        def call(self, x):
            mean = tf.constant(np.asarray(self.mean_rgb, np.float32), self.compute_dtype)
            return (tf.cast(x, self.compute_dtype) - mean) / tf.constant(256.0, self.compute_dtype)

        def get_config(self):
            return {**super().get_config(), "mean_rgb": self.mean_rgb}

    class DlibAffine(keras.layers.Layer):
        """affine_ in conv mode: gamma[k] * x + beta[k]."""

        def build(self, input_shape):
            k = input_shape[-1]
            self.gamma = self.add_weight(shape=(k,), initializer="ones", name="gamma", trainable=False)
            self.beta = self.add_weight(shape=(k,), initializer="zeros", name="beta", trainable=False)

        def call(self, x):
            return x * self.gamma + self.beta

    class DlibAddPrev(keras.layers.Layer):
        """add_prev_: a + b after zero-extending both to the larger channels / rows / columns, the
        zeros at the end (high channels, bottom rows, right columns), as dlib's tt::add."""

        def call(self, inputs):
            a, b = inputs
            h, w, c = (max(a.shape[i], b.shape[i]) for i in (1, 2, 3))

            def extend(t):
                pad = [[0, 0], [0, h - t.shape[1]], [0, w - t.shape[2]], [0, c - t.shape[3]]]
                return tf.pad(t, pad) if any(p[1] for p in pad) else t
            return extend(a) + extend(b)

        def compute_output_shape(self, shapes):
            a, b = shapes
            return (a[0],) + tuple(max(a[i], b[i]) for i in (1, 2, 3))

    return DlibInput, DlibAffine, DlibAddPrev


def build_model(weights=None, dtype: str = "float32", name: str = "dlib_resnet", perturb=None):
    """Keras model: [B, 150, 150, 3] RGB chips, 0..255 floats (what dlib gets as uint8) -> [B, 128]
    descriptor, equal to dlib's compute_face_descriptor on the same chip (not L2-normalised).

    weights: the .dat (default: the installed one) or a parsed `DatFile`. dtype "float64" builds
    the same layers in double precision (the drift check). `perturb`: test hook, a function
    (layer_index, layer_dict) -> layer_dict applied before building (e.g. changing a padding).
    """
    import keras

    DlibInput, DlibAffine, DlibAddPrev = _keras_layers()
    dat = weights if isinstance(weights, DatFile) else _read_cached(str(weights or default_weights()))
    inp = keras.Input((CHIP_SIZE, CHIP_SIZE, 3), name="chip", dtype=dtype)
    x = DlibInput(dat.mean_rgb, dtype=dtype, name="input_rgb")(inp)
    tags, n_con, n_aff, n_add = {}, 0, 0, 0
    for i, layer in enumerate(dat.layers):
        layer = perturb(i, dict(layer)) if perturb else layer
        kind = layer["kind"]
        if kind == "tag":
            tags[layer["tag"]] = x
        elif kind == "skip":
            x = tags[layer["tag"]]
        elif kind == "con":
            f = layer["filters"]                               # [out, in, kh, kw]
            if layer["padding"]:
                x = keras.layers.ZeroPadding2D(layer["padding"], dtype=dtype)(x)
            conv = keras.layers.Conv2D(f.shape[0], f.shape[2:], strides=layer["strides"], padding="valid",
                                       dtype=dtype, name=f"con{n_con}", trainable=False)
            x = conv(x)
            conv.set_weights([f.transpose(2, 3, 1, 0), layer["bias"]])
            n_con += 1
        elif kind == "affine":
            aff = DlibAffine(dtype=dtype, name=f"affine{n_aff}")
            x = aff(x)
            aff.set_weights([layer["gamma"], layer["beta"]])
            n_aff += 1
        elif kind == "relu":
            x = keras.layers.ReLU(dtype=dtype)(x)
        elif kind == "max_pool":
            if layer["padding"]:
                raise NotImplementedError("padded max_pool")   # not in this network
            x = keras.layers.MaxPooling2D(layer["size"], layer["strides"], dtype=dtype)(x)
        elif kind == "avg_pool":
            if layer["size"] == 0:                             # avg_pool_everything
                x = keras.layers.GlobalAveragePooling2D(dtype=dtype, name="avg_pool_everything")(x)
            else:
                if layer["padding"]:
                    raise NotImplementedError("padded avg_pool")
                x = keras.layers.AveragePooling2D(layer["size"], layer["strides"], dtype=dtype)(x)
        elif kind == "add_prev":
            x = DlibAddPrev(dtype=dtype, name=f"add_prev{n_add}")([x, tags[layer["tag"]]])
            n_add += 1
        elif kind == "fc":
            if len(x.shape) != 2:      # dlib flattens k, nr, nc (channels first)
                x = keras.layers.Flatten(dtype=dtype)(keras.layers.Permute((3, 1, 2), dtype=dtype)(x))
            fc = keras.layers.Dense(layer["weights"].shape[1], use_bias=False, dtype=dtype, name="fc",
                                    trainable=False)
            x = fc(x)
            fc.set_weights([layer["weights"]])
        else:
            raise AssertionError(kind)
    model = keras.Model(inp, x, name=name)
    model.trainable = False
    model.embedding_dim = int(x.shape[-1])
    return model


@functools.lru_cache(maxsize=2)
def _cached_model(path: str):
    import tensorflow as tf
    model = build_model(path)
    fn = tf.function(lambda x: model(x, training=False), reduce_retracing=True, autograph=False)
    return model, fn


def descriptors(chips, weights=None, batch_size: int = 64) -> np.ndarray:
    """dlib's 128-d descriptors ([N, 128] float64, as compute_face_descriptor gives them) of
    150x150 RGB chips ([N, 150, 150, 3] or one [150, 150, 3]; uint8 or 0..255 floats)."""
    chips = np.asarray(chips)
    single = chips.ndim == 3
    chips = chips[None] if single else chips
    if chips.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3):
        raise ValueError(f"expected [N, {CHIP_SIZE}, {CHIP_SIZE}, 3] chips, got {chips.shape}")
    _, fn = _cached_model(str(weights or default_weights()))
    out = [np.asarray(fn(chips[i:i + batch_size].astype(np.float32)), np.float64)
           for i in range(0, len(chips), batch_size)]
    out = np.concatenate(out) if out else np.zeros((0, EMBEDDING_DIM))
    return out[0] if single else out


# ----------------------------------------------------------------------------------------------
# Chips.

def face_chip(image_u8, shape) -> np.ndarray:
    """dlib's own 150x150 chip (dlib.get_face_chip, padding 0.25) of a 68-point
    `dlib.full_object_detection`: what compute_face_descriptor(image, shape) feeds the network."""
    import dlib
    return np.asarray(dlib.get_face_chip(np.ascontiguousarray(image_u8), shape, size=CHIP_SIZE, padding=0.25))


def dlib_chip_box(image_u8, face_box=None) -> tuple[float, float, float, float, float]:
    """Where dlib's chip of the largest face (or of `face_box`) lies in `image_u8`: the chip's
    outer edges (left, top, right, bottom) in fractions of the image side (continuous
    coordinates, as FFHQ_CHIP_BOX), and its rotation (radians). From
    dlib.get_face_chip_details(68 landmarks, 150, 0.25): chip pixel u maps to rect.left + u *
    (rect.right - rect.left) / 149 (pixel centres at integers, extract_image_chips)."""
    import dlib

    from idd_tf.method import faces
    image_u8 = np.ascontiguousarray(image_u8)
    face_box = face_box or faces.largest_face(image_u8)
    shape = faces.dlib_models()["predictor"](image_u8, dlib.rectangle(*map(int, face_box)))
    d = dlib.get_face_chip_details(shape, CHIP_SIZE, 0.25)
    r, (h, w) = d.rect, image_u8.shape[:2]
    sx, sy = (r.right() - r.left()) / (CHIP_SIZE - 1), (r.bottom() - r.top()) / (CHIP_SIZE - 1)
    x0, y0 = r.left() + 0.5 - 0.5 * sx, r.top() + 0.5 - 0.5 * sy
    return (x0 / w, y0 / h, (x0 + CHIP_SIZE * sx) / w, (y0 + CHIP_SIZE * sy) / h, float(d.angle))


def chip_from_aligned(images, box=FFHQ_CHIP_BOX):
    """The fixed 150x150 chip of FFHQ-aligned square images (TensorFlow, differentiable, any
    value range: the output keeps the input's).

    Chip pixel u (0..149) samples the image at continuous position R * (box_l + (u + 0.5) *
    (box_r - box_l) / 150) (image edges at 0 and R) by bilinear interpolation; an image whose
    box is more than 1.5x the chip is first resized (antialiased) so that the box spans ~150
    pixels, as dlib's extract_image_chips samples from an image pyramid when it shrinks a lot.
    """
    import tensorflow as tf
    x = tf.convert_to_tensor(images)
    x = x if x.dtype.is_floating else tf.cast(x, tf.float32)
    size = int(x.shape[1])
    if x.shape[2] != size:
        raise ValueError(f"expected square images, got {x.shape}")
    span = (box[2] - box[0]) * size
    if span > 1.5 * CHIP_SIZE:
        size = int(round(CHIP_SIZE / (box[2] - box[0])))
        x = tf.cast(tf.image.resize(x, [size, size], method="bilinear", antialias=True), x.dtype)
    # normalised crop_and_resize boxes: index coordinate = continuous - 0.5, over (size - 1)
    first = [(size * box[j] + 0.5 * (box[j + 2] - box[j]) * size / CHIP_SIZE - 0.5) / (size - 1) for j in (1, 0)]
    last = [(size * box[j] + (CHIP_SIZE - 0.5) * (box[j + 2] - box[j]) * size / CHIP_SIZE - 0.5) / (size - 1)
            for j in (1, 0)]
    n = tf.shape(x)[0]
    boxes = tf.tile(tf.constant([first + last], tf.float32), [n, 1])
    out = tf.image.crop_and_resize(tf.cast(x, tf.float32), boxes, tf.range(n), [CHIP_SIZE, CHIP_SIZE],
                                   method="bilinear")
    return tf.cast(out, x.dtype)


def encoder(weights=None):
    """The method's E_id for id_encoder.arch="dlib_resnet": raw [-1, 1] RGB NHWC FFHQ-aligned
    images (any square size) -> the fixed chip -> dlib's ResNet -> L2-normalised 128-d. Frozen;
    `weights`: the .dat (default: the installed one)."""
    import keras
    import tensorflow as tf

    net = build_model(weights)

    class DlibIdentity(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.net = net
            self.embedding_dim = EMBEDDING_DIM
            self.trainable = False

        def call(self, images):
            x = tf.convert_to_tensor(images, tf.float32)
            chips = (chip_from_aligned(x) + 1.0) * 127.5
            return tf.math.l2_normalize(self.net(chips, training=False), axis=-1)

    return DlibIdentity(name="dlib_resnet_id")

