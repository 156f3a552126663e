"""Encoders: E_id (VGGFace2 ResNet-50, frozen), E_attr (InceptionV3, trainable), E_lnd (landmarks).

Every encoder takes images as the generator makes them: NHWC float32, RGB, raw range [-1, 1], at
any square size, and does its own resizing and preprocessing (differentiably).
"""

from __future__ import annotations

from pathlib import Path

import h5py
import keras
import numpy as np
import tensorflow as tf

from idd_tf.method import registry
from idd_tf.method.config import AttrEncoderConfig, IdEncoderConfig, LandmarkConfig
from idd_tf.method.losses import INNER_LANDMARKS, NUM_LANDMARKS  # noqa: F401 (INNER_LANDMARKS: part of E_lnd's contract)

# VGGFace2 training mean, BGR order (WeidiXie/Keras-VGGFace2-ResNet50 and keras-vggface v2).
VGGFACE2_MEAN_BGR = (91.4953, 103.8827, 131.0912)


def keras_layer_name(h5_name: str) -> str:
    """Keras 3 forbids '/' in layer names: 'conv1/7x7_s2/bn' <-> 'conv1_7x7_s2_bn'. The one rule."""
    return h5_name.replace("/", "_")


def _resize(images, size):
    if images.shape[1] == size and images.shape[2] == size:
        return images
    return tf.image.resize(images, [size, size], method="bilinear", antialias=False)


# ----------------------------------------------------------------------------------------------
# E_id: ResNet-50 (VGGFace2), layer names as in the released Keras weight files.

def _bottleneck(x, filters, stage, block, strides, project, bn_eps):
    f1, f2, f3 = filters
    base = f"conv{stage}_{block}"

    def conv_bn(t, f, k, s, suffix, relu):
        t = keras.layers.Conv2D(f, k, strides=s, padding="same" if k > 1 else "valid",
                                use_bias=False, name=keras_layer_name(f"{base}_{suffix}"))(t)
        t = keras.layers.BatchNormalization(epsilon=bn_eps,
                                            name=keras_layer_name(f"{base}_{suffix}/bn"))(t)
        return keras.layers.ReLU()(t) if relu else t

    y = conv_bn(x, f1, 1, strides, "1x1_reduce", True)
    y = conv_bn(y, f2, 3, 1, "3x3", True)
    y = conv_bn(y, f3, 1, 1, "1x1_increase", False)
    shortcut = conv_bn(x, f3, 1, strides, "1x1_proj", False) if project else x
    return keras.layers.ReLU()(keras.layers.Add()([y, shortcut]))


def resnet50_vggface2(input_size=224, width=1.0, projection=True, bn_eps=1e-3, name="resnet50"):
    """The VGGFace2 ResNet-50 backbone on preprocessed (BGR - mean) input -> features.

    projection=True: WeidiXie's 512-d `dim_proj` (Dense+ReLU) after average pooling; False: the
    2048-d pooled features (keras-vggface `resnet50`, include_top=False, pooling='avg').
    `width` scales every channel count (1.0 = the real network).
    """
    c = lambda n: max(1, int(round(n * width)))  # noqa: E731
    inp = keras.Input((input_size, input_size, 3), name="base_input")
    x = keras.layers.Conv2D(c(64), 7, strides=2, padding="same", use_bias=False,
                            name=keras_layer_name("conv1/7x7_s2"))(inp)
    x = keras.layers.BatchNormalization(epsilon=bn_eps, name=keras_layer_name("conv1/7x7_s2/bn"))(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.MaxPooling2D(3, strides=2)(x)
    for stage, blocks, filters in ((2, 3, (64, 64, 256)), (3, 4, (128, 128, 512)),
                                   (4, 6, (256, 256, 1024)), (5, 3, (512, 512, 2048))):
        for block in range(1, blocks + 1):
            strides = 2 if (block == 1 and stage > 2) else 1
            x = _bottleneck(x, tuple(map(c, filters)), stage, block, strides, block == 1, bn_eps)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if projection:
        x = keras.layers.Dense(c(512), activation="relu", name="dim_proj")(x)
    return keras.Model(inp, x, name=name)


class IdentityEncoder(keras.Model):
    """E_id: raw [-1, 1] RGB NHWC -> L2-normalised identity embedding (512-d, or 2048-d without
    projection). Preprocessing as the official code (see `preprocess`): the central 80%, resize to
    `resize_to`, centre crop `input_size`, RGB->BGR, 0..255 minus the VGGFace2 mean. Frozen.
    arch="dlib_resnet": dlib's face-recognition ResNet on the fixed dlib chip (dlib_resnet.py), 128-d."""

    def __init__(self, config: IdEncoderConfig, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.raw_input = config.arch != "resnet50_vggface2"
        if self.raw_input:   # dlib's ResNet (built in) or a registered one, e.g. the toy world's (registry.py)
            build = registry.get("id_encoders", config.arch)
            if build is None:
                registry.check_id_encoder_arch(config.arch)
            self.backbone = build(config.weights)
            self.embedding_size = self.backbone.embedding_dim
        else:
            if config.resize_to < config.input_size:
                raise ValueError("resize_to must be >= input_size")
            self.backbone = resnet50_vggface2(config.input_size, config.width, config.projection)
            self.embedding_size = int(self.backbone.output.shape[-1])
            if config.weights:
                load_keras2_h5(self.backbone, config.weights, optional_in_file=("classifier",
                                                                                "classifier_low_dim"))
        self.trainable = False

    def preprocess(self, images):
        """As the official model/id_encoder.py: [int(b R):int((1 - b) R)] on both axes (b =
        crop_border), bilinear resize to resize_to, centre crop input_size, 0..255, RGB -> BGR,
        minus the VGGFace2 mean."""
        c = self.config
        x = tf.convert_to_tensor(images, tf.float32)
        size = x.shape[1]
        lo, hi = int(c.crop_border * size), int((1.0 - c.crop_border) * size)
        x = _resize(x[:, lo:hi, lo:hi, :], c.resize_to)
        off = (c.resize_to - c.input_size) // 2
        x = x[:, off:off + c.input_size, off:off + c.input_size, :]
        x = (x + 1.0) * 127.5
        return x[..., ::-1] - tf.constant(VGGFACE2_MEAN_BGR, tf.float32)

    def call(self, images):
        if self.raw_input:  # raw [-1, 1] in, L2-normalised embedding out
            return self.backbone(tf.convert_to_tensor(images, tf.float32), training=False)
        return tf.math.l2_normalize(self.backbone(self.preprocess(images), training=False), axis=-1)


# ----------------------------------------------------------------------------------------------
# Keras-2 style .h5 weight files (what the released VGGFace2 files are).

def load_keras2_h5(model, path, optional_in_file=()) -> dict:
    """Load a Keras 2 HDF5 weight file into `model` BY LAYER NAME ('/' mapped by keras_layer_name).

    Every model layer with weights must be in the file with the same shapes; file layers absent
    from the model must be listed in `optional_in_file` (e.g. a classifier head). Returns
    {"loaded": [...], "ignored": [...]}.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weight file not found: {path}")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"{path} is not an HDF5 weight file: {e}") from e
    with f:
        root = f["model_weights"] if "model_weights" in f else f
        if "layer_names" not in root.attrs:
            raise ValueError(f"{path} is not a Keras 2 weight file (no 'layer_names'); Keras 3 "
                             "'.weights.h5' files are loaded with model.load_weights")
        file_layers = {}
        for raw in root.attrs["layer_names"]:
            name = raw.decode() if isinstance(raw, bytes) else str(raw)
            g = root[name]
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in g.attrs["weight_names"]]
            if names:
                file_layers[keras_layer_name(name)] = (name, [np.asarray(g[n]) for n in names])
    targets = {l.name: l for l in _all_layers(model) if l.weights}
    missing = sorted(set(targets) - set(file_layers))
    extra = sorted(set(file_layers) - set(targets))
    unexpected = [n for n in extra if file_layers[n][0] not in optional_in_file and n not in optional_in_file]
    if missing:
        raise ValueError(f"{path}: layers missing from the weight file: {missing[:10]}"
                         f"{' ...' if len(missing) > 10 else ''} (wrong file or wrong width?)")
    if unexpected:
        raise ValueError(f"{path}: layers in the file that the model lacks: {unexpected[:10]}")
    for name, layer in targets.items():
        values = file_layers[name][1]
        shapes = [tuple(w.shape) for w in layer.weights]
        if [tuple(v.shape) for v in values] != shapes:
            raise ValueError(f"{path}: layer {file_layers[name][0]!r} has shapes "
                             f"{[v.shape for v in values]}, the model expects {shapes}")
        layer.set_weights(values)
    return {"loaded": sorted(targets), "ignored": extra}


def _all_layers(model):
    out = []
    for layer in model.layers:
        out.extend(_all_layers(layer) if isinstance(layer, keras.Model) else [layer])
    return out


# ----------------------------------------------------------------------------------------------
# E_attr.

def _tiny_attr_backbone(input_size):
    inp = keras.Input((input_size, input_size, 3))
    x = inp
    for i, f in enumerate((16, 32, 64)):
        x = keras.layers.Conv2D(f, 3, strides=2, padding="same", name=f"conv{i}")(x)
        x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
        x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(inp, x, name="tiny_attr")


def small_attr_backbone(input_size, widths, code_size):
    """Strided 3x3 convs (LReLU 0.2) down to 4x4, flattened, one dense layer: unlike global
    average pooling, the flatten keeps *where* features are (pose, mouth, light side), which a
    shallow net cannot otherwise carry; InceptionV3's depth does that for the real presets."""
    inp = keras.Input((input_size, input_size, 3))
    x = inp
    for i, f in enumerate(widths):
        stride = 2 if x.shape[1] > 4 else 1
        x = keras.layers.Conv2D(f, 3, strides=stride, padding="same", name=f"conv{i}")(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(code_size, name="code")(x)
    x = keras.layers.LeakyReLU(0.2)(x)
    return keras.Model(inp, x, name="small_attr")


def _load_backbone_weights(backbone, path, what):
    """`backbone.load_weights(path)` with errors that name the file and what it was meant for."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{what} weight file not found: {path}")
    if not str(path).endswith(".weights.h5"):
        raise ValueError(f"{what} weights must be a Keras .weights.h5 file of its backbone: {path}")
    try:
        backbone.load_weights(path)
    except ValueError as e:   # Keras: layer count / shape mismatch
        raise ValueError(f"{path} does not hold the {what} backbone of this config "
                         f"(widths, code size, input size): {str(e)[:300]}") from e


class AttributeEncoder(keras.Model):
    """E_attr: raw [-1, 1] RGB NHWC -> attribute code. InceptionV3 (include_top=False, avg pooled,
    2048-d; its expected input range is already [-1, 1]) with optional ImageNet .h5 weights, or a
    small CNN: arch="tiny" (3 convs, average pooled, test-size runs) or "small" (convs to 4x4,
    flattened, a dense code; the toy world's E_attr). Trainable; BatchNorm runs in inference mode."""

    def __init__(self, config: AttrEncoderConfig, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        if config.arch == "inception_v3":
            if config.input_size < 75:
                raise ValueError("InceptionV3 needs input_size >= 75")
            if config.weights and not Path(config.weights).is_file():
                raise FileNotFoundError(f"InceptionV3 weight file not found: {config.weights}")
            self.backbone = keras.applications.InceptionV3(
                include_top=False, weights=config.weights, pooling="avg",
                input_shape=(config.input_size, config.input_size, 3))
        elif config.arch in ("tiny", "small"):
            self.backbone = (_tiny_attr_backbone(config.input_size) if config.arch == "tiny" else
                             small_attr_backbone(config.input_size, config.small_widths, config.small_code))
            if config.weights:   # a pretrained backbone (e.g. the toy world's, toy/attr_pretraining.py)
                _load_backbone_weights(self.backbone, config.weights, f"arch={config.arch!r} E_attr")
        else:
            raise ValueError(f"unknown attribute encoder arch {config.arch!r}")
        self.embedding_size = int(self.backbone.output.shape[-1])

    def call(self, images):
        x = _resize(tf.convert_to_tensor(images, tf.float32), self.config.input_size)
        return self.backbone(x, training=False)


# ----------------------------------------------------------------------------------------------
# E_lnd.

def landmark_net(input_size=128, base_filters=32, name="landmarks"):
    """Keras CNN: raw [-1, 1] RGB [S, S, 3] -> 68 (x, y) landmarks in [0, 1] image coordinates."""
    inp = keras.Input((input_size, input_size, 3), name="image")
    x = inp
    f = base_filters
    size = input_size
    i = 0
    while size > 4:
        x = keras.layers.Conv2D(f, 3, padding="same", name=f"conv{i}a")(x)
        x = keras.layers.LeakyReLU(0.2)(x)
        x = keras.layers.Conv2D(f, 3, strides=2, padding="same", name=f"conv{i}b")(x)
        x = keras.layers.LeakyReLU(0.2)(x)
        f, size, i = min(f * 2, 256), size // 2, i + 1
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(256, name="fc")(x)
    x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Dense(NUM_LANDMARKS * 2, activation="sigmoid", name="points")(x)
    return keras.Model(inp, keras.layers.Reshape((NUM_LANDMARKS, 2))(x), name=name)


class LandmarkEncoder(keras.Model):
    """E_lnd: raw [-1, 1] RGB NHWC (any size) -> [B, 68, 2] landmarks (x, y) in [0, 1].

    `weights` may be a `.weights.h5` of `landmark_net` (what scripts/train_landmarks.py writes) or
    a user network: a `.keras` / `.h5` model file or a SavedModel directory with the same contract
    (input [B, input_size, input_size, 3] raw [-1, 1], output [B, 68, 2] in [0, 1]). Frozen.
    `arch="face_api_68"`: face-api's pretrained FaceLandmark68Net (landmark_nets.py) on the image
    resized to 112; `weights`: its converted `.weights.h5` (default: the shipped one).
    """

    def __init__(self, config: LandmarkConfig, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.net = None
        self.input_size = config.input_size
        if config.arch == "face_api_68":
            from idd_tf.method import landmark_nets
            self.net = landmark_nets.face_api_68_net(config.weights or landmark_nets.DEFAULT_WEIGHTS)
            self.input_size = landmark_nets.FACE_API_INPUT_SIZE
        elif config.weights:
            path = Path(config.weights)
            if not path.exists():
                raise FileNotFoundError(f"landmark network not found: {path}")
            if path.is_dir():
                self.net = keras.layers.TFSMLayer(str(path), call_endpoint="serving_default")
            elif path.name.endswith(".weights.h5"):
                for check in registry.every("landmark_checks"):   # e.g. the toy world's version
                    check(path)
                self.net = landmark_net(config.input_size, config.base_filters)
                self.net.load_weights(path)
            else:
                self.net = keras.models.load_model(path, compile=False)
        else:
            self.net = landmark_net(config.input_size, config.base_filters)
        self.trainable = False

    def call(self, images):
        x = tf.convert_to_tensor(images, tf.float32)
        box = self.config.face_box
        if box is not None:   # the box only, resized; differentiable in the pixels
            side = x.shape[1]
            if side is None:
                raise ValueError("landmarks.face_box needs images of a known size")
            left, top, right, bottom = (int(round(b * side)) for b in box)
            x = x[:, top:bottom, left:right, :]
        out = self.net(_resize(x, self.input_size))
        if isinstance(out, dict):
            out = next(iter(out.values()))
        points = tf.reshape(out, [-1, NUM_LANDMARKS, 2])
        if box is not None:   # box coordinates -> whole-image coordinates
            points = (tf.constant([left, top], tf.float32)
                      + points * tf.constant([right - left, bottom - top], tf.float32)) / side
        return points


def fit_landmark_net(images, landmarks, config: LandmarkConfig, epochs: int = 20,
                     batch_size: int = 16, learning_rate: float = 1e-3, seed: int = 0) -> dict:
    """Distil landmark labels into `landmark_net`.

    images: [N, H, W, 3] raw [-1, 1]; landmarks: [N, 68, 2] in [0, 1] image coordinates (e.g.
    dlib's, divided by the image size). Returns {"model", "loss_first", "loss_last"} (MSE per
    epoch, first and last).
    """
    keras.utils.set_random_seed(seed)
    net = landmark_net(config.input_size, config.base_filters)
    x = _resize(tf.convert_to_tensor(images, tf.float32), config.input_size).numpy()
    y = np.asarray(landmarks, np.float32)
    net.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    hist = net.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=0)
    losses = hist.history["loss"]
    return {"model": net, "loss_first": float(losses[0]), "loss_last": float(losses[-1])}
