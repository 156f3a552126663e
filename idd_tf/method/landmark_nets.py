"""Pretrained 68-point landmark networks ported to Keras, for E_lnd (`LandmarkConfig.arch`).

`face_api_68`: face-api's FaceLandmark68Net (`face_landmark_68_model` of the npm package
@vladmandic/face-api, MIT), converted by tools/convert_landmark_net.py into
stylegan_weights/landmarks_face_api_68/ and checked there against the original under node /
TensorFlow.js (docs/landmark_net.md, the model card). The architecture, as face-api's
src/faceFeatureExtractor/FaceFeatureExtractor.ts, denseBlock.ts and faceLandmarkNet/:

- input 112 x 112 RGB, pixels 0..255 minus the mean RGB (122.782, 117.001, 104.298), divided by 255;
- four dense blocks of four convolutions (3x3, TF 'same' padding): conv0 (stride 2; a plain conv in
  dense0, depthwise-separable in dense1-3) then three stride-1 separable convs, each with a bias;
  out1 = relu(conv0(x)), out2 = conv1(out1), out3 = conv2(relu(out1 + out2)),
  out4 = conv3(relu(out1 + out2 + out3)), block = relu(out1 + out2 + out3 + out4);
  widths 32, 64, 128, 256, sides 56, 28, 14, 7;
- 7x7 average pool (stride 2, valid: the whole 7x7 map), a dense layer 256 -> 136;
- output x0, y0, x1, y1, ... relative to the (square) input box: [B, 68, 2] in image units, iBUG-68
  order. No sigmoid and no clipping: a point may fall slightly outside [0, 1].

Layer names are face-api's weight names with '/' -> '_' (Keras 3 forbids '/'): `dense0_conv0`, ...,
`fc`. Imports nothing but Keras / TF (the method layer's rule).
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

FACE_API_68 = "face_api_68"
FACE_API_INPUT_SIZE = 112
FACE_API_MEAN_RGB = (122.782, 117.001, 104.298)
FACE_API_WIDTHS = (32, 64, 128, 256)
# The converted files (tools/convert_landmark_net.py writes them; they ship in the repository).
WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "stylegan_weights" / "landmarks_face_api_68"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "face_api_68.weights.h5"
CONFIG_NAME = "face_api_68.json"
# The box of an FFHQ-aligned image (left, top, right, bottom; fractions of the side) face-api's net
# matches dlib best on: NME 0.052 on 160 real faces, against 0.073 on the FFHQ face box, 0.091 on the
# whole image and 0.071 for the mean shape (docs/landmark_net.md, tools/measure_landmark_nme.py).
FACE_API_FACE_BOX = (0.16, 0.28, 0.84, 0.96)
GOLDEN_NAME = "golden.npz"


def face_api_layer_name(tfjs_prefix: str) -> str:
    """'dense0/conv1' <-> 'dense0_conv1': face-api's weight-name prefix -> the Keras layer name."""
    return tfjs_prefix.replace("/", "_")


class FaceApiPreprocess(keras.layers.Layer):
    """Raw [-1, 1] RGB -> face-api's normalised input: ((x + 1) * 127.5 - mean_rgb) / 255."""

    def __init__(self, mean_rgb=FACE_API_MEAN_RGB, **kwargs):
        super().__init__(**kwargs)
        self.mean_rgb = tuple(float(m) for m in mean_rgb)

    def call(self, x):
        pixels = (x + 1.0) * 127.5
        return (pixels - tf.constant(self.mean_rgb, tf.float32)) / 255.0

    def get_config(self):
        return {**super().get_config(), "mean_rgb": self.mean_rgb}


def _dense_block(x, block: int, filters: int, first: bool):
    def conv(t, i, strides):
        name = face_api_layer_name(f"dense{block}/conv{i}")
        if first and i == 0:
            return keras.layers.Conv2D(filters, 3, strides=strides, padding="same", name=name)(t)
        return keras.layers.SeparableConv2D(filters, 3, strides=strides, padding="same", name=name)(t)

    relu = keras.layers.ReLU
    add = keras.layers.Add
    out1 = relu()(conv(x, 0, 2))
    out2 = conv(out1, 1, 1)
    out3 = conv(relu()(add()([out1, out2])), 2, 1)
    out4 = conv(relu()(add()([out1, out2, out3])), 3, 1)
    return relu(name=f"dense{block}_out")(add()([out1, out2, out3, out4]))


def face_api_68_net(weights: str | Path | None = DEFAULT_WEIGHTS, name: str = FACE_API_68) -> keras.Model:
    """face-api's FaceLandmark68Net: raw [-1, 1] RGB [B, 112, 112, 3] -> [B, 68, 2] (x, y) relative
    to the input box, iBUG-68 order. `weights`: the converted `.weights.h5` (default: the shipped
    one); None: random init (tests only)."""
    inp = keras.Input((FACE_API_INPUT_SIZE, FACE_API_INPUT_SIZE, 3), name="image")
    x = FaceApiPreprocess(name="preprocess")(inp)
    for block, filters in enumerate(FACE_API_WIDTHS):
        x = _dense_block(x, block, filters, first=block == 0)
    x = keras.layers.AveragePooling2D(7, strides=2, padding="valid", name="avg_pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(136, name="fc")(x)
    model = keras.Model(inp, keras.layers.Reshape((68, 2), name="points")(x), name=name)
    if weights is not None:
        load_face_api_68_weights(model, weights)
    model.trainable = False
    return model


def load_face_api_68_weights(model: keras.Model, path) -> None:
    """Load a converted `.weights.h5`, after checking the config json beside it names this arch."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"face-api landmark weights not found: {path} "
                                "(rebuild them with: python tools/convert_landmark_net.py)")
    cfg_path = path.with_name(CONFIG_NAME)
    if cfg_path.is_file():
        cfg = json.loads(cfg_path.read_text())
        if cfg.get("arch") != FACE_API_68 or cfg.get("input_size") != FACE_API_INPUT_SIZE:
            raise ValueError(f"{cfg_path} describes arch={cfg.get('arch')!r}, "
                             f"input_size={cfg.get('input_size')!r}, not {FACE_API_68!r} at {FACE_API_INPUT_SIZE}")
    try:
        model.load_weights(path)
    except ValueError as e:   # e.g. a net of train_landmarks.py given to the face-api arch
        raise ValueError(f"{path} does not hold face-api's landmark net (a net of train_landmarks.py? "
                         f"then add --set landmarks.arch=cnn): {str(e)[:200]}") from e


def read_golden(path=WEIGHTS_DIR / GOLDEN_NAME) -> dict:
    """The stored inputs (uint8 [N, 112, 112, 3]), the original's outputs ([N, 68, 2]) and labels."""
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def uint8_to_raw(images_u8) -> np.ndarray:
    """uint8 pixels -> the method's raw [-1, 1] float32 images."""
    return np.asarray(images_u8, np.float32) / 127.5 - 1.0
