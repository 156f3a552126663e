"""The paper's evaluation metrics (Tables 1 and 2), on HWC uint8 RGB images.

Identity: cosine similarity of dlib's face-recognition descriptors (a network independent of
training; offline from `face-recognition-models`; run by its Keras port, `dlib_resnet`), or of
ArcFace embeddings when the user supplies an ArcFace network (`ArcFace`). Expression: mean L2
between dlib 68 landmarks, divided by the resolution. Pose: L2 between (yaw, pitch, roll) in
degrees from solvePnP on landmarks. FID: InceptionV3 pool3 on MTCNN face crops (weights supplied by the user).
Reconstruction: RMSE, PSNR. Landmark accuracy (E_lnd vs dlib): `nme`. A face that cannot be found
raises faces.NoFaceError; the evaluation protocol (`idd_tf.protocol.evaluate`: generated pairs or
real image folders, what scripts/evaluate.py runs) skips and counts those.
"""

from __future__ import annotations

import functools

import numpy as np

from idd_tf.method import faces

# Generic 3D face model (mm) for solvePnP: nose tip, chin, eye outer corners, mouth corners.
POSE_MODEL_POINTS = np.array([(0.0, 0.0, 0.0), (0.0, -330.0, -65.0), (-225.0, 170.0, -135.0),
                              (225.0, 170.0, -135.0), (-150.0, -150.0, -125.0),
                              (150.0, -150.0, -125.0)], dtype=np.float64)
POSE_LANDMARKS = (30, 8, 36, 45, 48, 54)
FID_INPUT_SIZE = 299
# ArcFace input: 112x112 face aligned by a similarity transform of 5 points (left eye, right eye,
# nose, left and right mouth corner) onto this template (insightface's standard), pixels
# normalised as (x - 127.5) / 128.
ARCFACE_SIZE = 112
ARCFACE_TEMPLATE = ((38.2946, 51.6963), (73.5318, 51.5014), (56.0252, 71.7366),
                    (41.5493, 92.3655), (70.7299, 92.2041))


@functools.lru_cache(maxsize=1)
def _face_rec():
    """dlib's C++ face-recognition network (the reference the Keras port is tested against)."""
    import dlib
    import face_recognition_models as frm
    return dlib.face_recognition_model_v1(frm.face_recognition_model_location())


def face_descriptor(image_u8, box=None) -> np.ndarray:
    """dlib's 128-d face descriptor of the largest face (or of `box`): dlib's 150x150 chip
    (68 landmarks, padding 0.25, as compute_face_descriptor) through the Keras port of dlib's
    ResNet (`dlib_resnet`; equal to dlib's C++ compute_face_descriptor within 1e-4, tested)."""
    import dlib

    from idd_tf.method import dlib_resnet
    image_u8 = np.ascontiguousarray(image_u8)
    box = box or faces.largest_face(image_u8)
    shape = faces.dlib_models()["predictor"](image_u8, dlib.rectangle(*map(int, box)))
    return dlib_resnet.descriptors(dlib_resnet.face_chip(image_u8, shape))


def face_info(image_u8) -> dict:
    """One detection of the largest face and what the metrics need from it:
    {"detection" (MTCNN box, keypoints), "landmarks" (dlib 68), "descriptor" (dlib 128-d)}."""
    det = faces.largest_detection(image_u8)
    return {"detection": det, "landmarks": faces.dlib_landmarks(image_u8, box=det["box"]),
            "descriptor": face_descriptor(image_u8, det["box"])}


def cosine(a, b) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def identity_similarity(a_u8, b_u8) -> float:
    """Cosine similarity of the identities in two images (1 = the same descriptor)."""
    return cosine(face_descriptor(a_u8), face_descriptor(b_u8))


def landmark_distance(la, lb, resolution) -> float:
    """Mean L2 distance of two sets of 68 landmarks, divided by the resolution."""
    return float(np.linalg.norm(np.asarray(la) - np.asarray(lb), axis=1).mean() / resolution)


NME_EYE_CORNERS = (36, 45)  # outer eye corners of the 68-point scheme: 300-W's inter-ocular distance


def nme(pred, ref, per_image: bool = False):
    """Normalised mean error of 68-point landmarks (300-W, inter-ocular): per image, the mean
    point-to-point distance ||pred_k - ref_k|| over the 68 points divided by the distance of
    ref's outer eye corners (points 36 and 45); then the mean over images.

    pred, ref: [68, 2] or [N, 68, 2] in the same units (pixels or [0, 1]: the ratio is
    scale-free). Returns a float, or the [N] per-image values with `per_image`.
    """
    pred, ref = np.asarray(pred, np.float64), np.asarray(ref, np.float64)
    if pred.shape != ref.shape or pred.shape[-2:] != (68, 2):
        raise ValueError(f"expected two [N, 68, 2] landmark sets, got {pred.shape} and {ref.shape}")
    pred, ref = pred.reshape(-1, 68, 2), ref.reshape(-1, 68, 2)
    iod = np.linalg.norm(ref[:, NME_EYE_CORNERS[0]] - ref[:, NME_EYE_CORNERS[1]], axis=-1)
    if not np.all(iod > 0):
        raise ValueError("reference landmarks with coincident outer eye corners (points 36, 45)")
    errs = np.linalg.norm(pred - ref, axis=-1).mean(-1) / iod
    return errs if per_image else float(errs.mean())


def expression_distance(a_u8, b_u8) -> float:
    """Mean L2 distance of the 68 dlib landmarks, divided by the image resolution."""
    return landmark_distance(faces.dlib_landmarks(a_u8), faces.dlib_landmarks(b_u8), a_u8.shape[0])


def head_pose(image_u8, landmarks=None) -> np.ndarray:
    """(yaw, pitch, roll) in degrees from solvePnP of six landmarks on a generic 3D face."""
    import cv2
    lm = faces.dlib_landmarks(image_u8) if landmarks is None else np.asarray(landmarks)
    pts = lm[list(POSE_LANDMARKS)].astype(np.float64)
    h, w = image_u8.shape[:2]
    cam = np.array([[w, 0, w / 2], [0, w, h / 2], [0, 0, 1]], dtype=np.float64)
    ok, rvec, _ = cv2.solvePnP(POSE_MODEL_POINTS, pts, cam, np.zeros(4), flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        raise faces.NoFaceError("head pose could not be estimated")
    rot, _ = cv2.Rodrigues(rvec)
    sy = np.hypot(rot[0, 0], rot[1, 0])
    pitch = np.degrees(np.arctan2(rot[2, 1], rot[2, 2]))
    yaw = np.degrees(np.arctan2(-rot[2, 0], sy))
    roll = np.degrees(np.arctan2(rot[1, 0], rot[0, 0]))
    pitch = (pitch + 180.0) % 360.0 - 180.0
    pitch = pitch - 180.0 if pitch > 90 else (pitch + 180.0 if pitch < -90 else pitch)
    return np.array([yaw, pitch, roll])


def pose_distance(a_u8, b_u8) -> float:
    """L2 between the (yaw, pitch, roll) of two faces, degrees."""
    return float(np.linalg.norm(head_pose(a_u8) - head_pose(b_u8)))


def rmse(a_u8, b_u8) -> float:
    """Root mean squared error in [0, 255] units."""
    d = np.asarray(a_u8, np.float64) - np.asarray(b_u8, np.float64)
    return float(np.sqrt(np.mean(d ** 2)))


def psnr(a_u8, b_u8) -> float:
    """Peak signal-to-noise ratio in dB (inf for identical images)."""
    e = rmse(a_u8, b_u8)
    return float("inf") if e == 0 else float(20 * np.log10(255.0 / e))


class ArcFace:
    """Identity embeddings from a user-supplied ArcFace network.

    `weights`: a Keras model file (`.keras` / `.h5`) or a SavedModel directory taking
    [B, 112, 112, 3] RGB normalised as (x - 127.5) / 128 and returning [B, D] embeddings (the
    usual ArcFace export). Faces are aligned by MTCNN's 5 keypoints onto the standard ArcFace
    template with a similarity transform.
    """

    def __init__(self, weights):
        from pathlib import Path

        import keras
        path = Path(weights)
        if not path.exists():
            raise FileNotFoundError(f"ArcFace network not found: {path}")
        if path.is_dir():
            self.net = keras.layers.TFSMLayer(str(path), call_endpoint="serving_default")
        else:
            self.net = keras.models.load_model(path, compile=False)

    @staticmethod
    def align(image_u8, detection: dict | None = None) -> np.ndarray:
        """112x112 ArcFace crop of the largest face (or of a given MTCNN detection)."""
        import cv2

        kp = (detection or faces.largest_detection(image_u8))["keypoints"]
        src = np.array([kp["left_eye"], kp["right_eye"], kp["nose"], kp["mouth_left"],
                        kp["mouth_right"]], np.float32)
        m, _ = cv2.estimateAffinePartial2D(src, np.array(ARCFACE_TEMPLATE, np.float32), method=cv2.LMEDS)
        return cv2.warpAffine(np.ascontiguousarray(image_u8), m, (ARCFACE_SIZE, ARCFACE_SIZE),
                              borderValue=0)

    def embed(self, image_u8, detection: dict | None = None) -> np.ndarray:
        x = (self.align(image_u8, detection).astype(np.float32)[None] - 127.5) / 128.0
        out = self.net(x)
        if isinstance(out, dict):
            out = next(iter(out.values()))
        e = np.asarray(out, np.float64).reshape(-1)
        return e / np.linalg.norm(e)

    def similarity(self, a_u8, b_u8) -> float:
        return float(self.embed(a_u8) @ self.embed(b_u8))


# ----------------------------------------------------------------------------------------------
# FID on face crops.

class FIDFeatures:
    """InceptionV3 pool3 (2048-d) features of MTCNN face crops resized to 299.

    `weights`: a Keras InceptionV3 notop .h5 (ImageNet or the FID Inception). Nothing is
    downloaded; without weights the features are those of a random network (tests only).
    """

    def __init__(self, weights: str | None):
        import keras
        self.net = keras.applications.InceptionV3(include_top=False, weights=weights, pooling="avg",
                                                  input_shape=(FID_INPUT_SIZE, FID_INPUT_SIZE, 3))

    def __call__(self, images_u8: list[np.ndarray], crop: bool = True) -> np.ndarray:
        from PIL import Image
        batch = []
        for img in images_u8:
            if crop:
                l, t, r, b = faces.largest_face(img)
                img = img[t:b, l:r]
            img = Image.fromarray(np.ascontiguousarray(img)).resize((FID_INPUT_SIZE,) * 2, Image.BILINEAR)
            batch.append(np.asarray(img, np.float32) / 127.5 - 1.0)
        return np.asarray(self.net.predict(np.stack(batch), verbose=0), np.float64)


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """FID between two feature sets: |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^1/2)."""
    a = np.asarray(feats_a, np.float64)
    b = np.asarray(feats_b, np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    xa, xb = a - mu_a, b - mu_b
    na, nb, d = len(a), len(b), a.shape[1]
    tr_a, tr_b = np.sum(xa * xa) / (na - 1), np.sum(xb * xb) / (nb - 1)
    if min(na, nb) < d:
        # Tr (S_a S_b)^1/2 is the nuclear norm of Xa Xb^T / sqrt((na-1)(nb-1)): the nonzero
        # eigenvalues of Xa^T Xa Xb^T Xb are those of (Xa Xb^T)(Xa Xb^T)^T. [na, nb] instead of [d, d].
        tr_sqrt = np.linalg.svd(xa @ xb.T, compute_uv=False).sum() / np.sqrt((na - 1) * (nb - 1))
    else:
        # symmetric form, Tr (S_a^1/2 S_b S_a^1/2)^1/2: two eigh instead of a general eigvals
        s_a, s_b = xa.T @ xa / (na - 1), xb.T @ xb / (nb - 1)
        w, v = np.linalg.eigh(s_a)
        root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
        tr_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ s_b @ root_a), 0, None)).sum()
    return float(np.sum((mu_a - mu_b) ** 2) + tr_a + tr_b - 2 * tr_sqrt)
