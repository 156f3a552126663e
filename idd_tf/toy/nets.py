"""The toy world's three pretrained networks, trained on `toyworld` renders (never on GAN output).

They stand in for what a real user downloads: E_id (VGGFace2 ResNet-50), E_lnd (a landmark net) and
the independent evaluator (ArcFace / dlib, used only for evaluation). Every net takes raw NHWC float
RGB in [-1, 1] (NVIDIA's range) at any square size and resizes internally (bilinear, antialiased).

    ToyIdentityNet(images) -> [B, 128] L2-normalised identity embedding (small residual CNN)
    ToyLandmarkNet(images) -> [B, 68, 2] (x, y) in [0, 1] image coordinates: literally
        `encoders.landmark_net`; its `.net` weights load into `encoders.LandmarkEncoder` too
        (LandmarkConfig(input_size, base_filters) from the JSON)
    Evaluator(images) -> {"embedding", "continuous", "<discrete factor>", "landmarks"} (plain
        VGG-style CNN with BN, no residuals; plays ArcFace's and dlib's role)
        .predict_factors(images) -> {factor name: [B] raw units (discrete: class ids)}
        .embed(images) -> [B, 96] L2-normalised; .predict_landmarks(images) -> [B, 68, 2] in [0, 1]
    save_net(model, directory) / load_net(directory, net) / load_toy_networks(directory): files
        toy_<net>.weights.h5 + toy_<net>.json (net: "id", "lnd", "evaluator")
    How they are trained and measured (render streams, held-out reports, targets): `toynet_training`.

[0, 1] landmark coordinates are image fractions: toyworld pixel coordinates have pixel centres at
integers, so fraction = (pixel + 0.5) / R. Seeds (`SEEDS`): each net trains on its own seed's people
and is measured on people from another seed; the evaluator never sees E_id's people.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from idd_tf.method import encoders
from idd_tf.toy import world as toyworld

NETS = ("id", "lnd", "evaluator")
SEEDS = {"id": 101, "id_heldout": 102, "lnd": 201, "lnd_heldout": 202,
         "evaluator": 301, "evaluator_heldout": 302}
CIRCULAR_FACTORS = ("bg_hue", "clothes_hue")   # hue wraps: 0 and 1 render identically
_ALL_FACTORS = {f.name: f for f in toyworld.IDENTITY_FACTORS + toyworld.ATTRIBUTE_FACTORS}
CONTINUOUS = tuple(n for n in toyworld.FACTOR_NAMES if _ALL_FACTORS[n].kind == "continuous")
DISCRETE = tuple(n for n in toyworld.FACTOR_NAMES if _ALL_FACTORS[n].kind == "discrete")


def resize_input(images, size):
    """Raw [-1, 1] NHWC images -> [B, size, size, 3] float32 (bilinear, antialiased when shrinking)."""
    x = tf.convert_to_tensor(images, tf.float32)
    if x.shape[1] == size and x.shape[2] == size:
        return x
    return tf.image.resize(x, [size, size], method="bilinear", antialias=True)


def to_float(images_u8):
    """uint8 RGB -> float32 in [-1, 1]."""
    return np.asarray(images_u8, np.float32) / 127.5 - 1.0


# ----------------------------------------------------------------------------------------------
# Networks.

def _conv_bn(x, filters, strides, name, relu=True, kernel=3):
    x = keras.layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False,
                            name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _res_block(x, filters, strides, name):
    y = _conv_bn(x, filters, strides, f"{name}_a")
    y = _conv_bn(y, filters, 1, f"{name}_b", relu=False)
    if strides != 1 or x.shape[-1] != filters:
        x = _conv_bn(x, filters, strides, f"{name}_proj", relu=False, kernel=1)
    return keras.layers.ReLU(name=f"{name}_out")(keras.layers.Add(name=f"{name}_add")([x, y]))


def identity_backbone(input_size=64, widths=(24, 48, 96, 96), embedding_dim=128):
    """Residual CNN: stride-2 stem, one residual block per width (stride 2), 4x4 map -> Dense."""
    inp = keras.Input((input_size, input_size, 3), name="image")
    x = _conv_bn(inp, widths[0], 2, "stem")
    for i, w in enumerate(widths):
        x = _res_block(x, w, 1 if i == 0 else 2, f"res{i}")
    x = _conv_bn(x, 32, 1, "squeeze", kernel=1)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dropout(0.1, name="dropout")(x)
    x = keras.layers.Dense(embedding_dim, name="embedding")(x)
    return keras.Model(inp, x, name="toy_id_backbone")


class ToyIdentityNet(keras.Model):
    """Toy E_id: raw [-1, 1] RGB NHWC (any size) -> [B, embedding_dim] L2-normalised embedding."""

    def __init__(self, input_size=64, widths=(24, 48, 96, 96), embedding_dim=128, **kwargs):
        super().__init__(**kwargs)
        self.input_size, self.widths, self.embedding_dim = int(input_size), tuple(widths), int(embedding_dim)
        self.backbone = identity_backbone(self.input_size, self.widths, self.embedding_dim)

    def call(self, images, training=False):
        x = self.backbone(resize_input(images, self.input_size), training=training)
        return tf.math.l2_normalize(x, axis=-1)

    def get_config(self):
        return {**super().get_config(), "input_size": self.input_size, "widths": list(self.widths),
                "embedding_dim": self.embedding_dim}


class ToyLandmarkNet(keras.Model):
    """Toy E_lnd: raw [-1, 1] RGB NHWC (any size) -> [B, 68, 2] (x, y) in [0, 1] image coordinates.
    `self.net` is `encoders.landmark_net(input_size, base_filters)` (the project's E_lnd)."""

    def __init__(self, input_size=64, base_filters=12, **kwargs):
        super().__init__(**kwargs)
        self.input_size, self.base_filters = int(input_size), int(base_filters)
        self.net = encoders.landmark_net(self.input_size, self.base_filters)

    def call(self, images, training=False):
        return self.net(resize_input(images, self.input_size), training=training)

    def get_config(self):
        return {**super().get_config(), "input_size": self.input_size, "base_filters": self.base_filters}


def _factor_outputs():
    """Layout of the evaluator's continuous head: one unit per factor (its range mapped to [-1, 1]),
    two (cos, sin) per circular factor."""
    out, i = {}, 0
    for n in CONTINUOUS:
        k = 2 if n in CIRCULAR_FACTORS else 1
        out[n] = (i, k)
        i += k
    return out, i


def evaluator_backbone(input_size=64, widths=(32, 48, 64, 96), hidden=160, batch_norm=True, stem_stride=2):
    """Plain VGG-style CNN (no residuals): a 5x5 stem that halves the size (`stem_stride` 2, or 1
    followed by a 2x2 max-pool: every pixel phase seen, for thin lines), then per stage 3x3
    conv(+BN)+ReLU layers and a 2x2 max-pool; 4x4 map -> Dense."""
    inp = keras.Input((input_size, input_size, 3), name="image")

    def conv(t, w, k, strides, name):
        t = keras.layers.Conv2D(w, k, strides=strides, padding="same", use_bias=not batch_norm, name=name)(t)
        t = keras.layers.BatchNormalization(name=f"{name}_bn")(t) if batch_norm else t
        return keras.layers.ReLU(name=f"{name}_relu")(t)

    x = conv(inp, widths[0], 5, stem_stride, "stem")
    if stem_stride == 1:
        x = keras.layers.MaxPooling2D(2, name="stem_pool")(x)
    for i, w in enumerate(widths):
        x = conv(x, w, 3, 1, f"conv{i}a")
        if i:
            x = conv(x, w, 3, 1, f"conv{i}b")
        x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x) if x.shape[1] > 4 else x
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(hidden, activation="relu", name="fc")(x)
    return keras.Model(inp, x, name="evaluator_backbone")


class Evaluator(keras.Model):
    """Independent evaluator: raw [-1, 1] RGB NHWC (any size) -> every toy-world factor, an
    identity embedding and its own 68 landmarks. call() -> {"embedding": [B, d] L2-normalised,
    "features": [B, hidden] (the penultimate layer: the feature space of FID/KID),
    "continuous": [B, C] (see `_factor_outputs`), "<discrete factor>": [B, classes] logits,
    "landmarks": [B, 68, 2] in [0, 1]}."""

    def __init__(self, input_size=64, widths=(32, 48, 64, 96), hidden=160, embedding_dim=96, batch_norm=True,
                 head_hidden=256, stem_stride=2, **kwargs):
        super().__init__(**kwargs)
        self.input_size, self.widths = int(input_size), tuple(widths)
        self.hidden, self.embedding_dim, self.batch_norm = int(hidden), int(embedding_dim), bool(batch_norm)
        self.head_hidden, self.stem_stride = int(head_hidden), int(stem_stride)
        if self.stem_stride not in (1, 2):
            raise ValueError(f"stem_stride must be 1 or 2, got {stem_stride}")
        self.layout, n_cont = _factor_outputs()
        self.backbone = evaluator_backbone(self.input_size, self.widths, self.hidden, self.batch_norm,
                                           self.stem_stride)
        self.continuous_head = keras.Sequential(   # an MLP: factors are nonlinear in the geometry
            ([keras.layers.Dense(self.head_hidden, activation="relu", name="continuous_hidden")]
             if self.head_hidden else []) + [keras.layers.Dense(n_cont, name="continuous")], name="continuous_head")
        self.discrete_heads = [keras.layers.Dense(int(_ALL_FACTORS[n].high), name=f"cls_{n}") for n in DISCRETE]
        self.embedding_head = keras.layers.Dense(self.embedding_dim, name="embedding")
        self.landmark_head = keras.layers.Dense(2 * 68, activation="sigmoid", name="landmarks")

    def call(self, images, training=False):
        h = self.backbone(resize_input(images, self.input_size), training=training)
        out = {"embedding": tf.math.l2_normalize(self.embedding_head(h), axis=-1), "features": h,
               "continuous": self.continuous_head(h),
               "landmarks": tf.reshape(self.landmark_head(h), [-1, 68, 2])}
        for n, head in zip(DISCRETE, self.discrete_heads):
            out[n] = head(h)
        return out

    def embed(self, images, batch_size=256) -> np.ndarray:
        """[B, embedding_dim] L2-normalised identity embeddings (numpy)."""
        return np.concatenate([self(images[i:i + batch_size])["embedding"].numpy()
                               for i in range(0, len(images), batch_size)])

    def predict_landmarks(self, images, batch_size=256) -> np.ndarray:
        """[B, 68, 2] (x, y) in [0, 1] image coordinates (numpy; the evaluator's own, like dlib's)."""
        return np.concatenate([self(images[i:i + batch_size])["landmarks"].numpy()
                               for i in range(0, len(images), batch_size)])

    def predict_factors(self, images, batch_size=256) -> dict:
        """{factor name: [B] float (raw units; circular hues in [0, 1)) or int (class id)}."""
        outs = [self(images[i:i + batch_size]) for i in range(0, len(images), batch_size)]
        return decode_factors({k: np.concatenate([o[k].numpy() for o in outs]) for k in outs[0]
                               if k not in ("embedding", "landmarks", "features")})

    def get_config(self):
        return {**super().get_config(), "input_size": self.input_size, "widths": list(self.widths),
                "hidden": self.hidden, "embedding_dim": self.embedding_dim, "batch_norm": self.batch_norm,
                "head_hidden": self.head_hidden, "stem_stride": self.stem_stride}


def factor_targets(factors: np.ndarray) -> dict:
    """[B, len(FACTOR_NAMES)] factor vectors -> the evaluator's training targets:
    {"continuous": [B, C] float32, "<discrete>": [B] int32}."""
    factors = np.asarray(factors, np.float64)
    col = {n: factors[:, j] for j, n in enumerate(toyworld.FACTOR_NAMES)}
    parts = []
    for n in CONTINUOUS:
        f, v = _ALL_FACTORS[n], col[n]
        if n in CIRCULAR_FACTORS:
            parts += [np.cos(2 * np.pi * v), np.sin(2 * np.pi * v)]
        else:
            parts.append(2.0 * (v - f.low) / (f.high - f.low) - 1.0)
    out = {"continuous": np.stack(parts, 1).astype(np.float32)}
    out.update({n: col[n].astype(np.int32) for n in DISCRETE})
    return out


def target_weights(weights: dict) -> np.ndarray:
    """{continuous factor name: loss weight} (others 1) -> float32 [C], one per column of
    `factor_targets(...)["continuous"]` (a hue's cos and sin columns both get its weight)."""
    unknown = set(weights) - set(CONTINUOUS)
    if unknown:
        raise ValueError(f"not continuous factors: {sorted(unknown)}")
    layout, size = _factor_outputs()
    out = np.ones(size, np.float32)
    for n, w in weights.items():
        i, k = layout[n]
        out[i:i + k] = w
    return out


def decode_factors(outputs: dict) -> dict:
    """The evaluator's raw outputs {"continuous": [B, C], "<discrete>": [B, k] logits or one-hot}
    -> {factor name: [B] raw units (hues in [0, 1)) or class ids}; inverse of `factor_targets`."""
    layout, _ = _factor_outputs()
    cont = np.asarray(outputs["continuous"], np.float64)
    res = {}
    for n in CONTINUOUS:
        f, (i, k) = _ALL_FACTORS[n], layout[n]
        if k == 2:
            res[n] = (np.arctan2(cont[:, i + 1], cont[:, i]) / (2 * np.pi)) % 1.0
        else:
            res[n] = f.low + (cont[:, i] + 1.0) * 0.5 * (f.high - f.low)
    for n in DISCRETE:
        res[n] = np.asarray(outputs[n]).argmax(-1)
    return res


class CosFaceHead(keras.layers.Layer):
    """Training-only classifier: s * (cos(theta) - m [true class]) over normalised class weights
    (CosFace, Wang et al. 2018). call(embeddings, labels) -> logits."""

    def __init__(self, num_classes, scale=30.0, margin=0.35, **kwargs):
        super().__init__(**kwargs)
        self.num_classes, self.scale, self.margin = int(num_classes), float(scale), float(margin)

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(int(input_shape[-1]), self.num_classes),
                                      initializer="glorot_uniform", name="kernel")

    def call(self, embeddings, labels):
        cos = tf.matmul(tf.math.l2_normalize(embeddings, -1), tf.math.l2_normalize(self.kernel, 0))
        return self.scale * (cos - self.margin * tf.one_hot(labels, self.num_classes))

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "scale": self.scale,
                "margin": self.margin}


# ----------------------------------------------------------------------------------------------
# Saving / loading.

_CLASSES = {"id": ToyIdentityNet, "lnd": ToyLandmarkNet, "evaluator": Evaluator}
_CONFIG_KEYS = {"id": ("input_size", "widths", "embedding_dim"), "lnd": ("input_size", "base_filters"),
                "evaluator": ("input_size", "widths", "hidden", "embedding_dim", "batch_norm", "head_hidden",
                              "stem_stride")}


def build_net(net: str, **config) -> keras.Model:
    """A fresh (random) net by name ('id', 'lnd', 'evaluator'), built (weights created)."""
    model = _CLASSES[net](**config, name=f"toy_{net}")
    model(tf.zeros([1, model.input_size, model.input_size, 3]))
    return model


def file_names(net: str) -> dict:
    return {"weights": f"toy_{net}.weights.h5", "config": f"toy_{net}.json",
            "report": f"toy_{net}_report.json", "card": f"MODEL_CARD_{net}.md"}


def net_config(model) -> dict:
    net = next(k for k, c in _CLASSES.items() if isinstance(model, c))
    cfg = model.get_config()
    return {"net": net, "class": type(model).__name__, "config": {k: cfg[k] for k in _CONFIG_KEYS[net]},
            "input": "raw NHWC float32 RGB in [-1, 1], any square size (resized internally)",
            "world": toyworld.WORLD_VERSION}


def save_net(model, directory, extra: dict | None = None) -> dict:
    """Write `toy_<net>.weights.h5` and `toy_<net>.json` into `directory`; returns their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    info = net_config(model)
    names = file_names(info["net"])
    import os

    from idd_tf.utils.fileio import atomic_write_bytes
    tmp = directory / f".{names['weights']}.tmp.weights.h5"   # atomic: write, then rename
    try:
        if info["net"] == "lnd":   # the inner landmark_net, so encoders.LandmarkEncoder can load it too
            model.net.save_weights(tmp)
            info["landmark_encoder"] = {"input_size": model.input_size, "base_filters": model.base_filters}
        else:
            model.save_weights(tmp)
        os.replace(tmp, directory / names["weights"])
    finally:
        tmp.unlink(missing_ok=True)
    atomic_write_bytes(directory / names["config"], (json.dumps({**info, **(extra or {})}, indent=2) + "\n").encode())
    return {k: directory / names[k] for k in ("weights", "config")}


def check_world(config_path) -> dict:
    """The toy net's json at `config_path`, refused (ValueError) unless it was trained on this
    code's toy world (`toyworld.WORLD_VERSION`; files from before versions were recorded: world 1)."""
    info = json.loads(Path(config_path).read_text())
    world = info.get("world", 1)
    if world != toyworld.WORLD_VERSION:
        raise ValueError(f"{config_path}: trained on toy world v{world}, but this code renders "
                         f"world v{toyworld.WORLD_VERSION}; its numbers would not hold. Rebuild it "
                         "(python scripts/build_toy_world.py) or use the idd-tf version it came with")
    return info


def load_net(directory, net: str) -> keras.Model:
    """Rebuild net `net` from `toy_<net>.json` in `directory` and load `toy_<net>.weights.h5`."""
    if net not in _CLASSES:
        raise ValueError(f"unknown toy net {net!r}; one of {NETS}")
    names = file_names(net)
    directory = Path(directory)
    for key in ("config", "weights"):
        if not (directory / names[key]).is_file():
            raise FileNotFoundError(f"toy {net} network: missing {directory / names[key]} "
                                    f"(train it with scripts/train_toy_nets.py --net {net})")
    info = check_world(directory / names["config"])
    model = build_net(net, **info["config"])
    (model.net if net == "lnd" else model).load_weights(directory / names["weights"])
    model.trainable = False
    return model


def load_toy_networks(directory, nets=NETS) -> dict:
    """{"id": ToyIdentityNet, "lnd": ToyLandmarkNet, "evaluator": Evaluator} from `directory`."""
    return {n: load_net(directory, n) for n in nets}


# ----------------------------------------------------------------------------------------------
# What the toy world adds to the method (setup.cfg entry points, read by idd_tf.method.registry).

def identity_encoder(weights):
    """`id_encoder.arch="toy"`: the toy E_id (`ToyIdentityNet`) from its toy_id.weights.h5 (or the
    directory holding it and toy_id.json); random init when `weights` is None (tests only)."""
    if not weights:
        return build_net("id")
    path = Path(weights)
    if not path.exists():
        raise FileNotFoundError(f"toy E_id not found: {path}")
    directory = path if path.is_dir() else path.parent
    if path.is_file() and path.name != file_names("id")["weights"]:
        raise ValueError(f"toy E_id weights must be named {file_names('id')['weights']} "
                         f"(with toy_id.json beside it), got {path}")
    return load_net(directory, "id")


def check_landmark_file(weights_path) -> None:
    """A toy E_lnd (toy_lnd.weights.h5 with toy_lnd.json beside it) must come from this code's toy
    world, as `load_net` requires of every toy net; other landmark files pass."""
    weights_path = Path(weights_path)
    names = file_names("lnd")
    if weights_path.name == names["weights"] and (weights_path.parent / names["config"]).is_file():
        check_world(weights_path.parent / names["config"])
