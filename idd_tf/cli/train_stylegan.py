"""Train a StyleGAN v1 in TF2 with NVIDIA's recipe; the result is a NVIDIA-format pickle.

    python scripts/train_stylegan.py                                 # the toy world's StyleGAN (64 px)
    python scripts/train_stylegan.py --preset quick --kimg 1         # minutes-long smoke run
    python scripts/train_stylegan.py --data photos/ --set stylegan.resolution=128 --kimg 2000
    python scripts/train_stylegan.py --init karras2019stylegan-ffhq-1024x1024.pkl --data ffhq/ --kimg 100
    python scripts/train_stylegan.py --resume runs_gan/00000-toy     # continue exactly (after kill -9 too)

A run directory holds config.json, checkpoints/ (G, D, Gs, optimizers, step, image counter),
logs/ (TensorBoard), images/ (reals, fixed-seed Gs samples) and NVIDIA-format pickles
network-snapshot-<kimg>.pkl and network-final.pkl, readable by idd_tf's loader and NVIDIA's code.
"""

import json
import math
from pathlib import Path

from absl import flags, logging

import idd_tf.cli as cli
from idd_tf.cli import common
from idd_tf.utils.errors import UserError

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_enum("preset", "toy", ["toy", "quick"], "configuration preset (idd_tf.config.GAN_PRESETS)")
    flags.DEFINE_string("run_root", "runs_gan", "where new run directories are created")
    flags.DEFINE_string("run_dir", None, "explicit run directory (created if missing, resumed if it holds a run)")
    flags.DEFINE_string("resume", None, "run directory to continue (its config.json is used)")
    flags.DEFINE_string("data", None, "'toy' (the toy-world renderer) or an image folder")
    flags.DEFINE_string("init", None, "start from the G, D, Gs of a NVIDIA StyleGAN v1 pickle (fine-tuning)")
    flags.DEFINE_float("kimg", None, "train until this many thousand real images have been shown")
    flags.DEFINE_integer("seed", None, "seed (initialisation, latents, noise, data order)")
    flags.DEFINE_multi_string("set", [], "any config field, e.g. --set r1_interval=4 --set stylegan.fmap_max=32")
    flags.DEFINE_bool("dry_run", False, "print the resolved config and exit")


def resolve_config():
    from idd_tf.stylegan import config as sg_config
    # the run's own config wins; --kimg and --set (e.g. lower rates) change it
    existing = FLAGS.resume or (FLAGS.run_dir if FLAGS.run_dir and (Path(FLAGS.run_dir) / "config.json").exists()
                                else None)
    try:
        return common.resolve_config(
            sg_config.GANTrainConfig, sg_config.GAN_PRESETS, FLAGS.preset, existing,
            {"data": FLAGS.data, "total_kimg": FLAGS.kimg, "seed": FLAGS.seed},
            {"total_kimg": FLAGS.kimg} if FLAGS.kimg else {}, FLAGS.set)
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(e) from e


def app_main(argv):
    del argv
    config = resolve_config()
    if FLAGS.dry_run:
        print(json.dumps(config.to_dict(), indent=2))
        return

    import tensorflow as tf

    from idd_tf.stylegan import legacy
    from idd_tf.stylegan import training as gan_training
    from idd_tf.stylegan.config import StyleGANConfig
    from idd_tf.toy import world as toyworld
    from idd_tf.utils import fileio, monitor

    if FLAGS.resume:
        run_dir = Path(FLAGS.resume)
    elif FLAGS.run_dir:
        run_dir = Path(FLAGS.run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
    else:
        run_dir = fileio.new_run_dir(Path(FLAGS.run_root), FLAGS.preset)

    fresh = not (run_dir / "checkpoints" / "checkpoint").exists()
    logging.set_verbosity(logging.WARNING)  # TF's checkpoint-saver INFO lines
    tf.config.experimental.enable_op_determinism()
    try:
        if FLAGS.init and fresh:
            nets = legacy.load_pickle(FLAGS.init)
            config = config.replace(stylegan=nets["config"].to_dict())
            if not any(s.startswith("lod_initial_resolution=") for s in FLAGS.set):
                # a trained full-resolution network continues at full resolution (lod 0), unless
                # told otherwise: growing would restart it at the preset's 8 px
                config = config.replace(lod_initial_resolution=0)
        else:
            nets = gan_training.build_networks(config)
        source = (toyworld.image_source(config.stylegan.resolution, config.seed) if config.data == "toy"
                  else gan_training.folder_source(config.data, config.stylegan.resolution, config.seed))
        source(0, 1)  # fail now on an empty/unreadable folder, not after building everything
    except ValueError as e:   # StyleGANFormatError is a UserError already
        raise UserError(e) from e
    if not (run_dir / "config.json").exists() or FLAGS.kimg or FLAGS.set:  # changes are part of the record
        fileio.atomic_write_bytes(run_dir / "config.json",
                                (json.dumps(config.to_dict(), indent=2) + "\n").encode())
    assert StyleGANConfig.from_dict(config.stylegan.to_dict()) == nets["G"].config

    trainer = gan_training.GANTrainer(nets["G"], nets["D"], nets["Gs"], config)
    total_steps = math.ceil(config.total_kimg * 1000 / config.batch_size)
    mon = monitor.Monitor(run_dir)

    def snapshot(step):
        if trainer.lod() > 0:  # still growing: the full-resolution layers are not trained yet
            return
        kimg = step * config.batch_size // 1000
        legacy.save_pickle(nets, run_dir / f"network-snapshot-{kimg:06d}.pkl", overwrite=True)

    try:
        result = gan_training.train(trainer, source, run_dir, total_steps, mon, snapshot)
    except RuntimeError as e:   # no readable checkpoint
        raise UserError(e) from e
    except FloatingPointError as e:
        raise cli.Diverged(f"{e}\nThe latest checkpoint in {run_dir / 'checkpoints'} is the last good one: lower "
                           f"the learning rates (--set g_lr=... --set d_lr=...) and --resume {run_dir}") from e
    finally:
        mon.close()
    if trainer.lod() > 0:
        print(f"stopped at {result['nimg'] / 1000:.1f} kimg while still growing (lod {trainer.lod():.2f}): "
              f"no network-final.pkl until full resolution (lod 0); continue with --resume {run_dir} "
              f"--kimg N")
        return
    final = legacy.save_pickle(nets, run_dir / "network-final.pkl", overwrite=True)
    # what made this pickle (a later --resume changes timing.json and config.json, not this)
    fileio.atomic_write_bytes(run_dir / "network-final.json", (json.dumps(
        {"step": result["step"], "nimg": result["nimg"], "seconds": result["total_seconds"],
         "config": config.to_dict()}, indent=2) + "\n").encode())
    print(f"done: {result['step']} steps, {result['nimg'] / 1000:.1f} kimg in "
          f"{monitor.format_duration(result['seconds'])}; pickle {final}; samples {run_dir / 'images'}")


def main(argv=None):
    """`idd-train-stylegan` and `python scripts/train_stylegan.py`."""
    cli.run(app_main, define_flags, argv)


if __name__ == "__main__":
    main()
