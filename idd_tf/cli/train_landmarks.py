"""Distil dlib's 68-point landmark predictor into the differentiable Keras E_lnd.

    python scripts/train_landmarks.py --dataset runs/00000-toy/dataset --out stylegan_weights/lnd
    python scripts/train_landmarks.py --images photos/ --detect --out stylegan_weights/lnd_photos

Labels come from dlib's shape_predictor_68_face_landmarks (shipped by face-recognition-models,
offline): on generated / FFHQ-aligned images with the canonical FFHQ face box, on other photos
(--detect) with dlib's face detector (images without a face are skipped and counted). A seeded
random --val_fraction of the labelled faces is held out (never trained on); the net's NME against
dlib on them (mean point-to-point error / outer-eye-corner distance, 300-W) is printed and written
to OUT/metrics.json with the held-out images. Writes OUT/landmarks.weights.h5, OUT/landmarks.json
and OUT/metrics.json into a new directory; train with --landmarks OUT/landmarks.weights.h5 (the
JSON's input_size/base_filters must match the config).

--images takes a folder (every format Pillow reads, whatever the extension), files, a
comma-separated list or @LIST (a text file naming one path per line). Entries that are not usable
(not an image, unreadable, truncated, too small, a sub-folder, a dangling link, not square, no
face) are skipped, each named in a warning and in one summary line; hidden files (.name) are
ignored.
"""

import json
import os
from pathlib import Path

from absl import flags, logging

import idd_tf.cli as cli
from idd_tf.cli import console
from idd_tf.utils.errors import UserError

FLAGS = flags.FLAGS


def define_flags():
    from idd_tf.utils.image_files import INPUTS_HELP
    flags.DEFINE_string("dataset", None, "generated dataset directory (FFHQ-aligned images)")
    flags.DEFINE_string("images", None, f"photos instead of --dataset: {INPUTS_HELP}")
    flags.DEFINE_bool("detect", False, "detect faces (for unaligned photos) instead of the canonical box")
    flags.DEFINE_string("out", None, "output directory (must not exist)", required=True)
    flags.DEFINE_integer("max_images", 5000, "label at most this many images")
    flags.DEFINE_integer("input_size", 128, "network input size")
    flags.DEFINE_integer("base_filters", 32, "network width")
    flags.DEFINE_integer("epochs", 30, "training epochs")
    flags.DEFINE_integer("batch_size", 16, "batch size")
    flags.DEFINE_float("lr", 1e-3, "Adam learning rate")
    flags.DEFINE_integer("seed", 0, "seed (initialisation, held-out split)")
    flags.DEFINE_float("val_fraction", 0.1, "fraction of the labelled faces held out for the NME (never trained on)")


def load_images(skipped):
    """[(name, HWC uint8)]: name = the dataset example index, or the file name. Unusable files of
    --images are added to `skipped` (an image_files.Skipped), named."""
    from idd_tf.method import data
    from idd_tf.utils import image_files
    if bool(FLAGS.dataset) == bool(FLAGS.images):
        raise ValueError("give exactly one of --dataset or --images")
    if FLAGS.dataset:
        from idd_tf.stylegan import networks as stylegan
        limit = min(FLAGS.max_images, data.read_manifest(FLAGS.dataset)["num_images"])
        out = []
        for batch in data.make_dataset(FLAGS.dataset, 1, shuffle_buffer=0):
            out.append((int(batch["index"][0]), stylegan.to_uint8(batch["image"]).numpy()[0]))
            if len(out) >= limit:
                break
        return out
    files, lost = image_files.image_inputs(FLAGS.images)
    skipped.extend(lost)
    out = []
    for p in files[:FLAGS.max_images]:   # a bad file is skipped and named; the batch goes on
        try:
            out.append((str(p), image_files.load_image(p, min_side=image_files.MIN_IMAGE_SIDE)))
        except ValueError as e:
            skipped.add_error(p, e)
    return out


def app_main(argv):
    del argv
    import numpy as np
    from tqdm import tqdm

    from idd_tf.method import config, encoders, faces, metrics
    from idd_tf.utils import image_files
    out = Path(FLAGS.out)
    if out.exists():
        raise UserError(f"{out} exists; choose a new output directory")
    if not 0 < FLAGS.val_fraction < 1:
        raise UserError(f"--val_fraction must be in (0, 1), got {FLAGS.val_fraction}")
    skipped = image_files.Skipped()
    try:
        images = load_images(skipped)
    except ValueError as e:
        raise UserError(e) from e
    xs, ys, names = [], [], []
    for name, img in tqdm(images, desc="dlib landmarks", unit="img"):
        if img.shape[0] != img.shape[1]:
            skipped.add(name, f"not square: {img.shape[1]}x{img.shape[0]}")
            continue
        try:
            pts = faces.dlib_landmarks(img, aligned=not FLAGS.detect)
        except faces.NoFaceError:
            skipped.add(name, "no face found")
            continue
        small = image_files.resize_square(img, FLAGS.input_size)
        xs.append((small.astype(np.float32) - 127.5) / 127.5)
        ys.append(pts / img.shape[0])
        names.append(Path(name).name if isinstance(name, str) else name)
    skipped.report(logging.warning, print, len(xs) + len(skipped))
    num_val = max(1, int(round(FLAGS.val_fraction * len(xs))))
    if len(xs) - num_val < 1:
        raise UserError(f"{FLAGS.images or FLAGS.dataset}: {len(xs)} usable face images ({len(skipped)} skipped): "
                        f"too few to train and hold out {num_val}")
    xs, ys = np.stack(xs), np.stack(ys)
    order = np.random.default_rng(FLAGS.seed).permutation(len(xs))
    val, train = np.sort(order[:num_val]), np.sort(order[num_val:])
    cfg = config.LandmarkConfig(input_size=FLAGS.input_size, base_filters=FLAGS.base_filters)
    result = encoders.fit_landmark_net(xs[train], ys[train], cfg, FLAGS.epochs, FLAGS.batch_size,
                                       FLAGS.lr, FLAGS.seed)
    predict = lambda idx: result["model"].predict(xs[idx], batch_size=64, verbose=0)  # noqa: E731
    mean_shape = np.broadcast_to(ys[train].mean(0), ys[val].shape)
    scores = {"nme_val": metrics.nme(predict(val), ys[val]), "nme_train": metrics.nme(predict(train), ys[train]),
              "nme_val_mean_shape": metrics.nme(mean_shape, ys[val]),
              "train_images": int(len(train)), "val_images": int(len(val)),
              "definition": "mean over images of the mean L2 error of the 68 points / distance of the "
                            "reference's outer eye corners (points 36, 45); reference: dlib",
              "val_items": [names[i] for i in val]}
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.mkdir(parents=True)
    result["model"].save_weights(tmp / "landmarks.weights.h5")
    summary = {"input_size": cfg.input_size, "base_filters": cfg.base_filters, "images": len(xs),
               "skipped": len(skipped), "mse_first_epoch": result["loss_first"],
               "mse_last_epoch": result["loss_last"], "labels": "dlib shape_predictor_68_face_landmarks",
               "boxes": "detected" if FLAGS.detect else "FFHQ canonical",
               **{k: scores[k] for k in ("nme_val", "nme_train", "train_images", "val_images")}}
    (tmp / "landmarks.json").write_text(json.dumps(summary, indent=2) + "\n")
    (tmp / "metrics.json").write_text(json.dumps(scores, indent=2) + "\n")
    os.replace(tmp, out)
    print(f"E_lnd NME vs dlib on {len(val)} held-out images: {scores['nme_val']:.4f} "
          f"(training images: {scores['nme_train']:.4f}; mean training shape: "
          f"{scores['nme_val_mean_shape']:.4f}) -> {out / 'metrics.json'} {console.elapsed()}")
    print(json.dumps(summary))


def main(argv=None):
    """`idd-train-landmarks` and `python scripts/train_landmarks.py`."""
    cli.run(app_main, define_flags, argv)


if __name__ == "__main__":
    main()
