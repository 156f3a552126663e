"""Faces in images: dlib 68-point landmarks (from `face-recognition-models`, offline) and detection."""

from __future__ import annotations

import functools
import logging

import numpy as np

from idd_tf.utils.errors import UserError

# Where the face sits in an FFHQ-aligned image (fractions of the side: left, top, right, bottom);
# used as dlib's face box when landmarking aligned/generated images without detection.
FFHQ_FACE_BOX = (0.22, 0.30, 0.78, 0.86)
# MTCNN detections below this confidence are ignored.
FACE_MIN_CONFIDENCE = 0.9


class NoFaceError(UserError, ValueError):
    """No face was found in an image."""


@functools.lru_cache(maxsize=1)
def dlib_models():
    import dlib
    import face_recognition_models as frm
    return {"detector": dlib.get_frontal_face_detector(),
            "predictor": dlib.shape_predictor(frm.pose_predictor_model_location())}


def canonical_face_box(size: int) -> tuple[int, int, int, int]:
    """The face box (left, top, right, bottom) of an FFHQ-aligned square image of side `size`."""
    l, t, r, b = FFHQ_FACE_BOX
    return (int(round(l * size)), int(round(t * size)), int(round(r * size)), int(round(b * size)))


@functools.lru_cache(maxsize=1)
def _mtcnn():
    from mtcnn import MTCNN
    return MTCNN()


def detect_faces(image_u8: np.ndarray, min_confidence: float = FACE_MIN_CONFIDENCE) -> list[dict]:
    """MTCNN faces (weights ship with the `mtcnn` package), largest first:
    [{"box": (left, top, right, bottom), "confidence": float, "keypoints": {...}}]."""
    image_u8 = _check_image(image_u8)
    found = []
    for det in _mtcnn().detect_faces(image_u8):
        if det["confidence"] < min_confidence:
            continue
        x, y, w, h = (int(v) for v in det["box"])
        found.append({"box": (max(x, 0), max(y, 0), x + w, y + h),
                      "confidence": float(det["confidence"]),
                      "keypoints": {k: tuple(int(c) for c in v) for k, v in det["keypoints"].items()}})
    return sorted(found, key=lambda d: -(d["box"][2] - d["box"][0]) * (d["box"][3] - d["box"][1]))


def largest_detection(image_u8: np.ndarray, name=None) -> dict:
    """The largest MTCNN face (see detect_faces); NoFaceError if none; a warning if several,
    naming the image by `name` (its file, a frame) when given."""
    faces = detect_faces(image_u8)
    if not faces:
        raise NoFaceError("no face found in the image")
    if len(faces) > 1:
        logging.warning("%s%d faces found; using the largest", f"{name}: " if name else "", len(faces))
    return faces[0]


def largest_face(image_u8: np.ndarray, name=None) -> tuple[int, int, int, int]:
    """Box of the largest face; NoFaceError if none; a warning (naming `name`) if several."""
    return largest_detection(image_u8, name)["box"]


def _check_image(image_u8):
    image_u8 = np.ascontiguousarray(image_u8)
    if image_u8.dtype != np.uint8 or image_u8.ndim != 3 or image_u8.shape[-1] != 3:
        raise ValueError(f"expected an HWC uint8 RGB image, got {image_u8.dtype} {image_u8.shape}")
    return image_u8


def dlib_landmarks(image_u8: np.ndarray, box=None, aligned: bool = False, name=None) -> np.ndarray:
    """68 (x, y) landmarks in pixels of an HWC uint8 RGB image (dlib's 68-point predictor).

    box: (left, top, right, bottom); aligned=True uses the FFHQ canonical box; otherwise the
    largest MTCNN face (several faces: a warning naming `name`, if given; none: NoFaceError).
    """
    import dlib
    image_u8 = _check_image(image_u8)
    if box is None:
        box = canonical_face_box(image_u8.shape[0]) if aligned else largest_face(image_u8, name)
    shape = dlib_models()["predictor"](image_u8, dlib.rectangle(*map(int, box)))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


def ffhq_quad(landmarks: np.ndarray) -> np.ndarray:
    """The FFHQ crop quad [4, 2] (corners: top-left, bottom-left, bottom-right, top-right) from
    68 landmarks, by the recipe of NVIDIA's FFHQ dataset (eyes and mouth corners)."""
    lm = np.asarray(landmarks, np.float64)
    eye_left, eye_right = lm[36:42].mean(0), lm[42:48].mean(0)
    eye_avg, eye_to_eye = (eye_left + eye_right) * 0.5, eye_right - eye_left
    mouth_avg = (lm[48] + lm[54]) * 0.5
    eye_to_mouth = mouth_avg - eye_avg
    x = eye_to_eye - np.flipud(eye_to_mouth) * [-1, 1]
    x /= np.hypot(*x)
    x *= max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y = np.flipud(x) * [-1, 1]
    c = eye_avg + eye_to_mouth * 0.1
    return np.stack([c - x - y, c - x + y, c + x + y, c + x - y])


def align_face(image_u8: np.ndarray, size: int, landmarks: np.ndarray | None = None,
               supersample: int = 4, name=None) -> np.ndarray:
    """FFHQ-style aligned crop (size x size uint8) of the largest face.

    Landmarks: dlib 68 points inside the MTCNN box (or given). The FFHQ quad is sampled with
    bilinear interpolation at `supersample` x the size, then Lanczos-downsampled; parts of the
    quad outside the photo are filled by reflection (FFHQ also blurs that border; omitted).
    """
    from PIL import Image
    image_u8 = _check_image(image_u8)
    lm = dlib_landmarks(image_u8, name=name) if landmarks is None else np.asarray(landmarks)
    quad = ffhq_quad(lm)
    h, w = image_u8.shape[:2]
    pad = int(np.ceil(max(0.0, -quad.min(), quad[:, 0].max() - w, quad[:, 1].max() - h))) + 2
    img = np.pad(image_u8, ((pad, pad), (pad, pad), (0, 0)), mode="reflect") if pad > 2 else image_u8
    if pad > 2:
        quad = quad + pad
    big = size * supersample
    out = Image.fromarray(img).transform((big, big), Image.QUAD, (quad + 0.5).flatten(),
                                         Image.BILINEAR)
    if supersample > 1:
        out = out.resize((size, size), Image.LANCZOS)
    return np.asarray(out, dtype=np.uint8)
