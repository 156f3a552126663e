"""NME of face-api's 68-point landmark net (E_lnd `arch=face_api_68`) against dlib on real photos.

    python tools/measure_landmark_nme.py /tmp/faces                        # print the tables
    python tools/measure_landmark_nme.py /tmp/faces --scan --markdown nme.md --json nme.json
    python tools/measure_landmark_nme.py /tmp/faces --box "0.68 box=0.16,0.28,0.84,0.96"
    python tools/measure_landmark_nme.py /tmp/faces --size 1024               # as ffhq1024 would see them

For every image file under the folder (recursively): dlib's HOG face detector finds the faces,
dlib's 68-point predictor marks each in the photo, and `faces.align_face` makes the FFHQ-aligned
crop (256 px by default) exactly as the method aligns real faces. On each aligned face:

- reference: dlib's 68 points with `faces.dlib_landmarks(aligned=True)` (dlib given the FFHQ face box),
  as the repository's metrics and `train_landmarks.py` use them;
- face-api: `encoders.LandmarkEncoder(LandmarkConfig(arch="face_api_68", face_box=BOX))`, i.e. E_lnd
  as training calls it, for BOX = none (the whole image), `faces.FFHQ_FACE_BOX` and any `--box`;
  also, as a diagnostic that E_lnd cannot use, the net given dlib's own detector box on the aligned
  image (per image; the nearest thing to the detector crops face-api was trained on);
- the mean-shape baseline: for every face, the mean of the other faces' reference shapes;
- dlib against itself: dlib given its detector box on the aligned image instead of the FFHQ box
  (how far the reference moves with its box: a floor for reading the NMEs).

NME = `metrics.nme` (mean point error / distance of the reference's outer eye corners 36-45),
broken down by head pose (|yaw| of `metrics.head_pose` on the reference points) and by the face's
size in the photo (small faces are upscaled to the aligned size); also over L_lnd's 51 inner points
only (17..67; same denominator), and on those with the net's mean offset from dlib removed
(leave-one-out: a constant bias cancels in L_lnd, the same net sees I_out and I_attr).

Consistency, the property L_lnd relies on (it compares E_lnd(I_out) with E_lnd(I_attr) through the
same net): each predictor's points on the image shifted by (3, 2) px at 256 (scaled with --size;
mapped back) and on a JPEG re-compression (quality 75), against its own points on the clean image,
divided by the reference's eye-corner distance. "L_lnd rank": Spearman correlation, over all pairs
of faces, of the L_lnd distance (mean squared difference of the 51 inner points) under the
predictor with that under dlib.

`--scan` adds a grid of fixed square boxes (side x centre height) to find which crop of the
aligned image suits the net best. `--toy N` also measures N toy-world renders (the only
"generated" faces this repository can make without NVIDIA's FFHQ StyleGAN), against dlib and
against their true landmarks. Nothing is downloaded; photos are not part of the repository (see
docs/landmark_net.md for the set measured and where it came from).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from idd_tf.utils import image_files  # noqa: E402

PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
INNER = slice(17, 68)           # L_lnd's 51 points
SHIFT = (3, 2)                  # px at 256 px (scaled with the aligned size), for the consistency check
JPEG_QUALITY = 75
YAW_BINS = ((0.0, 10.0), (10.0, 20.0), (20.0, 90.0))
SMALL_FACE = 100                # detector-box side in the photo, px: below it the face is upscaled ~2x or more
SCAN_SIDES = (0.50, 0.56, 0.62, 0.68, 0.72, 0.76, 0.80)
SCAN_CENTRES_Y = (0.54, 0.58, 0.60, 0.62, 0.64)
# dlib's detection score (its `run` with adjust_threshold 0 keeps scores >= 0): in the measured set
# the only two detections scoring below 0.15 were not faces (a badge, a dark blob); the next was 0.22.
MIN_SCORE = 0.15
SAME_PERSON = 0.6               # dlib face-descriptor distance below which two faces count as one person


class MeasureError(Exception):
    """A problem with the tool's input, reported in one line."""


# ----------------------------------------------------------------------------------------------
# faces in the photos

def list_photos(folder) -> list[Path]:
    folder = Path(folder)
    if not folder.exists():
        raise MeasureError(f"folder not found: {folder}")
    if not folder.is_dir():
        raise MeasureError(f"not a folder: {folder}")
    photos = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)
    if not photos:
        raise MeasureError(f"no images ({', '.join(PHOTO_SUFFIXES)}) in {folder}")
    return photos


def detect(photo_u8, upsample: int = 1, min_score: float = MIN_SCORE,
           max_side: int = 1200) -> list[tuple[int, int, int, int]]:
    """dlib HOG detections (left, top, right, bottom) in the photo's pixels scoring at least
    `min_score`; the detector runs on a copy whose longer side is at most `max_side`."""
    from PIL import Image

    from idd_tf.method import faces
    h, w = photo_u8.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    small = photo_u8 if scale == 1.0 else np.asarray(
        Image.fromarray(photo_u8).resize((round(w * scale), round(h * scale)), Image.BILINEAR))
    rects, scores, _ = faces.dlib_models()["detector"].run(small, upsample, min(0.0, min_score))
    return [(int(r.left() / scale), int(r.top() / scale), int(r.right() / scale), int(r.bottom() / scale))
            for r, sc in zip(rects, scores) if sc >= min_score]


def aligned_faces(folder, size: int = 256, min_face: int = 40, upsample: int = 1,
                  min_score: float = MIN_SCORE, log=print) -> tuple[np.ndarray, list[dict], dict]:
    """Every detected face of every photo under `folder`, FFHQ-aligned to `size`: uint8
    [N, size, size, 3], one label per face {file, source, face, face_px}, and counts."""
    from idd_tf.method import faces
    folder = Path(folder)
    out, labels = [], []
    counts = {"photos": 0, "photos_without_face": 0, "unreadable": 0, "too_small": 0}
    for path in list_photos(folder):
        try:
            photo = image_files.load_image(path)
        except (ValueError, OSError) as e:
            log(f"skipped: {e}")
            counts["unreadable"] += 1
            continue
        counts["photos"] += 1
        boxes = detect(photo, upsample, min_score)
        if not boxes:
            counts["photos_without_face"] += 1
        rel = path.relative_to(folder)
        for k, box in enumerate(boxes):
            side = min(box[2] - box[0], box[3] - box[1])
            if side < min_face:
                counts["too_small"] += 1
                continue
            lm = faces.dlib_landmarks(photo, box=box)
            out.append(faces.align_face(photo, size, landmarks=lm))
            labels.append({"file": str(rel), "source": rel.parts[0] if len(rel.parts) > 1 else ".",
                           "face": k, "face_px": int(side)})
    counts["faces"] = len(out)
    if len(out) < 2:
        raise MeasureError(f"{len(out)} face(s) of at least {min_face} px found in the {counts['photos']} "
                           f"image(s) of {folder}; at least 2 are needed (the mean-shape baseline is leave-one-out)")
    return np.stack(out), labels, counts


# ----------------------------------------------------------------------------------------------
# predictors

def dlib_points(images_u8, box=None) -> np.ndarray:
    """dlib's 68 points in [0, 1] units; box None: the FFHQ face box (aligned=True)."""
    from idd_tf.method import faces
    s = images_u8.shape[1]
    return np.stack([faces.dlib_landmarks(im, box=box, aligned=True) for im in images_u8]) / s


def dlib_detector_boxes(images_u8) -> list:
    """dlib's largest HOG detection on each aligned image (None where it finds none)."""
    from idd_tf.method import faces
    boxes = []
    for im in images_u8:
        rects = faces.dlib_models()["detector"](im, 0)
        r = max(rects, key=lambda r: r.width() * r.height(), default=None)
        boxes.append(None if r is None else (r.left(), r.top(), r.right(), r.bottom()))
    return boxes


def people(images_u8) -> int:
    """How many different people: connected components of the faces whose dlib face descriptors
    (dlib's ResNet, on its chip from the FFHQ-box landmarks) are closer than SAME_PERSON (dlib's
    own same-person threshold). An estimate: look-alikes merge, one person in very different
    photos may split."""
    import dlib
    import face_recognition_models as frm

    from idd_tf.method import faces
    rec = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
    pred = faces.dlib_models()["predictor"]
    box = dlib.rectangle(*faces.canonical_face_box(images_u8.shape[1]))
    d = np.stack([np.asarray(rec.compute_face_descriptor(im, pred(im, box))) for im in images_u8])
    near = np.linalg.norm(d[:, None] - d[None], axis=-1) < SAME_PERSON
    label = np.arange(len(d))
    while True:   # propagate the smallest index through the "near" graph
        new = np.where(near, label[None, :], len(d)).min(1)
        if np.array_equal(new, label):
            return int(len(np.unique(label)))
        label = new


def encoder(box):
    """E_lnd exactly as training builds it: face-api's net, optionally on a fixed face box."""
    from idd_tf.method import encoders
    from idd_tf.method.config import LandmarkConfig
    return encoders.LandmarkEncoder(LandmarkConfig(arch="face_api_68", face_box=box))


def face_api_points(enc, images_u8, batch: int | None = None) -> np.ndarray:
    from idd_tf.method import landmark_nets
    batch = batch or max(1, 64 * 256 ** 2 // images_u8.shape[1] ** 2)   # ~50 MB of float32 pixels a batch
    return np.concatenate([enc(landmark_nets.uint8_to_raw(images_u8[i:i + batch])).numpy()
                           for i in range(0, len(images_u8), batch)])


def face_api_on_boxes(images_u8, boxes) -> np.ndarray:
    """face-api's net on a per-image box (left, top, right, bottom in px), points in [0, 1] units of
    the whole image; NaN where the box is None."""
    import tensorflow as tf

    from idd_tf.method import landmark_nets
    net = landmark_nets.face_api_68_net()
    s = images_u8.shape[1]
    out = np.full((len(images_u8), 68, 2), np.nan)
    for i, box in enumerate(boxes):
        if box is None:
            continue
        l, t, r, b = (int(np.clip(v, 0, s)) for v in box)
        x = tf.image.resize(landmark_nets.uint8_to_raw(images_u8[i:i + 1, t:b, l:r]), [112, 112], method="bilinear")
        out[i] = (np.array([l, t]) + net(x).numpy()[0] * np.array([r - l, b - t])) / s
    return out


# ----------------------------------------------------------------------------------------------
# perturbations for the consistency check

def shifted(images_u8, dx: int, dy: int) -> np.ndarray:
    """The content moved by (dx, dy) px (edges reflected): a point p moves to p + (dx, dy)."""
    p = max(abs(dx), abs(dy))
    s = images_u8.shape[1]
    padded = np.pad(images_u8, ((0, 0), (p, p), (p, p), (0, 0)), mode="reflect")
    return np.ascontiguousarray(padded[:, p - dy:p - dy + s, p - dx:p - dx + s])


def recompressed(images_u8, quality: int = JPEG_QUALITY) -> np.ndarray:
    from PIL import Image
    out = []
    for im in images_u8:
        buf = io.BytesIO()
        Image.fromarray(im).save(buf, format="JPEG", quality=quality)
        out.append(np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")))
    return np.stack(out)


def perturbations(images_u8) -> dict:
    """name -> (perturbed images, the offset to subtract from their points, [0, 1] units)."""
    s = images_u8.shape[1]
    shift = tuple(round(v * s / 256) for v in SHIFT)
    return {"shift": (shifted(images_u8, *shift), np.array(shift, np.float64) / s),
            "jpeg": (recompressed(images_u8), np.zeros(2))}


# ----------------------------------------------------------------------------------------------
# scores

def iod(ref) -> np.ndarray:
    return np.linalg.norm(ref[:, 36] - ref[:, 45], axis=-1)


def moved(a, b, ref) -> np.ndarray:
    """Per image: mean ||a - b|| over the points of a and b / the reference's eye-corner distance."""
    return np.linalg.norm(a - b, axis=-1).mean(-1) / iod(ref)


def spearman(a, b) -> float:
    if len(a) < 3:
        return float("nan")
    ra, rb = (np.argsort(np.argsort(v)).astype(np.float64) for v in (a, b))
    return float(np.corrcoef(ra, rb)[0, 1])


def pair_distances(points) -> np.ndarray:
    """L_lnd's distance (mean squared difference of the 51 inner points) of every pair of faces."""
    p = points[:, INNER].reshape(len(points), -1)
    i, j = np.triu_indices(len(points), 1)
    return ((p[i] - p[j]) ** 2).mean(-1)


def debiased(pred, ref) -> np.ndarray:
    """`pred` less its mean offset from `ref`, leave-one-out (each face's offset estimated on the
    others): a constant bias cancels in L_lnd (the same net on I_out and I_attr)."""
    diff = pred - ref
    ok = ~np.isnan(diff).any(axis=(1, 2))
    total = diff[ok].sum(0)
    return pred - (total - np.where(ok[:, None, None], diff, 0.0)) / (ok.sum() - ok[:, None, None])


def breakdown(per, groups) -> dict:
    return {g: (float(np.nanmean(per[idx])) if len(idx) else None) for g, idx in groups.items()}


def measure(images_u8, labels, boxes: dict, scan: bool = False, log=print) -> dict:
    """The report (see the module docstring). boxes: name -> (l, t, r, b) fractions or None."""
    from idd_tf.method import metrics
    n, s = len(images_u8), images_u8.shape[1]
    ref = dlib_points(images_u8)
    pose = np.stack([metrics.head_pose(im, r * s) for im, r in zip(images_u8, ref)])
    yaw = np.abs(pose[:, 0])
    groups = {f"yaw {lo:.0f}-{hi:.0f}" if hi < 90 else f"yaw >= {lo:.0f}": np.where((yaw >= lo) & (yaw < hi))[0]
              for lo, hi in YAW_BINS}
    face_px = np.array([lab["face_px"] for lab in labels])
    groups[f"face < {SMALL_FACE} px"] = np.where(face_px < SMALL_FACE)[0]
    groups[f"face >= {SMALL_FACE} px"] = np.where(face_px >= SMALL_FACE)[0]
    pert = perturbations(images_u8)
    ref_pairs = pair_distances(ref)

    def row(name, pred, kind, consistency=None):
        per = moved(pred, ref, ref)
        ok = ~np.isnan(per)
        r = {"name": name, "kind": kind, "n": int(ok.sum()), "nme": float(per[ok].mean()),
             "nme_median": float(np.median(per[ok])), "groups": breakdown(per, groups),
             "per_image": [None if np.isnan(v) else float(v) for v in per],
             "nme_inner": float(np.nanmean(moved(pred[:, INNER], ref[:, INNER], ref)))}
        if kind in ("face_api", "diagnostic", "dlib"):
            r["nme_debiased"] = float(np.nanmean(moved(debiased(pred, ref)[:, INNER], ref[:, INNER], ref)))
        if consistency is not None:
            r["consistency"] = {k: float(moved(p - off, pred, ref).mean()) for k, (p, off) in consistency.items()}
            r["lnd_rank"] = spearman(pair_distances(pred), ref_pairs)
        return r

    rows = []
    for name, box in boxes.items():
        log(f"face-api, {name} ...")
        enc = encoder(box)
        pred = face_api_points(enc, images_u8)
        cons = {k: (face_api_points(enc, im), off) for k, (im, off) in pert.items()}
        rows.append(row(f"face-api, {name}", pred, "face_api", cons))
    log("face-api and dlib on dlib's detector box of the aligned image ...")
    det = dlib_detector_boxes(images_u8)
    rows.append(row("face-api, dlib's detector box (per image)", face_api_on_boxes(images_u8, det), "diagnostic"))
    rows.append(row("mean-shape baseline (leave-one-out)", (ref.sum(0) - ref) / (n - 1), "baseline"))
    dlib_det = np.stack([dlib_points(images_u8[i:i + 1], box=b)[0] if b is not None else np.full((68, 2), np.nan)
                         for i, b in enumerate(det)])
    rows.append(row("dlib, its detector box instead of the FFHQ box", dlib_det, "dlib"))
    ref_cons = {k: (dlib_points(im), off) for k, (im, off) in pert.items()}
    rows.append({"name": "dlib (the reference), FFHQ box", "kind": "reference", "n": n,
                 "consistency": {k: float(moved(p - off, ref, ref).mean()) for k, (p, off) in ref_cons.items()}})
    log("people ...")
    report = {"n": n, "size": int(s), "people": people(images_u8),
              "groups": {g: int(len(i)) for g, i in groups.items()}, "rows": rows, "labels": labels,
              "yaw": yaw.tolist()}
    if scan:
        log("box scan ...")
        report["scan"] = []
        for cy in SCAN_CENTRES_Y:
            for sd in SCAN_SIDES:
                box = square_box(sd, cy)
                pred = face_api_points(encoder(box), images_u8)
                report["scan"].append({"side": sd, "cy": cy, "box": box,
                                       "clipped": box != square_box(sd, cy, clip=False),
                                       "nme": float(moved(pred, ref, ref).mean()),
                                       "nme_debiased": float(moved(debiased(pred, ref)[:, INNER], ref[:, INNER],
                                                                   ref).mean())})
    return report


def square_box(side: float, cy: float, cx: float = 0.5, clip: bool = True) -> tuple[float, float, float, float]:
    """A square box of `side` centred at (cx, cy), fractions of the image side, clipped to [0, 1]
    (then no longer square: E_lnd resizes it to 112 x 112 all the same)."""
    h = side / 2
    lo, hi = (0.0, 1.0) if clip else (-np.inf, np.inf)
    return tuple(round(float(np.clip(v, lo, hi)), 4) for v in (cx - h, cy - h, cx + h, cy + h))


def measure_toy(n: int, boxes: dict, log=print) -> dict:
    """face-api on n toy-world renders (128 px) against dlib (FFHQ box) and the true landmarks."""
    from idd_tf.toy import world
    log(f"toy renders ({n}) ...")
    ex = [world.example(i, resolution=128) for i in range(n)]
    images = np.stack([np.asarray(e["image"], np.uint8) for e in ex])
    truth = np.stack([e["landmarks"] for e in ex]) / 128.0
    ref = dlib_points(images)
    out = {"n": n, "rows": []}
    for name, box in boxes.items():
        pred = face_api_points(encoder(box), images)
        out["rows"].append({"name": f"face-api, {name}", "vs_dlib": float(moved(pred, ref, ref).mean()),
                            "vs_truth": float(moved(pred, truth, truth).mean())})
    out["rows"].append({"name": "mean-shape baseline", "vs_dlib": float(moved(ref.mean(0)[None], ref, ref).mean()),
                        "vs_truth": float(moved(truth.mean(0)[None], truth, truth).mean())})
    out["rows"].append({"name": "dlib, FFHQ box", "vs_dlib": 0.0, "vs_truth": float(moved(ref, truth, truth).mean())})
    return out


# ----------------------------------------------------------------------------------------------
# output

def _f(v, digits=3):
    return "" if v is None else f"{v:.{digits}f}"


def markdown(report: dict, counts: dict | None = None, toy: dict | None = None) -> str:
    groups = list(report["groups"])
    head = (["predictor", "n", "NME mean", "NME median"] + [f"{g} (n={report['groups'][g]})" for g in groups]
            + ["NME, 51 inner points", "51 inner, bias removed", "moved by a (3, 2) px shift at 256",
               "moved by JPEG q75", "L_lnd rank vs dlib"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in report["rows"]:
        c = r.get("consistency", {})
        cells = ([r["name"], str(r["n"]), _f(r.get("nme")), _f(r.get("nme_median"))]
                 + [_f(r.get("groups", {}).get(g)) for g in groups]
                 + [_f(r.get("nme_inner")), _f(r.get("nme_debiased")), _f(c.get("shift")), _f(c.get("jpeg")),
                    _f(r.get("lnd_rank"), 2)])
        lines.append("| " + " | ".join(cells) + " |")
    text = [f"FFHQ-aligned faces at {report['size']} px: {report['n']} of about {report['people']} people"
            + (f" (from {counts['photos']} photos; {counts['too_small']} faces under the minimum size skipped)"
               if counts else ""), "", *lines]
    if "scan" in report:
        sides = sorted({e["side"] for e in report["scan"]})
        cys = sorted({e["cy"] for e in report["scan"]})
        cell = {(e["side"], e["cy"]): e for e in report["scan"]}
        for key, what in (("nme", "NME"),
                          ("nme_debiased", "NME on the 51 inner points with its mean bias removed (leave-one-out)")):
            text += ["", f"Fixed square boxes (side x centre height, fractions; centred at x 0.5; * clipped at "
                     f"the bottom edge): face-api's {what} vs dlib", "",
                     "| centre y \\ side | " + " | ".join(f"{sd:.2f}" for sd in sides) + " |",
                     "|" + "---|" * (len(sides) + 1)]
            text += ["| " + f"{cy:.2f} | " + " | ".join(
                _f(cell[(sd, cy)][key]) + ("*" if cell[(sd, cy)]["clipped"] else "") for sd in sides) + " |"
                for cy in cys]
    if toy:
        text += ["", f"Toy-world renders (128 px): {toy['n']}", "", "| predictor | NME vs dlib | NME vs truth |",
                 "|---|---|---|"]
        text += [f"| {r['name']} | {_f(r['vs_dlib'])} | {_f(r['vs_truth'])} |" for r in toy["rows"]]
    per_source = {}
    for lab in report["labels"]:
        per_source[lab["source"]] = per_source.get(lab["source"], 0) + 1
    text += ["", "Faces per source folder: " + ", ".join(f"{k} {v}" for k, v in sorted(per_source.items()))]
    return "\n".join(text) + "\n"


def parse_box(spec: str):
    """'NAME=l,t,r,b' -> (NAME, (l, t, r, b))."""
    try:
        name, vals = spec.split("=", 1)
        box = tuple(float(v) for v in vals.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--box {spec!r}: expected NAME=left,top,right,bottom") from None
    if len(box) != 4 or not (0 <= box[0] < box[2] <= 1 and 0 <= box[1] < box[3] <= 1):
        raise argparse.ArgumentTypeError(f"--box {spec!r}: four fractions with left < right, top < bottom in [0, 1]")
    return name.strip(), box


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", help="folder of photos (searched recursively; subfolders are reported as sources)")
    p.add_argument("--size", type=int, default=256, help="aligned size, px (the method's: 256)")
    p.add_argument("--min_face", type=int, default=40, help="smallest detector box in the photo, px")
    p.add_argument("--upsample", type=int, default=1, help="dlib detector upsampling (1 finds faces from ~40 px)")
    p.add_argument("--min_score", type=float, default=MIN_SCORE, help="smallest dlib detection score kept")
    p.add_argument("--box", type=parse_box, action="append", default=[],
                   help="another fixed E_lnd face box NAME=l,t,r,b (fractions); repeatable")
    p.add_argument("--scan", action="store_true", help="also a grid of fixed square boxes")
    p.add_argument("--toy", type=int, default=0, help="also N toy-world renders")
    p.add_argument("--markdown", help="write the tables to this file")
    p.add_argument("--json", help="write everything (per-face values too) to this file")
    args = p.parse_args(argv)
    try:
        from idd_tf.cli import console
        console.setup([sys.argv[0]])
        from idd_tf.method import faces
        boxes = {"whole image": None, "FFHQ face box": tuple(faces.FFHQ_FACE_BOX), **dict(args.box)}
        images, labels, counts = aligned_faces(args.folder, args.size, args.min_face, args.upsample,
                                               args.min_score, log=lambda m: print(m, file=sys.stderr))
        print(f"{counts['faces']} faces from {counts['photos']} photos", file=sys.stderr)
        report = measure(images, labels, boxes, scan=args.scan, log=lambda m: print(m, file=sys.stderr))
        report["counts"] = counts
        toy = measure_toy(args.toy, boxes, log=lambda m: print(m, file=sys.stderr)) if args.toy else None
    except (MeasureError, OSError) as e:
        print(f"measure_landmark_nme.py: error: {e}", file=sys.stderr)
        return 1
    text = markdown(report, counts, toy)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)
    if args.json:
        Path(args.json).write_text(json.dumps({**report, "toy": toy}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
