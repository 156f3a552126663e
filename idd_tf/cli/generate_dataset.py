"""Generate the training set from a StyleGAN: z -> w (truncated) -> image; TFRecord shards + manifest.

    python scripts/generate_dataset.py --stylegan PKL --out data/ffhq256 --num_images 70000
    python scripts/generate_dataset.py --stylegan PKL --out data/x --num_shards 2 --shard_index 0   # worker 0 of 2

Rerunning continues where it stopped (finished shards are kept; each is written atomically).
Deterministic: example i always gets z from (seed, i), whoever writes it.
"""


from absl import flags

import idd_tf.cli as cli
from idd_tf.cli import console
from idd_tf.utils.errors import UserError

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("stylegan", None, "NVIDIA pickle or converted directory (e.g. runs/00000-tiny/stylegan)",
                        required=True)
    flags.DEFINE_string("out", None, "output dataset directory", required=True)
    flags.DEFINE_integer("num_images", 70000, "dataset size")
    flags.DEFINE_integer("shard_size", 1000, "images per shard")
    flags.DEFINE_float("psi", 0.7, "truncation psi (1 = none)")
    flags.DEFINE_integer("cutoff", 8, "truncation cutoff layer")
    flags.DEFINE_integer("seed", 0, "seed")
    flags.DEFINE_integer("batch_size", 8, "synthesis batch size")
    flags.DEFINE_integer("num_shards", 1, "number of workers splitting the shards")
    flags.DEFINE_integer("shard_index", 0, "this worker's index")


def app_main(argv):
    del argv
    from idd_tf.method import data
    from idd_tf.stylegan import legacy
    try:
        G = legacy.load_stylegan(FLAGS.stylegan)
        result = data.generate_dataset(G, FLAGS.out, FLAGS.num_images, FLAGS.shard_size, FLAGS.psi,
                                       FLAGS.cutoff, FLAGS.seed, FLAGS.batch_size,
                                       FLAGS.num_shards, FLAGS.shard_index)
    except ValueError as e:   # StyleGANFormatError is a UserError already
        raise UserError(e) from e
    state = "complete" if result["complete"] else "partial (other workers' shards missing)"
    print(f"{FLAGS.out}: wrote {len(result['written'])} shard(s); dataset {state} {console.elapsed()}")


def main(argv=None):
    """`idd-generate-dataset` and `python scripts/generate_dataset.py`."""
    cli.run(app_main, define_flags, argv)


if __name__ == "__main__":
    main()
