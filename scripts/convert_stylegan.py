"""Convert a NVIDIA StyleGAN v1 pickle to Keras-native weights + JSON config.

    python scripts/convert_stylegan.py karras2019stylegan-ffhq-1024x1024.pkl --out stylegan_weights/ffhq1024

Writes G.weights.h5, D.weights.h5, Gs.weights.h5 and stylegan.json into a NEW directory
(atomically); `idd_tf.load_stylegan(<dir>)` then loads it without the pickle.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging  # noqa: E402

import idd_tf  # noqa: E402
from idd_tf import legacy  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("out", None, "output directory (must not exist)", required=True)
flags.DEFINE_list("networks", ["G", "D", "Gs"], "which networks to convert")


def main(argv):
    if len(argv) != 2:
        raise app.UsageError("usage: convert_stylegan.py PKL --out DIR")
    src = argv[1]
    try:
        models = legacy.load_pickle(src, tuple(FLAGS.networks))
        out = idd_tf.save_converted(models, FLAGS.out, source=os.path.basename(src))
    except (idd_tf.StyleGANFormatError, FileNotFoundError, FileExistsError) as e:
        logging.error("%s", e)
        sys.exit(1)
    logging.info("config: %s", models["config"])
    print(f"wrote {out} ({', '.join(FLAGS.networks)})")


if __name__ == "__main__":
    app.run(main)
