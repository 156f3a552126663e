"""The paper's Table 1 / Table 2 metrics on N random (identity, attribute) pairs: of the run's
generated dataset, or of real photos (--id_dir, --attr_dir; FFHQ-aligned with --align).

    python scripts/evaluate.py --run RUN --num_pairs 500 --fid_weights inception_v3_notop.h5 --out out/eval
    python scripts/evaluate.py --run RUN --id_dir photos/ids --attr_dir photos/attrs --align --num_pairs 500 \\
        --fid_weights inception_v3_notop.h5 --real_dir photos/ffhq_real --out out/eval_real

Disentanglement (I_id != I_attr): identity = cosine similarity of dlib face descriptors of I_id and
I_out (higher is better), expression = mean L2 of dlib 68 landmarks of I_attr vs I_out / resolution,
pose = L2 of (yaw, pitch, roll) of I_attr vs I_out in degrees; FID of I_out vs the attribute
images, or vs --real_dir, on MTCNN face crops (only with --fid_weights). Reconstruction
(I_id == I_attr, each distinct identity image): RMSE, PSNR, identity. Pairs are distinct and
seeded (--seed); an image used twice is detected once. Pairs whose faces cannot be found are
skipped and counted; folder images that are unreadable or (--align) without a face are skipped,
counted and listed. All logic: idd_tf.metrics.evaluate. Writes OUT/metrics.json and OUT/metrics.md.
"""

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_bool("overwrite", False, "replace earlier outputs at the same place")
flags.DEFINE_string("run", None, "training run directory", required=True)
flags.DEFINE_string("checkpoint", None, "a specific checkpoint (default: latest)")
flags.DEFINE_string("dataset", None, "generated dataset (default: the run's; not with --id_dir)")
flags.DEFINE_string("id_dir", None, "folder of identity photos (real images instead of the dataset)")
flags.DEFINE_string("attr_dir", None, "folder of attribute photos (default: --id_dir, pairs of two different images)")
flags.DEFINE_bool("align", False, "FFHQ-align the folder photos (MTCNN + dlib); without it they must be square")
flags.DEFINE_integer("num_pairs", 100, "number of random pairs")
flags.DEFINE_integer("seed", 0, "which pairs")
flags.DEFINE_string("arcface", None, "ArcFace network (.keras/.h5 or SavedModel) for a second identity metric")
flags.DEFINE_string("fid_weights", None, "InceptionV3 notop .h5 for FID (no download; FID skipped without)")
flags.DEFINE_string("real_dir", None, "folder of real photos: FID's reference set (needs --fid_weights)")
flags.DEFINE_string("out", "out/evaluate", "output folder")


def main(argv):
    del argv
    from idd_tf import data, metrics, model
    from idd_tf.legacy import StyleGANFormatError
    try:
        data.check_output(FLAGS.out, FLAGS.overwrite, is_dir=True)
        if FLAGS.dataset and FLAGS.id_dir:
            raise ValueError("give --dataset or --id_dir, not both")
        metrics.check_evaluate_args(FLAGS.id_dir, FLAGS.attr_dir, FLAGS.align, FLAGS.fid_weights,
                                    FLAGS.real_dir)
        run = model.load_run(FLAGS.run, FLAGS.checkpoint)
        dataset = None if FLAGS.id_dir else (FLAGS.dataset or run["config"].dataset)
        result = metrics.evaluate(run["model"], FLAGS.num_pairs, FLAGS.seed, dataset=dataset,
                                  id_dir=FLAGS.id_dir, attr_dir=FLAGS.attr_dir, align=FLAGS.align,
                                  arcface=FLAGS.arcface, fid_weights=FLAGS.fid_weights,
                                  real_dir=FLAGS.real_dir)
    except (FileNotFoundError, FileExistsError, ValueError, StyleGANFormatError) as e:
        logging.error("%s", e)
        sys.exit(1)
    result = {"run": str(FLAGS.run), "checkpoint": run["checkpoint"], "seed": FLAGS.seed, **result}
    out_dir = Path(FLAGS.out)
    data.atomic_write_bytes(out_dir / "metrics.json", (json.dumps(result, indent=2) + "\n").encode())
    md = metrics.report_markdown(result)
    data.atomic_write_bytes(out_dir / "metrics.md", md.encode())
    print(md, end="")


if __name__ == "__main__":
    app.run(main)
