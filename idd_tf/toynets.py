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
    verification_report, landmark_report, factor_report (R^2, circular for hues; accuracy),
        evaluate_net(net, model, heldout_sets(net)): the held-out numbers, as dicts

[0, 1] landmark coordinates are image fractions: toyworld pixel coordinates have pixel centres at
integers, so fraction = (pixel + 0.5) / R. Seeds (`SEEDS`): each net trains on its own seed's people
and is measured on people from another seed; the evaluator never sees E_id's people.
"""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from idd_tf import encoders, metrics, toy_evaluation, toyworld

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


def learning_rate(step, steps, peak):
    """The toy nets' schedule: linear warm-up over 5% of `steps` to `peak`, then cosine decay to 2%."""
    warm = max(1, steps // 20)
    if step < warm:
        return peak * (step + 1) / warm
    t = (step - warm) / max(1, steps - warm)
    return peak * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))


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
    from idd_tf.data import atomic_write_bytes
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
# Data: renders as arrays.

def render_people(persons, views, seed, resolution=64) -> dict:
    """Renders of (persons[i], views[i]) from `toyworld.person_example(.., seed)`:
    {"images": uint8 [N, R, R, 3], "person": int64 [N], "factors": float32 [N, F],
     "landmarks": float32 [N, 68, 2] in [0, 1] image coordinates}."""
    ims, lms, fac = [], [], []
    for p, v in zip(persons, views, strict=True):
        e = toyworld.person_example(int(p), int(v), seed=seed, resolution=resolution)
        ims.append(e["image"])
        lms.append((e["landmarks"] + 0.5) / resolution)
        fac.append(toyworld.factor_vector(e["identity"], e["attributes"]))
    return {"images": np.stack(ims), "person": np.asarray(persons, np.int64),
            "factors": np.stack(fac).astype(np.float32), "landmarks": np.stack(lms).astype(np.float32)}


class RenderStream:
    """Deterministic, background-rendered training batches.

    Image i of the stream is `person_example(p_i, v_i, seed)` with (p_i, v_i) drawn from
    rng [seed, i] (p_i < num_persons). Batch `step` samples `batch_size` images uniformly from the
    window [step * fresh, step * fresh + window): every step brings `fresh` new renders and each
    render is used about batch_size / fresh times. A background thread renders ahead into a ring
    buffer. batch(step) is a pure function of (seed, step), so a resumed run sees the same data.

    With `labelled_persons` L, half the renders (on average) come from people 0..L-1 (enough views
    per person for an identity loss) and the rest from all `num_persons` people (diverse identity
    factors); batch["labelled"] says which.
    """

    def __init__(self, seed, num_persons, batch_size, fresh, window, resolution=64, start_step=0,
                 labelled_persons=None):
        self.seed, self.num_persons, self.batch_size = int(seed), int(num_persons), int(batch_size)
        self.labelled_persons = None if labelled_persons is None else int(labelled_persons)
        self.fresh, self.window, self.resolution = int(fresh), int(window), int(resolution)
        self.cap = self.window + 8 * self.fresh
        r = self.resolution
        self.buf = {"images": np.zeros((self.cap, r, r, 3), np.uint8),
                    "person": np.zeros((self.cap,), np.int64),
                    "labelled": np.zeros((self.cap,), bool),
                    "factors": np.zeros((self.cap, len(toyworld.FACTOR_NAMES)), np.float32),
                    "landmarks": np.zeros((self.cap, 68, 2), np.float32)}
        self.low = start_step * self.fresh      # smallest index still needed
        self.produced = self.low                # next index to render
        self.cond = threading.Condition()
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def item(self, i):
        """(person, view, labelled) of render i."""
        rng = np.random.default_rng([self.seed, i])
        if self.labelled_persons is None:
            return int(rng.integers(self.num_persons)), int(rng.integers(2 ** 31)), True
        labelled = bool(rng.random() < 0.5)
        p = int(rng.integers(self.labelled_persons if labelled else self.num_persons))
        return p, int(rng.integers(2 ** 31)), labelled or p < self.labelled_persons

    def _run(self):
        i = self.produced
        while True:
            with self.cond:
                while not self.stop and i >= self.low + self.cap:
                    self.cond.wait()
                if self.stop:
                    return
            p, v, labelled = self.item(i)
            e = render_people([p], [v], self.seed, self.resolution)
            s = i % self.cap
            e["labelled"] = np.array([labelled])
            for k in self.buf:
                self.buf[k][s] = e[k][0]
            with self.cond:
                self.produced = i + 1
                self.cond.notify_all()
            i += 1

    def batch(self, step) -> dict:
        lo = step * self.fresh
        with self.cond:
            if lo < self.low:
                raise ValueError("RenderStream batches must be requested in increasing step order")
            self.low = lo
            self.cond.notify_all()
            while self.produced < lo + self.window:
                self.cond.wait()
        idx = lo + np.random.default_rng([self.seed, 1 << 20, step]).integers(self.window, size=self.batch_size)
        out = {k: v[idx % self.cap] for k, v in self.buf.items()}
        with self.cond:
            self.low = lo + self.fresh
            self.cond.notify_all()
        return out

    def close(self):
        with self.cond:
            self.stop = True
            self.cond.notify_all()
        self.thread.join()


# ----------------------------------------------------------------------------------------------
# Reports (pure functions of arrays).

def _pair_scores(emb, labels):
    emb, labels = np.asarray(emb, np.float64), np.asarray(labels)
    emb = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    iu = np.triu_indices(len(emb), 1)
    sim = (emb @ emb.T)[iu]
    same = (labels[:, None] == labels[None, :])[iu]
    return sim, same


def _balanced_accuracy(sim, same, thr):
    tpr = float(np.mean(sim[same] >= thr))
    tnr = float(np.mean(sim[~same] < thr))
    return 0.5 * (tpr + tnr), tpr, tnr


def verification_report(emb_threshold, labels_threshold, emb_test, labels_test) -> dict:
    """Face verification on all pairs of two disjoint sets of people: the cosine threshold that
    maximises the balanced pair accuracy ((TPR + TNR) / 2, = the accuracy on equally many same and
    different pairs) is chosen on the first set, the accuracy is measured on the second."""
    s_thr, y_thr = _pair_scores(emb_threshold, labels_threshold)
    s_test, y_test = _pair_scores(emb_test, labels_test)
    if not (y_thr.any() and (~y_thr).any() and y_test.any() and (~y_test).any()):
        raise ValueError("each split needs same-person and different-person pairs")
    cand = np.unique(np.r_[s_thr, -1.0, 1.0 + 1e-9])
    cand = cand[np.linspace(0, len(cand) - 1, min(len(cand), 2000)).astype(int)]
    accs = [_balanced_accuracy(s_thr, y_thr, t)[0] for t in cand]
    thr = float(cand[int(np.argmax(accs))])
    acc, tpr, tnr = _balanced_accuracy(s_test, y_test, thr)
    return {"accuracy": acc, "tpr": tpr, "tnr": tnr, "threshold": thr,
            "threshold_split_accuracy": float(max(accs)),
            "same_pairs": int(y_test.sum()), "different_pairs": int((~y_test).sum()),
            "mean_similarity_same": float(s_test[y_test].mean()),
            "mean_similarity_different": float(s_test[~y_test].mean())}


def landmark_report(pred, ref) -> dict:
    """NME (mean point error / outer-eye-corner distance of `ref`, points 36 and 45; `metrics.nme`)."""
    per = metrics.nme(pred, ref, per_image=True)
    return {"nme": float(per.mean()), "nme_median": float(np.median(per)),
            "nme_p95": float(np.percentile(per, 95)), "images": int(len(per))}


def r2_score(pred, true, circular=False) -> float:
    """Coefficient of determination 1 - SS_res / SS_tot; `circular`: residuals wrapped to
    [-0.5, 0.5) (a hue in [0, 1)) and SS_tot about the true values' circular mean."""
    pred, true = np.asarray(pred, np.float64), np.asarray(true, np.float64)
    if circular:
        wrap = lambda d: (d + 0.5) % 1.0 - 0.5  # noqa: E731
        ang = 2 * np.pi * true
        mean = (np.arctan2(np.sin(ang).mean(), np.cos(ang).mean()) / (2 * np.pi)) % 1.0
        res, tot = wrap(pred - true), wrap(true - mean)
    else:
        res, tot = pred - true, true - true.mean()
    return float(1.0 - np.sum(res ** 2) / np.sum(tot ** 2))


def factor_report(pred: dict, factors, effects: dict | None = None) -> dict:
    """R^2 per continuous factor (circular for CIRCULAR_FACTORS) and accuracy per discrete factor of
    `pred` (name -> [N]) against true factor vectors [N, len(FACTOR_NAMES)]. With `effects`
    (`toy_evaluation.factor_effects` of the same renders) also, per continuous factor, "effects":
    {"r2_where_visible": R^2 over the renders the factor changes, "invisible": how many it does
    not change, "pixels_median", "landmark_shift_median": its whole range's median effect}."""
    factors = np.asarray(factors)
    col = {n: factors[:, j] for j, n in enumerate(toyworld.FACTOR_NAMES)}
    r2 = {n: r2_score(pred[n], col[n], n in CIRCULAR_FACTORS) for n in CONTINUOUS if n in pred}
    acc = {n: float(np.mean(np.asarray(pred[n]).astype(int) == col[n].astype(int)))
           for n in DISCRETE if n in pred}
    out = {"r2": r2, "accuracy": acc, "r2_min": min(r2.values()) if r2 else None,
           "accuracy_min": min(acc.values()) if acc else None, "images": int(len(factors))}
    if effects:
        out["effects"] = {}
        for n in r2:
            px, seen = effects[n]["pixels"], effects[n]["pixels"] > 0
            out["effects"][n] = {
                "r2_where_visible": (r2_score(np.asarray(pred[n])[seen], col[n][seen], n in CIRCULAR_FACTORS)
                                     if seen.sum() > 2 else None),
                "invisible": int((~seen).sum()), "pixels_median": float(np.median(px)),
                "landmark_shift_median": float(np.median(effects[n]["landmark_shift"]))}
    return out


def embed(model, images_u8, batch_size=256) -> np.ndarray:
    """Embeddings of uint8 images by a ToyIdentityNet or Evaluator (numpy, batched)."""
    out = []
    for i in range(0, len(images_u8), batch_size):
        y = model(to_float(images_u8[i:i + batch_size]))
        out.append((y["embedding"] if isinstance(y, dict) else y).numpy())
    return np.concatenate(out)


def heldout_sets(net, persons=100, views=4, images=400, resolution=64, first_person=0,
                 content_images=2000, effects=False) -> dict:
    """The held-out renders a net is measured on (seed SEEDS[net + '_heldout']): for 'id' and
    'evaluator' (embedding) two disjoint sets of `persons` people x `views` views (threshold split,
    test split; people first_person ..); for 'lnd' and 'evaluator' (factors) `images` renders of
    different people (10000 + first_person ..); for 'id' (identity content) `content_images`
    renders of different people (20000 + first_person ..; 3/4 fit, 1/4 test). `effects`: the
    evaluator's factor renders also carry `toy_evaluation.factor_effects` (2 renders per factor each)."""
    seed = SEEDS[f"{net}_heldout"]
    out = {}
    if net in ("id", "evaluator"):
        p = np.repeat(np.arange(first_person, first_person + 2 * persons), views)
        v = np.tile(np.arange(views), 2 * persons)
        half = persons * views
        out["threshold"] = render_people(p[:half], v[:half], seed, resolution)
        out["test"] = render_people(p[half:], v[half:], seed, resolution)
    if net in ("lnd", "evaluator"):
        out["single"] = render_people(np.arange(10_000 + first_person, 10_000 + first_person + images),
                                      np.zeros(images, int), seed, resolution)
        if net == "evaluator" and effects:
            out["single"]["effects"] = toy_evaluation.factor_effects(out["single"]["factors"], CONTINUOUS, resolution)
    if net == "id" and content_images:
        out["content"] = render_people(np.arange(20_000 + first_person, 20_000 + first_person + content_images),
                                       np.zeros(content_images, int), seed, resolution)
    return out


IDENTITY_CONTINUOUS = tuple(f.name for f in toyworld.IDENTITY_FACTORS if f.kind == "continuous")


def identity_content_report(emb_fit, factors_fit, emb_test, factors_test, ridge=0.01) -> dict:
    """How much of each continuous identity factor an embedding carries: R^2 on the test renders
    of a ridge regression (standardised inputs, penalty `ridge` x N) fitted on the fit renders.
    Verification accuracy only asks that people be told apart, which a few salient factors
    (skin, hair) suffice for; L_id can only keep in I_out what E_id's embedding carries."""
    xf, xt = np.asarray(emb_fit, np.float64), np.asarray(emb_test, np.float64)
    mu, sd = xf.mean(0), xf.std(0) + 1e-8
    a = np.c_[(xf - mu) / sd, np.ones(len(xf))]
    b = np.c_[(xt - mu) / sd, np.ones(len(xt))]
    cols = [toyworld.FACTOR_NAMES.index(n) for n in IDENTITY_CONTINUOUS]
    yf, yt = np.asarray(factors_fit)[:, cols], np.asarray(factors_test)[:, cols]
    coef = np.linalg.solve(a.T @ a + ridge * len(a) * np.eye(a.shape[1]), a.T @ yf)
    pred = b @ coef
    r2 = {n: r2_score(pred[:, j], yt[:, j]) for j, n in enumerate(IDENTITY_CONTINUOUS)}
    return {"r2": r2, "mean_r2": float(np.mean(list(r2.values()))), "fit": len(xf), "test": len(xt)}


def evaluate_net(net, model, sets) -> dict:
    """The held-out report of `model` (a net named `net`) on `heldout_sets(net)`."""
    rep = {}
    if net in ("id", "evaluator"):
        a, b = sets["threshold"], sets["test"]
        rep["verification"] = verification_report(embed(model, a["images"]), a["person"],
                                                  embed(model, b["images"]), b["person"])
    if "content" in sets:
        c = sets["content"]
        e, fit = embed(model, c["images"]), (3 * len(c["images"])) // 4
        rep["identity_content"] = identity_content_report(e[:fit], c["factors"][:fit], e[fit:], c["factors"][fit:])
    if net in ("lnd", "evaluator"):
        s = sets["single"]
        pred = (model.predict_landmarks(to_float(s["images"])) if net == "evaluator" else
                np.concatenate([model(to_float(s["images"][i:i + 256])).numpy()
                                for i in range(0, len(s["images"]), 256)]))
        mean_shape = np.broadcast_to(s["landmarks"].mean(0), s["landmarks"].shape)
        rep["landmarks"] = landmark_report(pred, s["landmarks"])
        rep["landmarks"]["nme_mean_shape_baseline"] = metrics.nme(mean_shape, s["landmarks"])
    if net == "evaluator":
        s = sets["single"]
        rep["factors"] = factor_report(model.predict_factors(to_float(s["images"])), s["factors"], s.get("effects"))
    return rep


TARGETS = {"verification_accuracy": 0.95, "nme": 0.03, "r2": 0.9, "discrete_accuracy": 0.95}


def targets_met(net, report) -> dict:
    """{target name: bool} for the numbers in `report` (see TARGETS)."""
    out = {}
    if "verification" in report:
        out["verification_accuracy"] = report["verification"]["accuracy"] >= TARGETS["verification_accuracy"]
    if "landmarks" in report:
        out["nme"] = report["landmarks"]["nme"] <= TARGETS["nme"]
    if "factors" in report:
        out["r2"] = report["factors"]["r2_min"] >= TARGETS["r2"]
        out["discrete_accuracy"] = report["factors"]["accuracy_min"] >= TARGETS["discrete_accuracy"]
    return out
