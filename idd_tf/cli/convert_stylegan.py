"""Convert a NVIDIA StyleGAN v1 pickle to Keras-native weights + JSON config, and/or verify it.

    python scripts/convert_stylegan.py karras2019stylegan-ffhq-1024x1024.pkl --out stylegan_weights/ffhq1024
    python scripts/convert_stylegan.py karras2019stylegan-ffhq-1024x1024.pkl --out stylegan_weights/ffhq1024 --verify
    python scripts/convert_stylegan.py stylegan_weights/ffhq1024 --verify --verify_dir out/verify   # verify only

Writes G.weights.h5, D.weights.h5, Gs.weights.h5 and stylegan.json into a NEW directory
(atomically); `legacy.load_stylegan(<dir>)` then loads it without the pickle.

--verify runs the converted generator (or, without --out, the given pickle / directory) on
--verify_seeds in float32 and in float64 (the same weights, `idd_tf.stylegan_precision.layerwise_errors`)
and reports, per layer and for the final image, max|f32 - f64| / max|f64| ("accumulated": the
float32 chain; "local": that layer alone, fed the float64 input). It prints a table and writes
into --verify_dir (default <out>/verify): layerwise_errors.json and
float32_float64_diff_x<A>.png (rows: float32 | float64 | difference amplified A times, grey = 0).
Exit status 1 if the image error exceeds config.VERIFY_TOLERANCE (1e-4, the tolerance the port
meets against NVIDIA's own outputs). Existing verify outputs are kept unless --overwrite.
"""

import json
import os
import sys

from absl import app, flags, logging

import idd_tf.cli as cli
from idd_tf.cli import console
from idd_tf.utils.errors import UserError

FLAGS = flags.FLAGS


def define_flags():
    from idd_tf.stylegan import config as sg_config
    from idd_tf.stylegan import networks as stylegan
    flags.DEFINE_string("out", None, "output directory for the converted weights (must not exist); "
                        "may be left out with --verify (then the input itself is verified)")
    flags.DEFINE_list("networks", ["G", "D", "Gs"], "which networks to convert")
    flags.DEFINE_bool("verify", False, "compare the float32 network with its float64 computation")
    flags.DEFINE_string("verify_dir", None, "where --verify writes its JSON and PNG (default <out>/verify)")
    flags.DEFINE_string("verify_seeds", "0-1", "seeds for --verify: '0-3' or '1,5,9'")
    flags.DEFINE_float("verify_psi", sg_config.DEFAULT_TRUNCATION_PSI, "truncation psi for --verify (1 = off)")
    flags.DEFINE_integer("verify_cutoff", sg_config.DEFAULT_TRUNCATION_CUTOFF, "truncation cutoff for --verify")
    flags.DEFINE_enum("verify_network", "Gs", ["Gs", "G"], "which generator --verify checks")
    flags.DEFINE_enum("verify_noise", "const", list(stylegan.NOISE_MODES), "noise mode for --verify")
    flags.DEFINE_bool("overwrite", False, "replace earlier --verify outputs at the same place")


def verify(source, verify_dir, seeds):
    import tensorflow as tf

    from idd_tf.stylegan import config as sg_config
    from idd_tf.stylegan import legacy
    from idd_tf.stylegan import networks as stylegan
    from idd_tf.stylegan import precision as stylegan_precision
    from idd_tf.utils import fileio
    tf.config.experimental.enable_tensor_float_32_execution(False)  # TF32 alone errs ~1e-3
    G = legacy.load_stylegan(source, FLAGS.verify_network)
    report = stylegan_precision.layerwise_errors(G, stylegan.seed_latents(G, seeds), FLAGS.verify_psi,
                                       FLAGS.verify_cutoff, FLAGS.verify_noise)
    images = report.pop("images")
    picture, amplify = stylegan_precision.comparison_image(images["float32"], images["float64"])
    png = os.path.join(verify_dir, f"float32_float64_diff_x{amplify:g}.png")
    passed = report["image_error"] <= sg_config.VERIFY_TOLERANCE
    report.update(source=str(source), network=FLAGS.verify_network, seeds=seeds,
                  tolerance=sg_config.VERIFY_TOLERANCE, passed=passed, png=os.path.basename(png),
                  amplify=amplify)
    fileio.save_image(png, picture)
    fileio.atomic_write_bytes(os.path.join(verify_dir, "layerwise_errors.json"),
                            (json.dumps(report, indent=2) + "\n").encode())
    print(stylegan_precision.layerwise_table(report))
    print(f"wrote {png} (float32 | float64 | difference x{amplify:g}) and "
          f"{os.path.join(verify_dir, 'layerwise_errors.json')}")
    verdict = "PASS" if passed else "FAIL"
    print(f"{verdict}: final image error {report['image_error']:.2e} "
          f"(tolerance {sg_config.VERIFY_TOLERANCE:g})")
    return passed


def app_main(argv):
    if len(argv) != 2:
        raise app.UsageError("usage: convert_stylegan.py PKL --out DIR [--verify]")
    if FLAGS.out is None and not FLAGS.verify:
        raise app.UsageError("--out DIR is required (or --verify to check PKL_OR_DIR only)")
    verify_dir = FLAGS.verify_dir or (os.path.join(FLAGS.out, "verify") if FLAGS.out else None)
    if FLAGS.verify and verify_dir is None:
        raise app.UsageError("--verify without --out needs --verify_dir")
    src = argv[1]
    from idd_tf.method import data
    from idd_tf.stylegan import legacy
    from idd_tf.utils import fileio
    try:
        if FLAGS.verify:
            seeds = data.parse_seeds(FLAGS.verify_seeds)
            fileio.check_output(verify_dir, FLAGS.overwrite, is_dir=True)
        if FLAGS.out is not None:
            models = legacy.load_pickle(src, tuple(FLAGS.networks))
            out = legacy.save_converted(models, FLAGS.out, source=os.path.basename(src))
            logging.info("config: %s", models["config"])
            print(f"wrote {out} ({', '.join(FLAGS.networks)}) {console.elapsed()}")
        if FLAGS.verify and not verify(FLAGS.out or src, verify_dir, seeds):
            sys.exit(1)
    except ValueError as e:   # StyleGANFormatError is a UserError already
        raise UserError(e) from e


def main(argv=None):
    """`idd-convert-stylegan` and `python scripts/convert_stylegan.py`."""
    cli.run(app_main, define_flags, argv)


if __name__ == "__main__":
    main()
