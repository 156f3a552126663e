"""Evaluating a trained model on faces (the paper's Tables 1 and 2; what scripts/evaluate.py runs for
runs outside the toy world, whose protocol is `toy_protocol`).

    evaluate(net, num_pairs, seed, dataset=... | id_dir=..., attr_dir=...): pairs (I_id, I_attr)
        of a generated dataset or of real image folders (`align`: FFHQ alignment), scored with
        `metrics` (identity, expression, pose, FID; reconstruction when I_id == I_attr); faces
        that cannot be found, and unreadable files, are skipped and counted, never an error
    report_markdown(result): the result as a Markdown report
    evaluate_pairs(generate, pairs, ...): the scoring loop itself, for any `generate(id, attr)`
"""

from __future__ import annotations

import numpy as np

from idd_tf.method import faces, metrics


def generator_of(net):
    """The IDDModel as `generate(id_u8, attr_u8) -> out_u8` (HWC uint8 at the model's resolution)."""
    from idd_tf.stylegan import networks as stylegan

    def generate(id_u8, attr_u8):
        x_id, x_attr = (stylegan.from_uint8(np.asarray(x)[None]) for x in (id_u8, attr_u8))
        return stylegan.to_uint8(net(x_id, x_attr)["images"]).numpy()[0]
    return generate


def load_face_folder(folder, size: int, align: bool = False) -> dict:
    """The images of `folder` (the path as given; every format Pillow reads, whatever the
    extension; image_files.scan_folder) as model inputs: size x size uint8 (FFHQ-aligned with
    `align`, else square images resized). An entry that is not a usable image (not an image,
    unreadable, truncated, a sub-folder, a dangling link), has no face (`align`) or is not square
    (no `align`) is skipped with a warning naming it and counted, never an error; none usable is.

    Returns {"images": [HWC uint8], "names": [file names], "skipped": {"unreadable" | "no_face" |
    "not_square": [entry names]}, "reasons": {entry name: short reason}}.
    """
    import logging

    from idd_tf.utils import image_files
    images, names = [], []
    skipped = {"unreadable": [], "no_face": [], "not_square": []}
    reasons = {}
    for path, img in _readable_images(folder, skipped, reasons):
        if align:
            try:
                img = faces.align_face(img, size, name=path)
            except faces.NoFaceError:
                logging.warning("skipping %s: no face found", path)
                skipped["no_face"].append(path.name)
                reasons[path.name] = "no face found"
                continue
        elif img.shape[0] != img.shape[1]:
            logging.warning("skipping %s: not square (%dx%d); --align crops faces", path, *img.shape[1::-1])
            skipped["not_square"].append(path.name)
            reasons[path.name] = f"not square: {img.shape[1]}x{img.shape[0]}"
            continue
        images.append(image_files.resize_square(img, size))
        names.append(path.name)
    if not images:
        counts = {k: len(v) for k, v in skipped.items() if v}
        raise ValueError(f"{folder}: no usable images (skipped: {counts}; "
                         + ", ".join(f"{n} ({r})" for n, r in list(reasons.items())[:image_files.SUMMARY_NAMES])
                         + ")")
    return {"images": images, "names": names, "skipped": skipped, "reasons": reasons}


def _readable_images(folder, skipped: dict, reasons: dict):
    """(path, HWC uint8 image) of each usable image of `folder` (`image_files.scan_folder`); every
    other entry, and every file that fails to load, is logged and listed in skipped["unreadable"]
    with its short reason in `reasons` (keyed by file name)."""
    import logging
    from pathlib import Path

    from idd_tf.utils import image_files

    def skip(name, reason, message):
        logging.warning("skipping %s", message)
        skipped["unreadable"].append(name)
        reasons[name] = reason

    paths, lost = image_files.scan_folder(folder)
    for name, reason, _ in lost.items:
        skip(Path(name).name, reason, f"{name}: {reason}")
    for path in paths:
        try:
            img = image_files.load_image(path)
        except (ValueError, OSError) as e:
            skip(path.name, image_files.short_reason(e), e if str(path) in str(e) else f"{path}: {e}")
            continue
        yield path, img


def sample_pairs(num_id: int, num_attr: int, num_pairs: int, seed: int = 0,
                 same_folder: bool = False) -> list[tuple[int, int]]:
    """`num_pairs` distinct random (id index, attr index) pairs, a function of `seed` only; all of
    them when fewer exist. `same_folder`: both index the same images and i != j."""
    if same_folder and num_id != num_attr:
        raise ValueError("same_folder pairs need num_id == num_attr")
    per_id = num_attr - 1 if same_folder else num_attr
    total = num_id * per_id
    if total <= 0:
        raise ValueError(f"no (identity, attribute) pairs from {num_id} x {num_attr} images"
                         f"{' of one folder (needs two)' if same_folder else ''}")
    pairs = []
    for k in np.random.default_rng(seed).choice(total, size=min(num_pairs, total), replace=False):
        i, j = divmod(int(k), per_id)
        pairs.append((i, j + (same_folder and j >= i)))
    return pairs


def _crop_box(image_u8, box):
    l, t, r, b = (int(v) for v in box)
    return np.ascontiguousarray(image_u8[max(t, 0):b, max(l, 0):r])


def fid_features(fid: "metrics.FIDFeatures", crops: list, chunk: int = 64) -> np.ndarray:
    """FID features of face crops (any size), `chunk` images at a time."""
    return np.concatenate([fid(crops[i:i + chunk], crop=False) for i in range(0, len(crops), chunk)])


def fid_folder_features(fid: "metrics.FIDFeatures", folder) -> dict:
    """FID reference features of real photos: the largest MTCNN face of every image of `folder`
    (any size and format, no alignment needed). Entries that are not usable images (as in
    `load_face_folder`) or have no face are skipped, named and counted.
    Returns {"features": [N, 2048], "count", "skipped": {"unreadable": [...], "no_face": [...]},
    "reasons": {entry name: short reason}}."""
    import logging

    crops, skipped, reasons = [], {"unreadable": [], "no_face": []}, {}
    for path, img in _readable_images(folder, skipped, reasons):
        try:
            crops.append(_crop_box(img, faces.largest_face(img, path)))
        except faces.NoFaceError:
            logging.warning("skipping %s: no face found", path)
            skipped["no_face"].append(path.name)
            reasons[path.name] = "no face found"
    feats = fid_features(fid, crops) if crops else np.zeros((0, 2048))
    return {"features": feats, "count": len(crops), "skipped": skipped, "reasons": reasons}


METRIC_KEYS = ("identity", "identity_arcface", "expression", "pose", "rec_rmse", "rec_psnr", "rec_identity")


def evaluate_pairs(generate, pairs, arcface: "metrics.ArcFace | None" = None,
                   fid: "metrics.FIDFeatures | None" = None, fid_reference: np.ndarray | None = None,
                   progress: bool = True, keep_pairs: int = 0) -> dict:
    """The paper's Table 1 / Table 2 metrics of a model over (I_id, I_attr) pairs.

    generate(id_u8, attr_u8) -> out_u8: the model (HWC uint8 in and out, e.g. `generator_of`).
    pairs: iterable of (id_key, id_u8, attr_key, attr_u8); a key names an image, so that an image
    in several pairs is detected once, and reconstruction (I_id == I_attr: RMSE, PSNR capped at
    100 dB, identity) runs once per distinct identity image.
    Disentanglement per pair: identity = cosine of dlib descriptors of I_id and I_out (and of
    `arcface` embeddings), expression = `metrics.landmark_distance`(I_attr, I_out), pose = L2 of
    `metrics.head_pose`;
    a pair where a face (or pose) is not found counts none of them and is counted as skipped.
    FID (with `fid`): face crops of I_out vs `fid_reference` features, or, without, vs the
    attribute images of the evaluated pairs; None below 2 images a side.

    Returns {"pairs", "pair_items": [[id_key, attr_key]], "skipped_no_face": {"disentanglement",
    "reconstruction"}, "fid", "fid_reference", <metric>: mean or None, "counts": {<metric>: n}}.
    `keep_pairs` = k > 0 adds "_per_pair" (private, not JSON): per pair of "pair_items",
    "identity", "identity_arcface" (NaN without `arcface`) and "expression" (NaN where not
    scored), and "images": {pair index: (id_u8, attr_u8, out_u8)} of the pairs among the k best
    and k worst by identity (ArcFace's when given) and by expression (`annotate.best_worst`);
    only those images are held, so memory stays bounded.
    """
    from tqdm import tqdm
    info_cache, rec_done = {}, set()

    def info(key, image):
        if key not in info_cache:
            try:
                info_cache[key] = metrics.face_info(image)
            except faces.NoFaceError:
                info_cache[key] = None
        return info_cache[key]

    def out_info(image):
        try:
            return metrics.face_info(image)
        except faces.NoFaceError:
            return None

    vals = {k: [] for k in METRIC_KEYS}
    skipped = {"disentanglement": 0, "reconstruction": 0}
    out_crops, attr_crops, items = [], [], []
    per_pair = {"identity": [], "identity_arcface": [], "expression": [], "images": {}}
    for id_key, id_u8, attr_key, attr_u8 in tqdm(pairs, desc="pairs", unit="pair", disable=not progress):
        items.append([id_key, attr_key])
        out = generate(id_u8, attr_u8)
        fi, fa, fo = info(id_key, id_u8), info(attr_key, attr_u8), out_info(out)
        try:
            if not (fi and fa and fo):
                raise faces.NoFaceError("a face of the pair was not found")
            row = {"identity": metrics.cosine(fi["descriptor"], fo["descriptor"]),
                   "expression": metrics.landmark_distance(fa["landmarks"], fo["landmarks"], out.shape[0]),
                   "pose": float(np.linalg.norm(metrics.head_pose(attr_u8, fa["landmarks"])
                                                - metrics.head_pose(out, fo["landmarks"])))}
            if arcface:
                if "arcface" not in fi:
                    fi["arcface"] = arcface.embed(id_u8, fi["detection"])
                row["identity_arcface"] = float(fi["arcface"] @ arcface.embed(out, fo["detection"]))
        except faces.NoFaceError:
            skipped["disentanglement"] += 1
            row = {}
        else:
            for k, v in row.items():
                vals[k].append(v)
            if fid is not None:
                out_crops.append(_crop_box(out, fo["detection"]["box"]))
                if fid_reference is None:
                    attr_crops.append(_crop_box(attr_u8, fa["detection"]["box"]))
        if keep_pairs:
            keep_extremes(per_pair, keep_pairs, row, (id_u8, attr_u8, out), arcface is not None)
        if id_key in rec_done:
            continue
        rec_done.add(id_key)
        rec = generate(id_u8, id_u8)
        vals["rec_rmse"].append(metrics.rmse(id_u8, rec))
        vals["rec_psnr"].append(min(metrics.psnr(id_u8, rec), 100.0))
        fr = out_info(rec)
        if fi and fr:
            vals["rec_identity"].append(metrics.cosine(fi["descriptor"], fr["descriptor"]))
        else:
            skipped["reconstruction"] += 1
    fid_value = None
    reference = "attribute images" if fid_reference is None else "reference folder"
    if fid is not None and len(out_crops) >= 2:
        ref = fid_features(fid, attr_crops) if fid_reference is None else fid_reference
        if len(ref) >= 2:
            fid_value = metrics.frechet_distance(ref, fid_features(fid, out_crops))
    return {"pairs": len(items), "pair_items": items, "skipped_no_face": skipped, "fid": fid_value,
            "fid_reference": reference if fid is not None else None,
            **{k: float(np.mean(v)) if v else None for k, v in vals.items()},
            "counts": {**{k: len(v) for k, v in vals.items()}, "fid_outputs": len(out_crops)},
            **({"_per_pair": per_pair} if keep_pairs else {})}


def keep_extremes(per_pair: dict, k: int, row: dict, images, arcface: bool) -> None:
    """Appends one pair's scores (`row`, {} when not scored) to `per_pair` and keeps the images
    of only the pairs among the k best and k worst so far (see evaluate_pairs' `keep_pairs`)."""
    from idd_tf.method import annotate
    for key in ("identity", "identity_arcface", "expression"):
        per_pair[key].append(row.get(key, np.nan))
    per_pair["images"][len(per_pair["identity"]) - 1] = images
    rank = per_pair["identity_arcface" if arcface else "identity"]
    keep = {int(i) for idx in annotate.best_worst(rank, per_pair["expression"], k).values() for i in idx}
    for i in [i for i in per_pair["images"] if i not in keep]:
        del per_pair["images"][i]


def evaluate_dataset(net, dataset, num_pairs: int, seed: int = 0, **kwargs) -> dict:
    """evaluate_pairs on `num_pairs` random pairs (consecutive records of a seeded shuffle) of a
    generated dataset; images are keyed by their dataset index."""
    from idd_tf.method import data
    from idd_tf.stylegan import networks as stylegan
    batches = iter(data.make_dataset(dataset, 2, seed=seed, shuffle_buffer=256))

    def pairs():
        for _ in range(num_pairs):
            b = next(batches)
            u8, idx = stylegan.to_uint8(b["image"]).numpy(), b["index"].numpy()
            yield int(idx[0]), u8[0], int(idx[1]), u8[1]
    return {"mode": "dataset", "dataset": str(dataset),
            **evaluate_pairs(generator_of(net), pairs(), **kwargs)}


def evaluate_folders(net, id_dir, attr_dir=None, num_pairs: int = 100, seed: int = 0,
                     align: bool = False, **kwargs) -> dict:
    """evaluate_pairs on real photos: `num_pairs` distinct random (identity, attribute) pairs
    (seeded) of the usable images of `id_dir` and `attr_dir` (default: `id_dir`, pairs of two
    different images), loaded at the model's resolution by `load_face_folder` (skipped files
    are listed under "inputs"). Images are keyed by file name."""
    from pathlib import Path
    size = net.stylegan.resolution
    ids = load_face_folder(id_dir, size, align)
    same = attr_dir is None or Path(attr_dir).resolve() == Path(id_dir).resolve()
    attrs = ids if same else load_face_folder(attr_dir, size, align)
    idx = sample_pairs(len(ids["images"]), len(attrs["images"]), num_pairs, seed, same_folder=same)
    pairs = ((f"id:{ids['names'][i]}", ids["images"][i], f"{'id' if same else 'attr'}:{attrs['names'][j]}",
              attrs["images"][j]) for i, j in idx)
    inputs = {"id_dir": {"path": str(id_dir), "usable": len(ids["images"]), "skipped": ids["skipped"],
                         "reasons": ids["reasons"]}}
    if not same:
        inputs["attr_dir"] = {"path": str(attr_dir), "usable": len(attrs["images"]), "skipped": attrs["skipped"],
                              "reasons": attrs["reasons"]}
    return {"mode": "folders", "align": align, "inputs": inputs,
            **evaluate_pairs(generator_of(net), pairs, **kwargs)}


def check_evaluate_args(id_dir=None, attr_dir=None, align=False, fid_weights=None,
                        real_dir=None) -> None:
    """The argument checks of `evaluate` (cheap: callers may run them before loading a model)."""
    from pathlib import Path
    if real_dir and not fid_weights:
        raise ValueError("--real_dir is FID's reference set: FID needs --fid_weights")
    if fid_weights and not Path(fid_weights).is_file():
        raise FileNotFoundError(f"--fid_weights {fid_weights}: no such file")
    if attr_dir is not None and id_dir is None:
        raise ValueError("--attr_dir needs --id_dir (the identity images)")
    if align and id_dir is None:
        raise ValueError("--align applies to image folders (--id_dir / --attr_dir)")
    for flag, folder in (("--id_dir", id_dir), ("--attr_dir", attr_dir), ("--real_dir", real_dir)):
        if folder is not None and not Path(folder).is_dir():
            raise FileNotFoundError(f"{flag} {folder}: no such directory")


def evaluate(net, num_pairs: int = 100, seed: int = 0, dataset=None, id_dir=None, attr_dir=None,
             align: bool = False, arcface=None, fid_weights=None, real_dir=None,
             progress: bool = True, keep_pairs: int = 0) -> dict:
    """scripts/evaluate.py: evaluate_folders when `id_dir` is given, else evaluate_dataset on
    `dataset`. `arcface`: an ArcFace network file; `fid_weights`: the InceptionV3 .h5 that enables
    FID (nothing is downloaded); `real_dir`: real photos as FID's reference (default: the
    attribute images of the pairs); `keep_pairs`: see evaluate_pairs. Bad arguments raise
    ValueError, missing files FileNotFoundError naming them (check_evaluate_args)."""
    if (id_dir is None) == (dataset is None):
        raise ValueError("evaluate either a generated dataset or an --id_dir folder")
    check_evaluate_args(id_dir, attr_dir, align, fid_weights, real_dir)
    kwargs = {"arcface": metrics.ArcFace(arcface) if arcface else None, "progress": progress,
              "keep_pairs": keep_pairs}
    real = None
    if fid_weights:
        kwargs["fid"] = metrics.FIDFeatures(fid_weights)
        if real_dir:
            real = fid_folder_features(kwargs["fid"], real_dir)
            kwargs["fid_reference"] = real["features"]
    if id_dir is not None:
        result = evaluate_folders(net, id_dir, attr_dir, num_pairs, seed, align, **kwargs)
    else:
        result = evaluate_dataset(net, dataset, num_pairs, seed, **kwargs)
    if real is not None:
        result.setdefault("inputs", {})["real_dir"] = {"path": str(real_dir), "usable": real["count"],
                                                       "skipped": real["skipped"], "reasons": real["reasons"]}
    return result


def _named(names, reasons, limit: int = 10) -> str:
    """'a.png: truncated, sub: a folder' (at most `limit`, then 'and N more')."""
    listed = [f"{n}: {reasons[n]}" if n in reasons else n for n in names[:limit]]
    return ", ".join(listed) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def report_markdown(result: dict) -> str:
    """metrics.md: the result of evaluate_dataset / evaluate_folders as a table."""
    fmt = lambda v: "n/a" if v is None else f"{v:.4f}"  # noqa: E731
    rows = [("identity similarity, dlib (higher better)", "identity"),
            ("identity similarity, ArcFace (higher better)", "identity_arcface"),
            ("expression L2 / res (lower)", "expression"), ("pose L2, degrees (lower)", "pose"),
            ("reconstruction RMSE", "rec_rmse"), ("reconstruction PSNR, dB", "rec_psnr"),
            ("reconstruction identity", "rec_identity")]
    counts, skipped = result["counts"], result["skipped_no_face"]
    md = ["| metric | value | n |", "|---|---|---|"]
    md += [f"| {label} | {fmt(result[key])} | {counts[key]} |" for label, key in rows]
    if result["fid_reference"]:
        md.append(f"| FID (face crops, vs {result['fid_reference']}) | {fmt(result['fid'])} | "
                  f"{counts['fid_outputs']} |")
    else:
        md.append("| FID (face crops) | n/a (no --fid_weights) | 0 |")
    md += ["", f"Pairs: {result['pairs']}; skipped without a detectable face: "
           f"{skipped['disentanglement']} (disentanglement), {skipped['reconstruction']} (reconstruction)."]
    for name, folder in result.get("inputs", {}).items():
        why = folder.get("reasons", {})
        lost = ", ".join(f"{len(v)} {k.replace('_', ' ')} ({_named(v, why)})" for k, v in folder["skipped"].items()
                         if v)
        md.append(f"{name} {folder['path']}: {folder['usable']} usable images"
                  f"{'; skipped: ' + lost if lost else ''}.")
    return "\n".join(md) + "\n"
