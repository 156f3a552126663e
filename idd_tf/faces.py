"""Faces in images: dlib 68-point landmarks (from `face-recognition-models`, offline) and detection."""

from __future__ import annotations

import functools
import logging

import numpy as np

from idd_tf.config import FFHQ_FACE_BOX


class NoFaceError(ValueError):
    """No face was found in an image."""


@functools.lru_cache(maxsize=1)
def _dlib_models():
    import dlib
    import face_recognition_models as frm
    return {"detector": dlib.get_frontal_face_detector(),
            "predictor": dlib.shape_predictor(frm.pose_predictor_model_location())}


def canonical_face_box(size: int) -> tuple[int, int, int, int]:
    """The face box (left, top, right, bottom) of an FFHQ-aligned square image of side `size`."""
    l, t, r, b = FFHQ_FACE_BOX
    return (int(round(l * size)), int(round(t * size)), int(round(r * size)), int(round(b * size)))


def detect_faces(image_u8: np.ndarray, upsample: int = 1) -> list[tuple[int, int, int, int]]:
    """dlib HOG face boxes (left, top, right, bottom), largest first."""
    rects = _dlib_models()["detector"](np.ascontiguousarray(image_u8), upsample)
    boxes = [(r.left(), r.top(), r.right(), r.bottom()) for r in rects]
    return sorted(boxes, key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))


def dlib_landmarks(image_u8: np.ndarray, box=None, aligned: bool = False) -> np.ndarray:
    """68 (x, y) landmarks in pixels of an HWC uint8 RGB image.

    box: (left, top, right, bottom); aligned=True uses the FFHQ canonical box; otherwise the
    largest detected face (several faces: a warning; none: NoFaceError).
    """
    import dlib
    image_u8 = np.ascontiguousarray(image_u8)
    if image_u8.dtype != np.uint8 or image_u8.ndim != 3:
        raise ValueError("dlib_landmarks expects an HWC uint8 RGB image")
    if box is None and aligned:
        box = canonical_face_box(image_u8.shape[0])
    if box is None:
        boxes = detect_faces(image_u8)
        if not boxes:
            raise NoFaceError("no face found in the image")
        if len(boxes) > 1:
            logging.warning("%d faces found; using the largest", len(boxes))
        box = boxes[0]
    shape = _dlib_models()["predictor"](image_u8, dlib.rectangle(*map(int, box)))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
