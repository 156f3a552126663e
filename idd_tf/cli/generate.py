"""Render PNG images from seeds with a StyleGAN v1 (NVIDIA pickle or converted directory).

    python scripts/generate.py --stylegan karras2019stylegan-ffhq-1024x1024.pkl --seeds 0-7 --outdir out/gen
    python scripts/generate.py --seeds 0-3              # tiny random model, nothing to download

Seed s draws z = np.random.RandomState(s).randn(1, latent_size), as NVIDIA's pretrained_example.py.
"""

import os

from absl import flags, logging

import idd_tf.cli as cli
from idd_tf.cli import console
from idd_tf.utils.errors import UserError

FLAGS = flags.FLAGS


def define_flags():
    from idd_tf.stylegan import networks as stylegan
    flags.DEFINE_bool("overwrite", False, "replace earlier outputs at the same place")
    flags.DEFINE_string("stylegan", None, "NVIDIA pickle or converted directory (default: tiny random model)")
    flags.DEFINE_string("seeds", "0-3", "seeds: '0-7' or '1,5,9'")
    flags.DEFINE_float("psi", 0.7, "truncation psi (1 = off)")
    flags.DEFINE_integer("cutoff", 8, "truncation applies to layers below this")
    flags.DEFINE_enum("noise", "const", list(stylegan.NOISE_MODES), "noise mode")
    flags.DEFINE_enum("network", "Gs", ["Gs", "G"], "which generator of the pickle")
    flags.DEFINE_string("outdir", "out/generate", "output directory (created if needed)")


def app_main(argv):
    del argv
    from idd_tf.method import data
    from idd_tf.stylegan import config as sg_config
    from idd_tf.stylegan import legacy
    from idd_tf.stylegan import networks as stylegan
    from idd_tf.utils import fileio
    try:
        seeds = data.parse_seeds(FLAGS.seeds)
        fileio.check_output(FLAGS.outdir, FLAGS.overwrite, is_dir=True)
        if FLAGS.stylegan:
            G = legacy.load_stylegan(FLAGS.stylegan, FLAGS.network)
        else:
            logging.info("no --stylegan given: using the tiny random model")
            G = stylegan.random_stylegan(sg_config.STYLEGAN_PRESETS["tiny"])
    except ValueError as e:
        raise UserError(e) from e
    for seed in seeds:
        img = stylegan.seed_images(G, [seed], FLAGS.psi, FLAGS.cutoff, FLAGS.noise)
        fileio.save_image(os.path.join(FLAGS.outdir, f"seed{seed:04d}.png"), stylegan.to_uint8(img)[0])
    print(f"wrote {len(seeds)} images to {FLAGS.outdir} {console.elapsed()}")


def main(argv=None):
    """`idd-generate` and `python scripts/generate.py`."""
    cli.run(app_main, define_flags, argv)


if __name__ == "__main__":
    main()
