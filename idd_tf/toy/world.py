"""A procedural toy face world with known ground truth (pure numpy + OpenCV, deterministic).

Like dSprites / 3D Shapes, but faces: every image is a pure function of an *identity* (factors fixed
for a person) and *attributes* (pose, expression, light, background, clothes), so identity networks,
landmark networks and factor-regression evaluators can be trained with exact labels.

    render(identity, attributes, resolution=64) -> uint8 [R, R, 3] RGB (R a power of two, 32..256+)
    landmarks(identity, attributes, resolution=64) -> float32 [68, 2] (x, y) pixels, dlib layout
    landmarks3d(identity, attributes) -> float32 [68, 3] model points (pivot-relative, unrotated)
    sample_identity(rng) / sample_attributes(rng), identity_from_seed(seed) / attributes_from_seed(seed)
    factor_vector(identity, attributes) -> float32 [len(FACTOR_NAMES)] (discrete factors as classes);
        factors_from_vector(vector) -> (identity, attributes), its inverse
    render_batch(identities, attributes_list, resolution) -> uint8 [N, R, R, 3]
    example(index, seed=0, resolution=64) -> {image, identity, attributes, landmarks, person}
    person_example(person, view, seed=0, resolution=64): person's identity from rng [seed, person, 0],
        the view's attributes from rng [seed, person, 1, view]; example(i) == person_example(i, 0)
    contact_sheet(identities, attribute_states, resolution=64, gap=2) -> uint8 grid image

The world
---------
A cartoon head framed like an FFHQ-aligned photo: eyes at y ~ 0.45 of the image, eye centres ~0.25
of the width apart, jaw and chin inside `config.FFHQ_FACE_BOX`; hair (5 styles: `HAIR_STYLES`) frames
the head and may reach the border; neck and shoulders at the bottom; flat background colour (the
corners are always background). `IDENTITY_FACTORS` and `ATTRIBUTE_FACTORS` (tuples of
`Factor(name, kind, low, high, weights)`) are the world's definition: continuous factors are sampled
uniformly in [low, high]; discrete ones take classes 0 .. high-1 (with `weights` if given).
`FACTOR_NAMES` = identity names, then attribute names. Identities and attributes are plain dicts.
Lengths are fractions of the image side; angles are degrees.

Coordinates
-----------
Head frame: origin at the centre of the cranium ellipsoid (semi-axes head_width, head_height,
1.12 * head_width), x to the image right, y down, z towards the viewer. Face features are points on
(or just in front of) the face surface. The head rotates about the *pivot* (0, 0, z_p), z_p = mean
depth of the eye and mouth landmarks, which projects to image (0.5, 0.47): rotation =
roll(z) @ pitch(x) @ yaw(y), then orthographic projection. `landmarks3d` = pivot-relative points.
  * positive yaw turns the face towards the image right: a point at pivot-relative depth z moves by
    +z * sin(yaw) * R pixels in x (nose tip 30: `landmarks3d(...)[30, 2] * sin(yaw) * R`, exactly
    at pitch = roll = 0, since its x is 0);
  * positive pitch tilts the face up (the nose tip moves up by about z * sin(pitch) * R);
  * positive roll rotates the face clockwise in the image.
Jaw points 0-16 slide along the cheek silhouette with yaw (like dlib's contour points); everything
drawn (eyes, brows, nose, lips, jaw, beard, glasses) is made from the same projected 3D points.
Expressions: mouth_open parts the inner lips (61-63 vs 65-67), smile raises the mouth corners
(48, 54, 60, 64), brow_raise lifts 17-26, eye_open scales the eyelid gap (37/38 vs 41/40, ...).
Pixel coordinates follow OpenCV / dlib: pixel (i, j) has its centre at x = j, y = i, so
landmarks = R * image_fraction - 0.5 and landmarks at 2R = 2 * landmarks at R + 0.5.
Landmarks use dlib's 68-point layout ("right" = the subject's right = image left).

World versions (`WORLD_VERSION`; networks trained on renders record it and refuse another):
  1 (2026-11) jaw width narrowed a superellipse jaw that chin shape also bent: its whole range
    moved the jaw contour by ~1 px at 64 px, and no net read it (R^2 0.06);
  2 straight cheeks taper to jaw_width at the jaw angle, 55% of the way down the jaw, with a
    superellipse chin (exponent chin_shape) below it, so the two move different parts of the jaw
    (jaw width ~4 px, chin shape ~3 px); wider jaw width, chin shape and brow thickness ranges; a
    larger iris and smaller pupil (eye colour shows in more pixels); light strength from 0.15 (light
    azimuth always shows).

Rendering: polygons at 4x (2x for R >= 128) with cv2 LINE_AA and sub-pixel `shift`, repeated 2x
INTER_AREA downsampling, then Lambertian shading (ambient + diffuse from a normal field of the head
ellipsoid; light from `light_azimuth`, 35 degrees above the horizon, blended in by
`light_strength`) on the foreground only. ~1000 img/s at 64 px on one core
(benchmarks/bench_toy_render.py).
"""

from __future__ import annotations

import colorsys
import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Factor:
    name: str
    kind: str            # "continuous" or "discrete"
    low: float           # discrete: 0
    high: float          # discrete: number of classes
    weights: tuple | None = None   # discrete only: class probabilities for sampling (None: uniform)


_C, _D = "continuous", "discrete"
HAIR_STYLES = ("short", "long", "bob", "curly", "bald")
IDENTITY_FACTORS = (
    Factor("head_width", _C, 0.235, 0.285),     # cranium half-width
    Factor("head_height", _C, 0.30, 0.345),     # cranium half-height
    Factor("face_length", _C, 0.34, 0.39),      # chin below the cranium centre
    Factor("jaw_width", _C, 0.62, 1.0),         # jaw taper: width at the chin relative to the cheeks
    Factor("chin_shape", _C, 1.4, 3.6),         # chin superellipse exponent: low = pointy, high = square
    Factor("skin_tone", _C, 0.0, 1.0),          # light .. dark
    Factor("hair_color", _C, 0.0, 1.0),         # black, brown, auburn, blond, platinum
    Factor("hair_style", _D, 0, 5, (0.24, 0.24, 0.2, 0.2, 0.12)),  # HAIR_STYLES
    Factor("eye_color", _C, 0.0, 1.0),          # dark brown, brown, hazel, green, blue, grey
    Factor("eye_size", _C, 0.85, 1.2),
    Factor("eye_spacing", _C, 0.112, 0.138),    # half the distance between the eye centres
    Factor("nose_length", _C, 0.085, 0.135),
    Factor("nose_width", _C, 0.026, 0.045),     # half-width of the nose bottom
    Factor("mouth_width", _C, 0.062, 0.088),    # half-width of the mouth
    Factor("lip_fullness", _C, 0.7, 1.4),
    Factor("brow_thickness", _C, 0.008, 0.032),
    Factor("glasses", _D, 0, 2, (0.75, 0.25)),
    Factor("beard", _D, 0, 2, (0.8, 0.2)),
)
ATTRIBUTE_FACTORS = (
    Factor("yaw", _C, -30.0, 30.0),              # degrees; + turns the face towards the image right
    Factor("pitch", _C, -15.0, 15.0),            # degrees; + tilts the face up
    Factor("roll", _C, -4.0, 4.0),               # degrees; + clockwise in the image
    Factor("mouth_open", _C, 0.0, 1.0),          # inner-lip gap 0 .. 0.055 of the image
    Factor("smile", _C, -0.3, 1.0),              # mouth corners up (< 0: down)
    Factor("brow_raise", _C, -0.5, 1.0),
    Factor("eye_open", _C, 0.15, 1.1),           # eyelid gap scale
    Factor("light_azimuth", _C, -80.0, 80.0),    # degrees; + light from the image right
    Factor("light_strength", _C, 0.15, 1.0),     # 0: flat, 1: ambient 0.42 + diffuse 0.72
    Factor("bg_hue", _C, 0.0, 1.0),              # background HSV = (bg_hue, 0.35, bg_value)
    Factor("bg_value", _C, 0.3, 0.95),
    Factor("clothes_hue", _C, 0.0, 1.0),         # clothes HSV = (clothes_hue, 0.45, 0.55)
)
FACTOR_NAMES = tuple(f.name for f in IDENTITY_FACTORS + ATTRIBUTE_FACTORS)
NEUTRAL_ATTRIBUTES = {"yaw": 0.0, "pitch": 0.0, "roll": 0.0, "mouth_open": 0.0, "smile": 0.2,
                      "brow_raise": 0.0, "eye_open": 0.8, "light_azimuth": 0.0, "light_strength": 0.5,
                      "bg_hue": 0.58, "bg_value": 0.8, "clothes_hue": 0.6}

_SKIN = np.array([(255, 228, 206), (243, 200, 166), (224, 172, 130), (190, 132, 90), (141, 90, 60),
                  (96, 62, 44)], np.float64)
_HAIR = np.array([(22, 18, 18), (58, 38, 28), (110, 72, 42), (150, 64, 30), (214, 176, 104),
                  (228, 222, 205)], np.float64)
_IRIS = np.array([(58, 34, 20), (105, 66, 32), (124, 104, 48), (66, 118, 70), (58, 108, 170),
                  (120, 136, 150)], np.float64)
_Y_EYE = -0.02
_PIVOT_IMG = np.array([0.5, 0.47])
_SHIFT = 4
WORLD_VERSION = 2   # bumped whenever a render changes: see "World versions" above


def _sample(factors, rng: np.random.Generator) -> dict:
    out = {}
    for f in factors:
        if f.kind == _D:
            n = int(f.high)
            out[f.name] = int(rng.choice(n, p=f.weights) if f.weights else rng.integers(n))
        else:
            out[f.name] = float(rng.uniform(f.low, f.high))
    return out


def sample_identity(rng: np.random.Generator) -> dict:
    """An identity {name: value} from IDENTITY_FACTORS (consumes rng in table order)."""
    return _sample(IDENTITY_FACTORS, rng)


def sample_attributes(rng: np.random.Generator) -> dict:
    """Attributes {name: value} from ATTRIBUTE_FACTORS (consumes rng in table order)."""
    return _sample(ATTRIBUTE_FACTORS, rng)


def identity_from_seed(seed) -> dict:
    """sample_identity(np.random.default_rng(seed)); seed: int or sequence of ints."""
    return sample_identity(np.random.default_rng(seed))


def attributes_from_seed(seed) -> dict:
    """sample_attributes(np.random.default_rng(seed))."""
    return sample_attributes(np.random.default_rng(seed))


def factor_vector(identity: dict, attributes: dict) -> np.ndarray:
    """All factors in FACTOR_NAMES order (discrete ones as their integer class)."""
    both = {**identity, **attributes}
    return np.array([both[n] for n in FACTOR_NAMES], np.float32)


def factors_from_vector(vector) -> tuple[dict, dict]:
    """Inverse of `factor_vector`: (identity, attributes) dicts (discrete factors as int)."""
    kinds = {f.name: f.kind for f in IDENTITY_FACTORS + ATTRIBUTE_FACTORS}
    both = {n: int(round(float(v))) if kinds[n] == _D else float(v) for n, v in zip(FACTOR_NAMES, vector, strict=True)}
    return ({f.name: both[f.name] for f in IDENTITY_FACTORS}, {f.name: both[f.name] for f in ATTRIBUTE_FACTORS})


def _palette(table, t):
    t = min(max(float(t), 0.0), 1.0) * (len(table) - 1)
    i = min(int(t), len(table) - 2)
    return table[i] + (t - i) * (table[i + 1] - table[i])


def _rotation(att) -> np.ndarray:
    y, p, r = (math.radians(att[k]) for k in ("yaw", "pitch", "roll"))
    cy, sy, cp, sp, cr, sr = math.cos(y), math.sin(y), math.cos(p), math.sin(p), math.cos(r), math.sin(r)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rp = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rr = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return rr @ rp @ ry


# ---- constant templates of the point model (sizes never change) ----
_S33 = np.linspace(-1.0, 1.0, 33)
_SG33, _AS15 = np.sign(_S33), np.abs(_S33) ** 1.5
_JAW_V0, _JAW_S0 = 0.55, 0.55   # jaw angle: at 55% of the jaw's height, contour points |s| >= 0.55 above it
_JAW_UP33 = np.abs(_S33) >= _JAW_S0
_JAW_VUP33 = _JAW_V0 * (1 - np.abs(_S33)) / (1 - _JAW_S0)
_JAW_SIN33 = np.sin(np.minimum(np.abs(_S33) / _JAW_S0, 1.0) * (np.pi / 2))
_JAW_COS33 = np.cos(np.minimum(np.abs(_S33) / _JAW_S0, 1.0) * (np.pi / 2))
_ETH = np.r_[np.tile(np.linspace(np.pi, -np.pi, 24, endpoint=False), 2),
             np.tile([np.pi, 2 * np.pi / 3, np.pi / 3, 0.0, -np.pi / 3, -2 * np.pi / 3], 2)]
_ESIDE = np.r_[-np.ones(24), np.ones(24), -np.ones(6), np.ones(6)]
_ECOS, _EFAC = np.cos(_ETH), np.where(np.sin(_ETH) > 0, 1.15, 0.8) * np.sin(_ETH)
_C16 = np.linspace(0, 2 * np.pi, 16, endpoint=False)
_GL = np.c_[np.cos(_C16), np.sin(_C16)]
_BU = np.tile(np.linspace(0, 1, 9), 2)
_BSIDE = np.r_[-np.ones(9), np.ones(9)]
_BSIN = np.sin(np.pi * (0.25 + 0.75 * _BU))
_BIDX = np.r_[np.arange(9), np.arange(8, -1, -1), np.arange(9, 18), np.arange(17, 8, -1),
              [0, 2, 4, 6, 8], [17, 15, 13, 11, 9]]
_BOFF = np.r_[-0.5 * np.ones(9), 0.5 * np.ones(9), -0.5 * np.ones(9), 0.5 * np.ones(9), -0.25 * np.ones(10)]


def _mouth_template():
    uo, ui = np.linspace(-1, 1, 15), np.linspace(-0.86, 0.86, 13)
    lo, li = [-1, -0.6, -0.25, 0, 0.25, 0.6, 1], [-0.86, -0.45, 0, 0.45, 0.86]
    parts = [(uo, "OU"), (uo[::-1][1:-1], "OL"), (ui, "IU"), (ui[::-1][1:-1], "IL"), (ui, "IU"), (ui[::-1], "TL"),
             (lo, "OU"), (lo[5:0:-1], "OL"), (li, "IU"), (li[3:0:-1], "IL")]
    u = np.concatenate([p for p, _ in parts])
    kind = np.concatenate([[k] * len(p) for p, k in parts])
    eo = np.sqrt(np.clip(1 - u ** 2, 0, 1))
    ei = np.sqrt(np.clip(1 - (u / 0.86) ** 2, 0, 1))
    bow = 1 - 0.35 * np.exp(-(u / 0.18) ** 2)
    ga = {"OU": -0.3 * eo, "OL": 0.7 * eo, "IU": -0.3 * ei, "IL": 0.7 * ei, "TL": 0.15 * ei}
    lb = {"OU": -0.014 * eo * bow, "OL": 0.018 * eo}
    pick = lambda d, k: np.select([kind == n for n in d], [d[n] for n in d], 0.0)  # noqa: E731
    return u, u ** 2, pick(ga, kind), pick(lb, kind), np.where(kind == "OU", -0.002, np.where(kind == "OL", 0.002, 0.0))


_MU, _MU2, _MGA, _MLB, _MC = _mouth_template()
_TE = np.linspace(0, 2 * np.pi, 12, endpoint=False)
_EAR_S = np.r_[-np.ones(12), np.ones(12)]
_EAR_C, _EAR_SN = np.tile(np.cos(_TE), 2), np.tile(np.sin(_TE), 2)


# Hair styles: (shell scale xy, shell scale y, cut-line y, hairline x / head_width, hairline y), image right -> left.
_HAIR_SPEC = (
    (1.07, 1.08, -0.05, [0.94, 0.8, 0.5, 0.15, -0.2, -0.55, -0.85, -0.95],
     [-0.07, -0.16, -0.215, -0.2, -0.235, -0.22, -0.17, -0.07]),
    (1.1, 1.08, 0.22, [0.8, 0.84, 0.78, 0.5, 0.12, 0.0, -0.12, -0.5, -0.78, -0.84, -0.8],
     [0.16, 0.02, -0.1, -0.19, -0.225, -0.2, -0.225, -0.19, -0.1, 0.02, 0.16]),
    (1.15, 1.1, 0.17, [0.8, 0.84, 0.8, 0.4, 0.0, -0.4, -0.8, -0.84, -0.8],
     [0.15, 0.0, -0.1, -0.105, -0.11, -0.105, -0.1, 0.0, 0.15]),
    (1.12, 1.1, -0.05, np.linspace(0.93, -0.93, 11),
     -0.2 + 0.13 * np.linspace(0.93, -0.93, 11) ** 4 - 0.012 * np.cos(np.linspace(0, 10 * np.pi, 11))),
    (1.0, 1.0, -0.3, np.linspace(0.95, -0.95, 11), -0.25 - 0.05 * np.cos(np.linspace(-1.5, 1.5, 11))),  # bald
)
_HAIR_SPEC = tuple((a, b, c, *(np.interp(np.linspace(0, 1, 11), np.linspace(0, 1, len(v)), np.asarray(v, float))
                                for v in (x, y))) for a, b, c, x, y in _HAIR_SPEC)  # 11 points each

# Layout of the point array: explicit-z block, then lifted block, then eye-plane block.
_SIZES = [("jaw", 33), ("jawf", 33), ("ear", 24), ("misc", 7),
          ("eye", 60), ("brow", 46), ("bridge", 4), ("nose_bottom", 5), ("nose_shape", 6), ("nostrils", 2),
          ("mouth", 98), ("beardm", 9), ("hairline", 11), ("rim", 8),
          ("iris", 48), ("pupil", 48), ("glass", 32)]
_SL, _o = {}, 0
for _n, _k in _SIZES:
    _SL[_n] = slice(_o, _o + _k)
    _o += _k
_N_POINTS = _o
_EYE0, _MOUTH0, _BROW0 = _SL["eye"].start, _SL["mouth"].start, _SL["brow"].start
_LM_IDX = np.r_[np.arange(0, 33, 2), _BROW0 + 36 + np.arange(10), _SL["bridge"].start + np.arange(4),
                _SL["nose_bottom"].start + np.arange(5), _EYE0 + 48 + np.arange(12), _MOUTH0 + 78 + np.arange(20)]
# Sub-slices (absolute) for drawing.
_EYE_R, _EYE_L = slice(_EYE0, _EYE0 + 24), slice(_EYE0 + 24, _EYE0 + 48)
_BROW_R, _BROW_L = slice(_BROW0, _BROW0 + 18), slice(_BROW0 + 18, _BROW0 + 36)
_LIP_O, _LIP_I, _TEETH = (slice(_MOUTH0, _MOUTH0 + 28), slice(_MOUTH0 + 28, _MOUTH0 + 52),
                          slice(_MOUTH0 + 52, _MOUTH0 + 78))


_T4 = np.array([0.0, 1 / 3, 2 / 3, 1.0])
_MX7 = np.linspace(1.15, -1.15, 7)
_BM_A = np.r_[0.9, np.zeros(7), -0.9]
_BM_M = np.r_[0.0, _MX7, 0.0]
_BM_Y = np.r_[-0.03, -0.032 - 0.012 * np.cos(_MX7 * 1.2), -0.03]
_NOSE_X = np.array([[0, 0, 0, 0, -1, -0.5, 0, 0.5, 1, 0, -1.25, -1.15, 1.15, 1.25, 0, -0.5, 0.5],
                    [0] * 9 + [-0.011, 0, 0, 0, 0, 0.011, 0, 0]])   # rows: * nose_width, + constant
_NOSE_DZ = np.array([0.006, 0.006, 0.006, 0.006, 0.008, 0.018, 0.024, 0.018, 0.008,
                     0.01, 0.006, 0.008, 0.008, 0.006, 0.01, 0.02, 0.02])
_NOSE_YB = np.array([0, 0, 0, 0, -0.006, 0.002, 0.005, 0.002, -0.006, 0, -0.022, -0.002, -0.002, -0.022, 0,
                     -0.003, -0.003])
_NOSE_ISB = np.array([0, 0, 0, 0] + [1] * 5 + [0, 1, 1, 1, 1, 0, 1, 1], float)  # relative to the nose bottom
_GSIDE = np.repeat([-1.0, 1.0], 16)
_GLX, _GLY = np.tile(_GL[:, 0], 2), np.tile(_GL[:, 1], 2)
_RIM_X = np.repeat([-1.0, 1.0], 4)
_RIM_Y = np.tile([-0.12, -0.06, 0.0, 0.06], 2)
_LIFT = slice(_SL["eye"].start, _SL["iris"].start)


def _model(ident: dict, att: dict):
    """All model points [N, 3] in the head frame (cranium centre origin; layout `_SL`) and geometry."""
    a, b, chin = ident["head_width"], ident["head_height"], ident["face_length"]
    c = 1.12 * a
    ia = 1.0 / a

    def zs(x, y):  # face surface: vertical ellipse x horizontal superellipse (flat front, steep sides)
        return (c * np.sqrt(np.clip(1.0 - y * y * (1 / 0.3844), 0.05, 1.0))
                * np.maximum(1.0 - np.abs(x * ia) ** 2.5, 0.02) ** 0.4)

    def zs1(x, y):
        return (c * math.sqrt(min(max(1.0 - y * y / 0.3844, 0.05), 1.0))
                * max(1.0 - abs(x * ia) ** 2.5, 0.02) ** 0.4)

    pts = np.empty((_N_POINTS, 3))
    # Jaw contour, each point on a horizontal cross-section ellipse that slides with yaw: straight cheeks
    # tapering from the cranium width to jaw_width at the jaw angle (55% of the way down), then a
    # superellipse chin (exponent chin_shape); the taper goes on to the chin. So jaw width moves the
    # jaw angle and chin shape only the chin: each readable on its own.
    q, jw = ident["chin_shape"], ident["jaw_width"]
    xc = np.where(_JAW_UP33, 1.0, _JAW_SIN33 ** (2 / q))
    v = np.where(_JAW_UP33, _JAW_VUP33, _JAW_V0 + (1 - _JAW_V0) * _JAW_COS33 ** (2 / q))
    X = a * xc * (1 - (1 - jw) * v)
    y_top = _Y_EYE + 0.02
    ys = y_top + (chin - y_top) * v
    z0 = (1 - _AS15) * zs1(0.0, chin)
    yaw = math.radians(att["yaw"])
    dl = math.atan2(c / a * math.sin(yaw), math.cos(yaw)) * np.abs(_S33)
    xsl, zsl = _SG33 * X * np.cos(dl), z0 + _SG33 * X * (c / a) * np.sin(dl)
    far = _SG33 * yaw > 0
    j, jf = pts[_SL["jaw"]], pts[_SL["jawf"]]
    j[:, 0], j[:, 1], j[:, 2] = xsl, ys, zsl
    jf[:, 0], jf[:, 1], jf[:, 2] = np.where(far, xsl, _SG33 * X), ys, np.where(far, zsl, z0)
    e = pts[_SL["ear"]]
    e[:, 0], e[:, 1] = _EAR_S * (0.96 * a + 0.02 * (1 - _EAR_C)), 0.045 + 0.06 * _EAR_SN
    e[:, 2] = -0.05 * c + 0.045 * _EAR_C
    style = int(ident["hair_style"])
    sxy, sy, _, hx, hy = _HAIR_SPEC[style]
    # Glasses' temple-arm ends, long hair's lower corners, the centre of curly hair.
    pts[_SL["misc"]] = [[-a, 0.0, -0.05], [a, 0.0, -0.05], [-1.28 * a, 0.75, -0.3 * c], [1.28 * a, 0.75, -0.3 * c],
                        [-1.2 * a, 0.3, -0.3 * c], [1.2 * a, 0.3, -0.3 * c], [0.0, -0.06, -0.2 * c]]
    # Lifted points: (x, y) on the face surface, z = surface + offset.
    es, esz = ident["eye_spacing"], ident["eye_size"]
    ew, eh = 0.047 * esz, 0.026 * esz * att["eye_open"]
    p = pts[_SL["eye"]]
    p[:, 0], p[:, 1] = _ESIDE * es + ew * _ECOS, _Y_EYE - eh * _EFAC
    br, bth = att["brow_raise"], ident["brow_thickness"]
    bx = _BSIDE * (es + 1.25 * ew - _BU * 2.25 * ew)
    by = _Y_EYE - 0.052 * math.sqrt(esz) - 0.028 * br - 0.014 * _BSIN - 0.006 * br * _BU
    bt = bth * (0.55 + 0.6 * _BU)
    p = pts[_SL["brow"]]
    p[:, 0], p[:, 1] = bx[_BIDX], by[_BIDX] + _BOFF * bt[_BIDX]
    nl, nw = ident["nose_length"], ident["nose_width"]
    y_tip, y_nb = _Y_EYE + 0.82 * nl, _Y_EYE + nl
    ny = _NOSE_YB + _NOSE_ISB * y_nb
    ny[:4] = _Y_EYE - 0.004 + _T4 * (y_tip - _Y_EYE + 0.004)
    ny[9] = ny[14] = _Y_EYE + 0.01
    n0 = _SL["bridge"].start
    p = pts[n0:n0 + 17]
    p[:, 0], p[:, 1] = _NOSE_X[0] * nw + _NOSE_X[1], ny
    sm, gap, lf = att["smile"], 0.055 * att["mouth_open"], ident["lip_fullness"]
    mw = ident["mouth_width"] * (1 + 0.12 * sm)
    ym = y_nb + 0.36 * (chin - y_nb)
    p = pts[_SL["mouth"]]
    p[:, 0], p[:, 1] = _MU * mw, ym - 0.022 * sm * _MU2 + gap * _MGA + lf * _MLB + _MC
    p = pts[_SL["beardm"]]
    p[:, 0], p[:, 1] = _BM_A * (a * jw) + _BM_M * mw, ym + _BM_Y
    p = pts[_SL["hairline"]]
    p[:, 0], p[:, 1] = hx * a, hy
    p = pts[_SL["rim"]]
    p[:, 0], p[:, 1] = _RIM_X * (es + ew + 0.035), _RIM_Y
    lp = pts[_LIFT]
    lp[:, 2] = zs(lp[:, 0], lp[:, 1])
    pts[_SL["eye"], 2] -= 0.004
    pts[_SL["brow"], 2] += 0.006
    pts[n0:n0 + 17, 2] += _NOSE_DZ
    tip_z = zs1(0.0, y_tip) + 0.02 + 0.25 * nl
    pts[n0:n0 + 4, 2] += _T4 ** 1.5 * (tip_z - pts[n0 + 3, 2])
    pts[_SL["mouth"], 2] += 0.01
    pts[_SL["beardm"].start + 1:_SL["beardm"].stop - 1, 2] += 0.012
    # Eye-plane points: iris / pupil = eye opening clipped radially to a disc; glasses rims.
    zc = zs1(es, _Y_EYE)
    dx, dy = ew * _ECOS[:48], -eh * _EFAC[:48]
    dn = np.sqrt(dx * dx + dy * dy) + 1e-12
    ir = 0.54 * ew
    k1, k2 = np.minimum(1.0, ir / dn), np.minimum(1.0, 0.38 * ir / dn)
    cx = _ESIDE[:48] * es
    i0, p0, g0 = _SL["iris"].start, _SL["pupil"].start, _SL["glass"].start
    pts[i0:i0 + 48, 0], pts[i0:i0 + 48, 1] = cx + dx * k1, _Y_EYE + dy * k1
    pts[p0:p0 + 48, 0], pts[p0:p0 + 48, 1] = cx + dx * k2, _Y_EYE + dy * k2
    ze = pts[_EYE0:_EYE0 + 48, 2] - zc          # irises follow the eye surface where they meet the lids
    pts[i0:i0 + 48, 2], pts[p0:p0 + 48, 2] = zc + k1 * ze, zc + k2 * ze
    pts[g0:g0 + 32, 0], pts[g0:g0 + 32, 1], pts[g0:g0 + 32, 2] = (_GSIDE * es + 1.55 * ew * _GLX,
                                                                _Y_EYE + 0.058 * _GLY, zc + 0.03)
    zp = float(pts[_LM_IDX[36:], 2].mean())
    return pts, {"a": a, "b": b, "c": c, "zp": zp, "style": style, "shell": (sxy, sy)}


def _ellipse_outline(R, centre, axes, n=40):
    """Orthographic silhouette of an ellipsoid (semi-axes `axes`, head-frame `centre`) rotated by R:
    (n outline points, 2D centre, 2x2 matrix M with outline = {p: (p-m)^T M (p-m) = 1})."""
    A = (R * (1.0 / np.asarray(axes) ** 2)) @ R.T
    M = A[:2, :2] - np.outer(A[:2, 2], A[2, :2]) / A[2, 2]
    m = (R @ centre)[:2]
    if n == 0:
        return None, m, M
    l11 = math.sqrt(M[0, 0])
    l21 = M[0, 1] / l11
    l22 = math.sqrt(M[1, 1] - l21 * l21)
    linv_t = np.array([[1 / l11, 0.0], [-l21 / (l11 * l22), 1 / l22]])  # (L^-T)^T
    return m + _CS[n] @ linv_t, m, M


_CS = {n: np.c_[np.cos(t), np.sin(t)] for n in (40, 72) for t in [np.linspace(0, 2 * np.pi, n, endpoint=False)]}
_AFRO_R = 1 + 0.05 * np.abs(np.sin(7 * np.linspace(0, 2 * np.pi, 72, endpoint=False)))


@functools.lru_cache(maxsize=16)
def _pixel_grid(res):
    t = (np.arange(res, dtype=np.float32) + 0.5) / res
    return np.meshgrid(t, t)


def _hsv(h, s, v):
    return tuple(x * 255 for x in colorsys.hsv_to_rgb(h % 1.0, s, v))


def render(identity: dict, attributes: dict, resolution: int = 64) -> np.ndarray:
    """The RGB uint8 image [R, R, 3] of `identity` under `attributes`."""
    if resolution < 8 or resolution & (resolution - 1):
        raise ValueError(f"resolution must be a power of two >= 8, got {resolution}")
    ident, att = identity, attributes
    ss = 4 if resolution < 128 else 2
    S = resolution * ss
    pts, geo = _model(ident, att)
    a, b, c, zp, style = geo["a"], geo["b"], geo["c"], geo["zp"], geo["style"]
    R = _rotation(att)
    ctr = np.array([0.0, 0.0, -zp])
    off = _PIVOT_IMG * S - 0.5
    P = (pts - (0.0, 0.0, zp)) @ (R[:2].T * S) + off          # canvas pixels (float)
    F = np.round(P * (1 << _SHIFT)).astype(np.int32)          # fixed point for cv2

    def px(q):  # image-plane offsets from the pivot (fractions) -> canvas pixels
        return q * S + off

    def fx(q):
        return np.round(q * (1 << _SHIFT)).astype(np.int32)

    skin = _palette(_SKIN, ident["skin_tone"])
    hair = _palette(_HAIR, ident["hair_color"])
    sk, hr = tuple(skin) + (255,), tuple(hair) + (255,)
    canvas = np.empty((S, S, 4), np.uint8)
    cv2.rectangle(canvas, (0, 0), (S, S), _hsv(att["bg_hue"], 0.35, att["bg_value"]) + (0,), -1)
    lw = max(1, int(round(S / 110)))
    AA = cv2.LINE_AA

    def col(k, base=skin):
        return tuple(base * k) + (255,)

    # Back hair.
    if style == 1:
        sh, _, _ = _ellipse_outline(R, ctr, (1.13 * a, 1.09 * b, 1.1 * c))
        hull = cv2.convexHull(np.concatenate([px(sh), P[_SL["misc"]][2:6]]).astype(np.float32))[:, 0]
        cv2.fillConvexPoly(canvas, fx(hull), col(0.85, hair), AA, _SHIFT)
    elif style == 3:
        o = P[_SL["misc"].start + 6]
        pts_a = o + _CS[72] * (_AFRO_R[:, None] * (1.42 * a * S, 1.2 * b * S))
        cv2.fillPoly(canvas, [fx(pts_a)], col(0.9, hair), AA, _SHIFT)
    # Shoulders and neck (the body does not turn with the head).
    neck_x = (0.5 + 0.35 * (R @ ctr)[0]) * S
    cl = _hsv(att["clothes_hue"], 0.45, 0.55) + (255,)
    cv2.ellipse(canvas, (int(neck_x * 16), int(1.1 * S * 16)), (int(0.52 * S * 16), int(0.2 * S * 16)),
                0, 0, 360, cl, -1, AA, _SHIFT)
    nk = np.array([[-0.5 * a, 0.6], [0.5 * a, 0.6], [0.56 * a, 0.96], [-0.56 * a, 0.96]]) * S + (neck_x, 0)
    cv2.fillConvexPoly(canvas, fx(nk), col(0.8), AA, _SHIFT)
    # Ears, head.
    ears = [F[_SL["ear"]][:12], F[_SL["ear"]][12:]]
    front = [R[2, 0] * sg > -0.3 and style in (0, 3, 4) for sg in (-1, 1)]   # ear over the hair / head?
    if not all(front):
        cv2.fillPoly(canvas, [e for e, f in zip(ears, front) if not f], col(0.93), AA, _SHIFT)
    cran, _, _ = _ellipse_outline(R, ctr, (a, b, c))
    head = cv2.convexHull(np.concatenate([px(cran), P[_SL["jaw"]], P[_SL["rim"]], P[_SL["brow"]]])
                          .astype(np.float32))[:, 0]
    cv2.fillConvexPoly(canvas, fx(head), sk, AA, _SHIFT)
    # Hair cap (shell above the cut line), then the face below the hairline in skin again.
    if style != 4:
        sxy, sy = geo["shell"]
        shell, _, _ = _ellipse_outline(R, ctr, (sxy * a, sy * b, 1.08 * c))
        # Cut line: temple height; on the side turned to the camera it drops behind the ear (short hair
        # covers the back of the head), continuously in yaw.
        ycut, drop = _HAIR_SPEC[style][2], (0.25 if style in (0, 3) else 0.0)
        cut = np.array([[-1.5 * a, ycut + drop * max(0.0, -R[2, 0]), -zp],
                        [1.5 * a, ycut + drop * max(0.0, R[2, 0]), -zp]])
        pl, pr = cut @ (R[:2].T * S) + off
        d = (pr - pl) * 4
        up = np.array([d[1], -d[0]])
        quad = np.array([pl - d, pr + d, pr + d + up, pl - d + up], np.float32)
        _, cap = cv2.intersectConvexConvex(px(shell).astype(np.float32), quad)
        if cap is not None and len(cap) > 2:
            cv2.fillConvexPoly(canvas, fx(cap[:, 0]), hr, AA, _SHIFT)
        hl = F[_SL["hairline"]]
        jf = F[_SL["jawf"]][pts[_SL["jawf"], 1] > pts[_SL["hairline"].stop - 1, 1] - 1e-9]
        # Temple rim points widen the face where they stick out of the hairline-jaw edge (the far side).
        ks = [k for k in range(4) if _HAIR_SPEC[style][4][-1] < _RIM_Y[k] <= 0.0]
        ends = []
        for sg, A, B, rim in ((-1, hl[-1], jf[0], F[_SL["rim"]][ks]), (1, hl[0], jf[-1], F[_SL["rim"]][4:][ks][::-1])):
            t = (rim[:, 1] - A[1]) / (B[1] - A[1] if B[1] != A[1] else 1)
            xs = A[0] + (B[0] - A[0]) * t
            ends.append(np.stack([np.minimum(rim[:, 0], xs) if sg < 0 else np.maximum(rim[:, 0], xs),
                                  rim[:, 1]], 1).astype(np.int32))
        poly = np.concatenate([hl, ends[0], jf, ends[1]])
        cv2.fillPoly(canvas, [poly], sk, AA, _SHIFT)
    if any(front):
        for e, f in zip(ears, front):
            if f:
                cv2.fillConvexPoly(canvas, e, col(0.93), AA, _SHIFT)
    # Beard.
    if ident["beard"]:
        cv2.fillPoly(canvas, [np.concatenate([F[_SL["jaw"]][6:27], F[_SL["beardm"]]])], col(0.8, hair), AA, _SHIFT)
    # Nose.
    ns = _SL["nose_shape"]
    cv2.fillConvexPoly(canvas, F[ns], col(0.9), AA, _SHIFT)
    cv2.polylines(canvas, [F[_SL["nose_bottom"]]], False, col(0.62), lw, AA, _SHIFT)
    rn = int(0.011 * S * 16 * ident["nose_width"] / 0.035)
    for p in F[_SL["nostrils"]]:
        cv2.circle(canvas, (int(p[0]), int(p[1])), rn, col(0.45), -1, AA, _SHIFT)
    # Eyes.
    iris_c = tuple(_palette(_IRIS, ident["eye_color"])) + (255,)
    eyes = [F[_EYE_R], F[_EYE_L]]
    cv2.fillPoly(canvas, eyes, (242, 240, 236, 255), AA, _SHIFT)
    i0, p0 = _SL["iris"].start, _SL["pupil"].start
    cv2.fillPoly(canvas, [F[i0:i0 + 24], F[i0 + 24:i0 + 48]], iris_c, AA, _SHIFT)
    cv2.fillPoly(canvas, [F[p0:p0 + 24], F[p0 + 24:p0 + 48]], (15, 12, 12, 255), AA, _SHIFT)
    if att["eye_open"] > 0.4:   # catch lights
        hr_, d = int(0.0045 * S * 16 * ident["eye_size"]), 0.0125 * S * 16 * ident["eye_size"]
        for k in (p0, p0 + 24):
            q = F[k:k + 24].mean(0) - (d, 1.1 * d)
            cv2.circle(canvas, (int(q[0]), int(q[1])), hr_, (250, 250, 250, 255), -1, AA, _SHIFT)
    cv2.polylines(canvas, [e[:13] for e in eyes], False, (30, 22, 20, 255), lw, AA, _SHIFT)
    cv2.polylines(canvas, [e[12:] for e in eyes], False, col(0.55), max(1, lw // 2), AA, _SHIFT)
    cv2.fillPoly(canvas, [F[_BROW_R], F[_BROW_L]], col(0.75 if ident["hair_color"] < 0.75 else 0.6, hair),
                 AA, _SHIFT)
    # Mouth.
    lip = np.minimum(skin * (0.86, 0.55, 0.55) + (30, 0, 0), 255)
    cv2.fillPoly(canvas, [F[_LIP_O]], tuple(lip) + (255,), AA, _SHIFT)
    cv2.fillPoly(canvas, [np.concatenate([F[_LIP_O][:15], F[_LIP_I][12::-1]])], tuple(lip * 0.8) + (255,), AA, _SHIFT)
    if att["mouth_open"] > 0.02:
        cv2.fillPoly(canvas, [F[_LIP_I]], (70, 22, 28, 255), AA, _SHIFT)
        cv2.fillPoly(canvas, [F[_TEETH]], (238, 236, 228, 255), AA, _SHIFT)
    else:
        cv2.polylines(canvas, [F[_LIP_I][:13]], False, col(0.35), lw, AA, _SHIFT)
    # Glasses.
    if ident["glasses"]:
        fc = (35, 30, 30, 255)
        g0, m0 = _SL["glass"].start, _SL["misc"].start
        gr, gl = F[g0:g0 + 16], F[g0 + 16:g0 + 32]
        cv2.polylines(canvas, [gr, gl], True, fc, lw, AA, _SHIFT)
        arms = [np.stack([gr[0], gl[8]])] + [np.stack([g[k], F[m0 + j]]) for j, (g, k, sg) in
                                             enumerate(((gr, 8, -1), (gl, 0, 1))) if R[2, 0] * sg > -0.25]
        cv2.polylines(canvas, arms, False, fc, lw, AA, _SHIFT)   # bridge + temple arms not behind the head
    while canvas.shape[0] > resolution:   # repeated 2x box filters (much faster than one 4x INTER_AREA)
        canvas = cv2.resize(canvas, (canvas.shape[0] // 2,) * 2, interpolation=cv2.INTER_AREA)
    return _shade(canvas, R, ctr, a, b, c, att)


def _shade(img, R, ctr, a, b, c, att):
    """Lambertian shading of the foreground (alpha) from a normal field of the head ellipsoid,
    evaluated at half resolution and upsampled bilinearly."""
    res = img.shape[0]
    n = max(8, min(res // 2, 64))
    _, m, M = _ellipse_outline(R, ctr, (1.1 * a, 1.1 * b, 1.1 * c), n=0)
    gx, gy = _pixel_grid(n)
    dx, dy = gx - float(m[0] + _PIVOT_IMG[0]), gy - float(m[1] + _PIVOT_IMG[1])
    nx, ny = float(M[0, 0]) * dx + float(M[0, 1]) * dy, float(M[0, 1]) * dx + float(M[1, 1]) * dy
    r2 = nx * dx + ny * dy
    k = np.minimum(np.sqrt(r2), 1.0) / (np.sqrt(nx * nx + ny * ny) + 1e-9)
    nz = np.sqrt(np.maximum(1.0 - r2, 0.0))
    az, el = math.radians(att["light_azimuth"]), math.radians(35.0)
    lx, ly, lz = math.sin(az) * math.cos(el), -math.sin(el), math.cos(az) * math.cos(el)
    diff = np.maximum((nx * lx + ny * ly) * k + nz * lz, 0.0)
    s = att["light_strength"]
    shade = (1.0 - s + 0.42 * s - 1.0) + (0.72 * s) * diff        # shade - 1
    shade = cv2.resize(shade, (res, res), interpolation=cv2.INTER_LINEAR)
    f = 1.0 + img[..., 3].astype(np.float32) * (1.0 / 255.0) * shade
    out = img[..., :3].astype(np.float32) * f[..., None] + 0.5
    return np.clip(out, 0, 255).astype(np.uint8)


def landmarks3d(identity: dict, attributes: dict) -> np.ndarray:
    """The 68 landmark model points [68, 3] relative to the pivot (head frame, before rotation)."""
    pts, geo = _model(identity, attributes)
    return (pts[_LM_IDX] - (0.0, 0.0, geo["zp"])).astype(np.float32)


def landmarks(identity: dict, attributes: dict, resolution: int = 64) -> np.ndarray:
    """dlib-layout 68 (x, y) landmarks in pixels (pixel centres at integers) [68, 2] float32."""
    p = landmarks3d(identity, attributes).astype(np.float64) @ _rotation(attributes)[:2].T
    return ((p + _PIVOT_IMG) * resolution - 0.5).astype(np.float32)


def render_batch(identities, attributes_list, resolution: int = 64) -> np.ndarray:
    """render() of each (identity, attributes) pair, stacked: uint8 [N, R, R, 3]."""
    return np.stack([render(i, a, resolution) for i, a in zip(identities, attributes_list, strict=True)])


def person_example(person: int, view: int, seed: int = 0, resolution: int = 64) -> dict:
    """Person `person` (identity from rng [seed, person, 0]) in view `view` (attributes from
    rng [seed, person, 1, view])."""
    ident = sample_identity(np.random.default_rng([seed, person, 0]))
    att = sample_attributes(np.random.default_rng([seed, person, 1, view]))
    return {"image": render(ident, att, resolution), "identity": ident, "attributes": att,
            "landmarks": landmarks(ident, att, resolution), "person": int(person)}


def example(index: int, seed: int = 0, resolution: int = 64) -> dict:
    """Dataset item `index`: a new person per index (= person_example(index, 0, seed))."""
    return person_example(index, 0, seed, resolution)


def contact_sheet(identities, attribute_states, resolution: int = 64, gap: int = 2) -> np.ndarray:
    """Rows = identities, columns = attribute states, `gap` white pixels between cells."""
    n, m = len(identities), len(attribute_states)
    step = resolution + gap
    sheet = np.full((n * step + gap, m * step + gap, 3), 255, np.uint8)
    for i, ident in enumerate(identities):
        for j, att in enumerate(attribute_states):
            sheet[gap + i * step:gap + i * step + resolution, gap + j * step:gap + j * step + resolution] = \
                render(ident, att, resolution)
    return sheet


def image_source(resolution: int, seed: int = 0):
    """Renders as a StyleGAN training stream (`stylegan.training.ImageSource`): (start, count) ->
    uint8 images start..start+count-1, image i being `example(i, seed, resolution)` (a new person each)."""

    def source(start, count):
        return np.stack([example(i, seed, resolution)["image"] for i in range(start, start + count)])
    return source
