"""The method's data: faces read from files, seeds, and the generated training set (StyleGAN z -> w ->
image as TFRecord shards with a manifest) read back as tf.data pipelines."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from idd_tf.utils import fileio, image_files

MAX_SEEDS = 100_000   # seeds one command line may ask for (a typo like 0-999999999 is refused)


def parse_seeds(text: str) -> list[int]:
    """'0-3,7' -> [0, 1, 2, 3, 7]; ValueError for a malformed part, an empty range or more than
    MAX_SEEDS seeds (checked before a range is expanded)."""
    seeds = []
    for part in str(text).split(","):
        part = part.strip()
        try:
            if "-" in part[1:]:
                lo, hi = (int(x) for x in part.split("-", 1))
                if hi < lo:
                    raise ValueError(f"empty seed range {part!r}")
                if len(seeds) + hi - lo + 1 > MAX_SEEDS:
                    raise ValueError(f"seed range {part!r} asks for more than {MAX_SEEDS} seeds")
                seeds.extend(range(lo, hi + 1))
            elif part:
                seeds.append(int(part))
        except ValueError as e:
            raise ValueError(f"bad seeds {text!r}: {e}") from None
    if not seeds:
        raise ValueError(f"no seeds in {text!r}")
    return seeds


def prepare_face(path, size: int, align: bool) -> np.ndarray:
    """An image file as the model's input: HWC uint8 size x size; FFHQ-aligned when `align`.
    Images with a side below image_files.MIN_IMAGE_SIDE are refused (no face can be read from them).
    Every refusal names the file and has a short `reason` (image_files.short_reason)."""
    img = image_files.load_image(path, min_side=image_files.MIN_IMAGE_SIDE)
    if align:
        from idd_tf.method import faces
        try:
            return faces.align_face(img, size, name=path)
        except faces.NoFaceError as e:
            error = faces.NoFaceError(f"{path}: {e}")
            error.reason = "no face found"
            raise error from e
    if img.shape[0] != img.shape[1]:
        shape = f"{img.shape[1]}x{img.shape[0]}"
        raise image_files.ImageError(f"{path} is not square ({shape}): use --align", path, f"not square: {shape}")
    return image_files.resize_square(img, size)


# ----------------------------------------------------------------------------------------------
# Generated training data: StyleGAN z -> w -> image, stored as TFRecord shards + manifest.

MANIFEST = "manifest.json"
DATASET_FORMAT = "idd-tf-dataset-v1"


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.tfrecord"


def example_latent(seed: int, index: int, latent_size: int) -> np.ndarray:
    """z of example `index`: depends only on (seed, index), so any subset can be made anywhere."""
    return np.random.default_rng([seed, index]).standard_normal(latent_size).astype(np.float32)


def _encode_example(png: bytes, w: np.ndarray, ws: np.ndarray, index: int) -> bytes:
    import tensorflow as tf
    feat = {
        "image_png": tf.train.Feature(bytes_list=tf.train.BytesList(value=[png])),
        "w": tf.train.Feature(float_list=tf.train.FloatList(value=w.ravel().tolist())),
        "ws": tf.train.Feature(float_list=tf.train.FloatList(value=ws.ravel().tolist())),
        "index": tf.train.Feature(int64_list=tf.train.Int64List(value=[index])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feat)).SerializeToString()


def _png_bytes(image_u8) -> bytes:
    import io
    buf = io.BytesIO()
    Image.fromarray(np.asarray(image_u8)).save(buf, format="PNG")
    return buf.getvalue()


def _write_shard(path: Path, records: list[bytes]) -> None:
    """TFRecord written to a temp file then renamed: a shard exists complete or not at all."""
    import tensorflow as tf
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with tf.io.TFRecordWriter(tmp) as w:
            for r in records:
                w.write(r)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def generate_dataset(G, out_dir, num_images: int, shard_size: int = 1000, psi: float = 0.7,
                     cutoff: int = 8, seed: int = 0, batch_size: int = 8, num_shards: int = 1,
                     shard_index: int = 0, progress: bool = True) -> dict:
    """Write images and their w for examples 0..num_images-1 (those of this worker's shards).

    Shard k holds examples [k*shard_size, (k+1)*shard_size); worker `shard_index` of `num_shards`
    writes shards k with k % num_shards == shard_index. Rerunning skips finished shards
    (resumable); every shard is written atomically. Each record: the PNG (uint8, NVIDIA's
    conversion), `w` = the truncated w of layer 0 (a real sample of the W that made the image,
    for D_W), `ws` = all per-layer dlatents, and the example index. The manifest (written once
    all shards exist) lists shards and settings; a mismatching existing manifest is an error.
    """
    from tqdm import tqdm

    from idd_tf.stylegan import networks as sg
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if num_images <= 0 or shard_size <= 0:
        raise ValueError("num_images and shard_size must be positive")
    if not 0 <= shard_index < num_shards:
        raise ValueError(f"shard_index must be in [0, {num_shards})")
    settings = {"format": DATASET_FORMAT, "num_images": int(num_images), "shard_size": int(shard_size),
                "resolution": G.resolution, "num_layers": G.num_layers, "dlatent_size": G.dlatent_size,
                "truncation_psi": float(psi), "truncation_cutoff": int(cutoff), "seed": int(seed)}
    manifest_path = out_dir / MANIFEST
    if manifest_path.exists():
        old = json.loads(manifest_path.read_text())
        if {k: old.get(k) for k in settings} != settings:
            raise ValueError(f"{out_dir} already holds a dataset with other settings: {old}")
    total_shards = (num_images + shard_size - 1) // shard_size
    mine = [k for k in range(total_shards) if k % num_shards == shard_index]
    todo = [k for k in mine if not (out_dir / shard_name(k)).exists()]
    bar = tqdm(total=sum(min(shard_size, num_images - k * shard_size) for k in todo),
               desc=f"generating {out_dir.name}/", unit="img", disable=not progress)
    import tensorflow as tf

    # one graph instead of eager layer calls (see bench_dataset); Python branches only: no autograph
    @tf.function(reduce_retracing=True, autograph=False)
    def make(z):
        ws = G.mapping(z)
        if psi != 1:
            ws = G.truncate(ws, psi, cutoff)
        return sg.to_uint8(G.synthesis(ws, noise_mode="const")), ws

    for k in todo:
        lo, hi = k * shard_size, min((k + 1) * shard_size, num_images)
        records = []
        for b in range(lo, hi, batch_size):
            idx = list(range(b, min(b + batch_size, hi)))
            z = np.stack([example_latent(seed, i, G.latent_size) for i in idx])
            imgs, ws = (t.numpy() for t in make(tf.constant(z, tf.float32)))
            for j, i in enumerate(idx):
                records.append(_encode_example(_png_bytes(imgs[j]), ws[j, 0], ws[j], i))
            bar.update(len(idx))
        _write_shard(out_dir / shard_name(k), records)
    bar.close()
    shards = [shard_name(k) for k in range(total_shards)]
    complete = all((out_dir / s).exists() for s in shards)
    if complete:   # shard sizes let a reader see a truncated or replaced shard at once
        sizes = [(out_dir / s).stat().st_size for s in shards]
        fileio.atomic_write_bytes(manifest_path, (json.dumps({**settings, "shards": shards, "shard_bytes": sizes},
                                                      indent=2) + "\n").encode())
    return {"out_dir": str(out_dir), "written": [shard_name(k) for k in todo],
            "complete": complete, "num_shards": total_shards}


def read_manifest(dataset_dir) -> dict:
    path = Path(dataset_dir) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{dataset_dir} has no {MANIFEST}: not a finished generated "
                                "dataset (run scripts/generate_dataset.py, it resumes)")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: corrupt manifest ({e}); delete it and rerun the dataset "
                         "generation, which checks the shards and resumes") from None
    if not isinstance(meta, dict) or meta.get("format") != DATASET_FORMAT:
        raise ValueError(f"{path}: unknown dataset format "
                         f"{meta.get('format') if isinstance(meta, dict) else type(meta).__name__!r}")
    missing = [k for k in ("resolution", "num_layers", "dlatent_size", "shards") if k not in meta]
    if missing:
        raise ValueError(f"{path}: manifest lacks {', '.join(missing)} (edited or from another version); "
                         "delete it and rerun the dataset generation")
    sizes = meta.get("shard_bytes") or [None] * len(meta["shards"])
    for name, size in zip(meta["shards"], sizes):
        shard = Path(dataset_dir) / name
        if not shard.is_file():
            raise ValueError(f"{shard}: missing; rerun the dataset generation (it writes the missing shards)")
        if size is not None and shard.stat().st_size != size:
            raise ValueError(f"{shard}: {shard.stat().st_size} bytes, the manifest says {size} (truncated or "
                             "replaced); delete it and rerun the dataset generation, which rewrites it")
    return meta


def parse_example(record, resolution: int, num_layers: int, dlatent_size: int):
    """TFRecord -> {"image": raw [-1, 1] float32 HWC, "w": [dlatent], "ws": [L, dlatent], "index"}."""
    import tensorflow as tf
    spec = {"image_png": tf.io.FixedLenFeature([], tf.string),
            "w": tf.io.FixedLenFeature([dlatent_size], tf.float32),
            "ws": tf.io.FixedLenFeature([num_layers * dlatent_size], tf.float32),
            "index": tf.io.FixedLenFeature([], tf.int64)}
    ex = tf.io.parse_single_example(record, spec)
    img = tf.io.decode_png(ex["image_png"], channels=3)
    img = tf.ensure_shape(img, [resolution, resolution, 3])
    return {"image": (tf.cast(img, tf.float32) - 127.5) / 127.5, "w": ex["w"],
            "ws": tf.reshape(ex["ws"], [num_layers, dlatent_size]), "index": ex["index"]}


def _records(dataset_dir, seed, shuffle_buffer, shard, start: int = 0):
    """Endless serialized records, positioned after the first `start` of them.

    The order depends only on (seed, epoch): the pipeline's shard files (`shard=(n, i)` takes
    files i, i+n, ...) are permuted per epoch, then records are permuted within consecutive
    windows of `shuffle_buffer`, with stateless random permutations. So a position is just a
    count: resuming fast-forwards whole epochs and skips only inside the current one (no
    iterator state to checkpoint; tf.data's own reshuffling is not restored exactly).
    """
    import tensorflow as tf
    meta = read_manifest(dataset_dir)
    names = list(meta["shards"])
    counts = [min(meta["shard_size"], meta["num_images"] - k * meta["shard_size"])
              for k in range(len(names))]
    if shard is not None:
        if shard[0] > len(names):
            raise ValueError(f"{dataset_dir} has {len(names)} shard files, fewer than the "
                             f"{shard[0]} input pipelines: regenerate with a smaller --shard_size")
        names, counts = names[shard[1]::shard[0]], counts[shard[1]::shard[0]]
    paths = tf.constant([str(Path(dataset_dir) / n) for n in names])
    per_epoch = sum(counts)

    def permuted(x, key):
        order = tf.argsort(tf.random.stateless_uniform(tf.shape(x)[:1], seed=key))
        return tf.gather(x, order)

    def epoch(e):
        files = permuted(paths, [seed, 2 * e]) if shuffle_buffer else paths
        ds = tf.data.Dataset.from_tensor_slices(files).interleave(tf.data.TFRecordDataset,
                                                                  cycle_length=1)
        if shuffle_buffer:
            ds = ds.batch(shuffle_buffer).enumerate().flat_map(
                lambda i, w: tf.data.Dataset.from_tensor_slices(
                    permuted(w, [seed + 7 * i + 1, 2 * e + 1])))
        return ds

    ds = tf.data.Dataset.range(start // per_epoch, 2 ** 62).flat_map(epoch)
    return meta, ds.skip(start % per_epoch)


def make_dataset(dataset_dir, batch_size: int, seed: int = 0, shuffle_buffer: int = 256,
                 shard: tuple[int, int] | None = None):
    """Endless, deterministic (for a seed) batches of parse_example dicts (see `_records`)."""
    meta, ds = _records(dataset_dir, seed, shuffle_buffer, shard)
    ds = ds.map(lambda r: parse_example(r, meta["resolution"], meta["num_layers"],
                                        meta["dlatent_size"]))
    return ds.batch(batch_size, drop_remainder=True)


def training_batches(dataset_dir, batch_size: int, seed: int = 0, shuffle_buffer: int = 256,
                     shard: tuple[int, int] | None = None, start_batch: int = 0):
    """{"image", "attr_image": [B,R,R,3] raw, "w_real": [B, dlatent]}, from batch `start_batch` on.

    `image` and `attr_image` are consecutive records of the shuffled stream (the pair used on
    cross steps, so pairs do not depend on how a batch is split over replicas); `w_real` are the
    stored w of an independently shuffled stream (real samples for D_W).
    """
    import tensorflow as tf
    meta, recs = _records(dataset_dir, seed, shuffle_buffer, shard, start=2 * batch_size * start_batch)
    parsed = recs.map(lambda r: parse_example(r, meta["resolution"], meta["num_layers"],
                                              meta["dlatent_size"])["image"])
    pairs = parsed.batch(2, drop_remainder=True).map(lambda x: {"image": x[0], "attr_image": x[1]})
    _, wrecs = _records(dataset_dir, seed + 7919, max(shuffle_buffer, 1024), shard,
                        start=batch_size * start_batch)
    spec = {"w": tf.io.FixedLenFeature([meta["dlatent_size"]], tf.float32)}
    ws = wrecs.map(lambda r: tf.io.parse_single_example(r, spec)["w"])
    return tf.data.Dataset.zip(pairs.batch(batch_size, drop_remainder=True),
                               ws.batch(batch_size, drop_remainder=True)).map(
        lambda b, w: {**b, "w_real": w}).prefetch(2)
