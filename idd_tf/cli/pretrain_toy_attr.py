"""The toy E_attr's backbone pretrained on renders (the toy analog of ImageNet pretraining).

    python scripts/pretrain_toy_attr.py --out runs/toy_parts            # 1,500 steps, ~15-40 min on 2 cores
    python scripts/train.py --set attr_encoder.weights=runs/toy_parts/toy_attr.weights.h5

Trains the toy preset's arch-"small" E_attr backbone as an autoencoder (L1 reconstruction through
its code, an upsampling decoder that is then dropped) on a stream of renders of people no other toy
part is trained or measured on (`idd_tf.toy.attr_pretraining`); neither the evaluator nor the
factors it scores are used. Writes OUT/toy_attr.weights.h5, OUT/toy_attr.json (settings,
held-out reconstruction PSNR) and, last, its model card OUT/MODEL_CARD_attr.md; resumable (--work,
default OUT/work). The widths and code size are the toy preset's.
"""

import sys
from pathlib import Path

from absl import flags

import idd_tf.cli as cli
from idd_tf.utils.errors import UserError

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("out", "runs/toy_parts", "output folder")
    flags.DEFINE_string("work", None, "checkpoint folder (resumable; default OUT/work)")
    flags.DEFINE_integer("steps", 1500, "training steps (batch 64)")
    flags.DEFINE_bool("overwrite", False, "replace an existing OUT/toy_attr.weights.h5")
    flags.DEFINE_string("card_command", None, "the command the model card names (default: this one, as typed)")


def app_main(argv):
    del argv
    from idd_tf.method import presets
    from idd_tf.toy import attr_pretraining, cards
    from idd_tf.utils import fileio
    out = Path(FLAGS.out)
    if (out / attr_pretraining.WEIGHTS_FILE).exists() and not FLAGS.overwrite:
        raise UserError(f"{out / attr_pretraining.WEIGHTS_FILE} exists; pass --overwrite to replace it")
    if FLAGS.steps < 1:
        raise UserError(f"--steps must be >= 1, not {FLAGS.steps}")
    a = presets.TRAIN_PRESETS["toy"].attr_encoder
    info = attr_pretraining.train(out, steps=FLAGS.steps, input_size=a.input_size, widths=a.small_widths,
                                  code=a.small_code, log=lambda m: print(m, flush=True), work_dir=FLAGS.work)
    command = FLAGS.card_command or "python " + " ".join(sys.argv)
    fileio.atomic_write_bytes(out / attr_pretraining.CARD_FILE,
                              cards.attr_card(info, out / attr_pretraining.WEIGHTS_FILE, command).encode())
    print(f"held-out reconstruction PSNR {info['heldout_psnr_db']:.2f} dB; wrote {out / attr_pretraining.WEIGHTS_FILE}")


def main(argv=None):
    cli.run(app_main, define_flags, argv)


if __name__ == "__main__":
    main()
