"""Train the identity-disentanglement model (the main job).

    python scripts/train.py                                  # toy world: every part trained and shipped, ~10 min
    python scripts/train.py --preset tiny                    # random small networks, ~1 min (smoke test)
    python scripts/train.py --preset ffhq256 --stylegan PKL --vggface2 resnet50.h5 \\
        --inception inception_v3_notop.h5 --landmarks lnd.weights.h5 --dataset data/ffhq256
    python scripts/train.py --resume runs/00003-tiny         # continue exactly where it stopped
    python scripts/train.py --resume runs/00003-tiny --set optim.lr_nonadv=1e-5   # after a divergence (exit 2)
    python scripts/train.py --preset ffhq1024 --dry_run      # load every file, time one step, print what it costs

Real presets refuse to start (before any work) while a weight file is missing: a random-init
StyleGAN, E_id, E_attr or E_lnd is only allowed where the config says so (`allow_random_encoders`:
the tiny test preset, or an explicit --allow_random_encoders).

Each run gets a new numbered directory under --run_root holding config.json, checkpoints/,
logs/ (TensorBoard), images/ and, for a random StyleGAN, the StyleGAN itself (stylegan/).
Toy-world runs end with their evaluation (`eval_pairs` pairs per source, the toy protocol of
scripts/evaluate.py) in eval/: eval.json, eval.md and the pictures; a resumed run that finishes
again replaces it with the evaluation of its newer checkpoint. Nothing else is ever deleted or
overwritten; nothing prompts.
"""

import json
import sys
from pathlib import Path

import _console  # noqa: E402

_console.setup()   # first: a quiet console unless --verbose

from absl import app, flags, logging  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_enum("preset", "toy", ["toy", "tiny", "ffhq256", "ffhq1024"],
                  "configuration preset (toy: the toy world, every part trained; tiny: random small "
                  "networks for smoke tests)")
flags.DEFINE_string("run_root", "runs", "where new run directories are created")
flags.DEFINE_string("resume", None, "run directory to continue (its config.json is used)")
flags.DEFINE_string("run_dir", None, "explicit run directory (multi-worker: the same shared path on every worker)")
flags.DEFINE_bool("dry_run", False, "check everything, time one step, print the config (stdout) and "
                  "the checks (stderr), write nothing; exit 0 only if the run would start")
flags.DEFINE_bool("dry_run_time", True, "--dry_run: also time one training step (builds the step)")
flags.DEFINE_integer("steps", None, "total training steps (also extends a resumed run)")
flags.DEFINE_integer("batch_size", None, "batch size")
flags.DEFINE_integer("seed", None, "seed (random StyleGAN, data order)")
flags.DEFINE_string("stylegan", None, "NVIDIA StyleGAN v1 pickle or converted directory")
flags.DEFINE_string("vggface2", None, "VGGFace2 ResNet-50 .h5 (WeidiXie or keras-vggface notop)")
flags.DEFINE_string("inception", None, "ImageNet InceptionV3 notop .h5")
flags.DEFINE_string("landmarks", None, "landmark network (.weights.h5 from train_landmarks.py, .keras/.h5 or SavedModel)")
flags.DEFINE_string("dataset", None, "generated dataset directory (generated there if missing)")
flags.DEFINE_bool("allow_random_encoders", None, "allow random-init StyleGAN / E_id / E_attr / E_lnd "
                  "where weight files are missing (default: the preset's; only tiny allows them)")
flags.DEFINE_enum("strategy", "default", ["default", "mirrored", "multiworker"],
                  "tf.distribute strategy: one device, all local devices, or several hosts (TF_CONFIG)")
flags.DEFINE_multi_string("set", [], "any config field, e.g. --set loss.id=2 --set mapping.w_plus=true")


def resolve_config():
    from idd_tf.method import config as cfg
    from idd_tf.method import presets
    from idd_tf.utils import configs
    if FLAGS.resume:
        config = cfg.TrainConfig.from_run_dir(FLAGS.resume)
        changes = {"steps": FLAGS.steps} if FLAGS.steps else {}
        if FLAGS.allow_random_encoders is not None:
            changes["allow_random_encoders"] = FLAGS.allow_random_encoders
        # e.g. a lower learning rate after a divergence; written to the run's config.json
        changes.update(configs.parse_overrides(FLAGS.set))
        resumed = config.replace(**changes)
        configs.check_resume(config, resumed)
        return resumed
    config = presets.TRAIN_PRESETS[FLAGS.preset]
    changes = {}
    for flag, key in (("steps", "steps"), ("batch_size", "batch_size"), ("seed", "seed"),
                      ("stylegan", "stylegan_weights"), ("vggface2", "id_encoder.weights"),
                      ("inception", "attr_encoder.weights"), ("landmarks", "landmarks.weights"),
                      ("dataset", "dataset"), ("allow_random_encoders", "allow_random_encoders")):
        if getattr(FLAGS, flag) is not None:
            changes[key] = getattr(FLAGS, flag)
    changes.update(configs.parse_overrides(FLAGS.set))
    return config.replace(**changes)


def preflight_problems(config) -> list[str]:
    """Why `config` must not start: weight files given but absent, and, unless
    `allow_random_encoders` (tiny; or --allow_random_encoders), every pretrained network without
    weights (it would be random-init silently). Each names its flag and config field."""
    needed = [("--stylegan", "stylegan_weights", config.stylegan_weights, "StyleGAN (NVIDIA pickle or converted dir)"),
              ("--vggface2", "id_encoder.weights", config.id_encoder.weights,
               "E_id (toy_id.weights.h5)" if config.id_encoder.arch == "toy" else "E_id (VGGFace2 ResNet-50 .h5)"),
              ("--landmarks", "landmarks.weights", config.landmarks.weights, "E_lnd (train_landmarks.py output)")]
    if config.attr_encoder.arch == "inception_v3":  # arch "tiny" has no pretrained weights
        needed.insert(2, ("--inception", "attr_encoder.weights", config.attr_encoder.weights,
                          "E_attr (ImageNet InceptionV3 notop .h5)"))
    problems = []
    for flag, field, path, what in needed:
        if path and not Path(path).exists():
            problems.append(f"{flag} {path}: no such file or directory ({field})")
        elif not path and not config.allow_random_encoders:
            problems.append(f"{what}: no weights ({field}); pass {flag} FILE")
    return problems


def dry_run(config) -> int:
    """Load every file, time one step, report; 0 if the run would start, else 1."""
    from idd_tf.method import preflight
    checked = preflight.check(config)
    timing = None
    if FLAGS.dry_run_time and checked["model"] is not None and not checked["problems"]:
        timing = preflight.timed_step(checked["model"], config.replace(stylegan=checked["stylegan"].config.to_dict()))
    print(preflight.report(config, checked, timing), file=sys.stderr)
    return 1 if checked["problems"] else 0


def evaluate_toy_run(net, G, config, run_dir, checkpoint):
    """The toy protocol on the trained model (the same as scripts/evaluate.py --run RUN --num_pairs
    config.eval_pairs): RUN/eval/eval.json, eval.md and the pictures."""
    from idd_tf.method import presets
    from idd_tf.toy import nets as toynets
    from idd_tf.toy import protocol as toy_protocol
    from idd_tf.utils import monitor
    evaluator = toynets.load_net(presets.TOY_WEIGHTS_DIR, "evaluator")
    with monitor.stage_progress(f"toy evaluation ({config.eval_pairs} pairs)") as progress:
        written = toy_protocol.write_evaluation(
            net, G, evaluator, run_dir / "eval", n=config.eval_pairs, psi=config.truncation_psi,
            cutoff=config.truncation_cutoff, title=f"Toy-world evaluation of {run_dir} ({Path(checkpoint).name})",
            header={"run": str(run_dir), "checkpoint": checkpoint}, progress=progress)
    t = written["result"]["targets"]
    m = written["result"]["generated"]["method"]
    b = written["result"].get("sum_against_mixing")
    mixing = (f"; norm sum minus the best style mixing's {b['difference']:+.3f}, 95% interval "
              f"{b['low']:+.3f} to {b['high']:+.3f} on {config.eval_pairs} pairs" if b else "")
    print(f"evaluation: identity error {m['norm_id']:.2f} x copy-I_attr's, attribute error {m['norm_attr']:.2f} x "
          f"copy-I_id's ({sum(v['met'] for v in t.values())} of {len(t)} targets met{mixing}; "
          f"{run_dir / 'eval' / 'eval.md'}) {_console.elapsed()}")


def main(argv):
    del argv
    try:
        config = resolve_config()
    except (FileNotFoundError, ValueError, KeyError) as e:
        logging.error("%s", e)
        sys.exit(1)
    problems = preflight_problems(config)  # before any work: no run directory, no dataset
    if problems:
        logging.error("refusing to train on random networks / missing files:\n  %s\n(random weights "
                      "are for tests: --allow_random_encoders)", "\n  ".join(problems))
        sys.exit(1)
    print(json.dumps(config.to_dict(), indent=2))
    if FLAGS.dry_run:
        sys.exit(dry_run(config))

    import keras
    import tensorflow as tf

    import idd_tf
    from idd_tf.method import data, model, trainer
    from idd_tf.stylegan import networks as stylegan
    from idd_tf.utils import fileio, monitor

    try:  # first TF work of the process: multi-worker collectives must be set up before any op
        strategy = trainer.make_strategy(FLAGS.strategy)
    except ValueError as e:
        logging.error("%s", e)
        sys.exit(1)
    chief = trainer.is_chief(strategy)
    replicas = strategy.num_replicas_in_sync
    logging.info("strategy %s: %d replica(s), %s", FLAGS.strategy, replicas,
                 "chief" if chief else "worker")
    if config.batch_size % replicas:
        logging.error("batch_size %d is not divisible by %d replicas", config.batch_size, replicas)
        sys.exit(1)
    if FLAGS.resume:
        run_dir = Path(FLAGS.resume)
    elif FLAGS.run_dir:
        run_dir = Path(FLAGS.run_dir)
        if chief:
            run_dir.mkdir(parents=True, exist_ok=True)
    elif FLAGS.strategy == "multiworker":
        logging.error("--strategy multiworker needs --run_dir (the same on every worker)")
        sys.exit(1)
    else:
        from idd_tf.utils.fileio import new_run_dir
        run_dir = new_run_dir(Path(FLAGS.run_root), FLAGS.preset)
    logging.info("run directory: %s", run_dir)

    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    try:
        with strategy.scope():
            if config.stylegan_weights:
                G = idd_tf.load_stylegan(config.stylegan_weights)
            else:
                G = stylegan.random_stylegan(config.stylegan, seed=config.seed)
        if not config.stylegan_weights:
            saved = run_dir / "stylegan"
            if chief and not saved.exists():
                idd_tf.save_converted({"config": G.config, "Gs": G}, saved, source="random_stylegan")
            config = config.replace(stylegan_weights=str(saved))
    except (idd_tf.StyleGANFormatError, FileNotFoundError) as e:
        logging.error("%s", e)
        sys.exit(1)
    config = config.replace(stylegan=G.config.to_dict())
    if config.dataset is None:
        config = config.replace(dataset=str(run_dir / "dataset"))
    if config.validate_every and config.validation_dataset is None:
        config = config.replace(validation_dataset=str(config.dataset).rstrip("/") + "-val")
    if chief and (not (run_dir / "config.json").exists() or (FLAGS.resume and FLAGS.set)):
        fileio.atomic_write_bytes(run_dir / "config.json", (json.dumps(config.to_dict(), indent=2) + "\n").encode())

    for existing in (config.dataset, config.validation_dataset if config.validate_every else None):
        if existing and (Path(existing) / data.MANIFEST).exists():   # before any work: made by this G?
            try:
                meta = data.read_manifest(existing)
            except (ValueError, OSError) as e:
                logging.error("%s", e)
                sys.exit(1)
            if (meta["resolution"], meta["dlatent_size"]) != (G.resolution, G.dlatent_size):
                logging.error("dataset %s was made by another StyleGAN: %dpx, w %d-d; this StyleGAN is %dpx, "
                              "w %d-d (use another --dataset)", existing, meta["resolution"], meta["dlatent_size"],
                              G.resolution, G.dlatent_size)
                sys.exit(1)
    if not (Path(config.dataset) / data.MANIFEST).exists():
        if not chief:
            logging.error("dataset %s is not complete: generate it first (scripts/generate_dataset.py "
                          "with --num_shards/--shard_index on several workers)", config.dataset)
            sys.exit(1)
        logging.info("generating %d images into %s (resumable)", config.dataset_size, config.dataset)
        data.generate_dataset(G, config.dataset, config.dataset_size, config.shard_size,
                              config.truncation_psi, config.truncation_cutoff, config.seed)
    validation_data = None
    if config.validate_every:  # held-out images: the same generator, another seed
        if not (Path(config.validation_dataset) / data.MANIFEST).exists():
            # small: every worker writes all of it (identical records, atomic files), no waiting
            logging.info("generating %d held-out images into %s", config.validation_size,
                         config.validation_dataset)
            data.generate_dataset(G, config.validation_dataset, config.validation_size,
                                  config.shard_size, config.truncation_psi, config.truncation_cutoff,
                                  config.seed + config.validation_seed_offset)
        validation_data = trainer.validation_data_for(config.validation_dataset, config.batch_size,
                                                      config.validate_batches)
    dataset_fn = trainer.dataset_fn_for(config.dataset, config.batch_size, config.seed,
                                        config.shuffle_buffer)
    preview_imgs = next(iter(data.make_dataset(config.dataset, 4, seed=12345, shuffle_buffer=0)))["image"]
    preview = {"id": preview_imgs, "attr": tf.roll(preview_imgs, 1, axis=0)}
    keras.utils.set_random_seed(config.seed)  # random-init parts are identical when resuming
    with strategy.scope():
        net = model.IDDModel(config, G)
    mon = monitor.Monitor(run_dir, enabled=chief)
    tr = trainer.Trainer(net, dataset_fn, config, run_dir, mon, preview, strategy, validation_data)
    try:
        start = tr.restore()
    except RuntimeError as e:
        logging.error("%s", e)
        sys.exit(1)
    for path, reason in tr.restored["skipped"]:
        logging.warning("skipped unreadable checkpoint %s (%s); resuming from %s", path, reason,
                        tr.restored["path"])
    if start:
        logging.info("resumed at step %d", start)
    try:
        result = tr.run(config.steps)
    except tf.errors.DataLossError as e:   # a shard whose records fail their checksums
        mon.close()
        logging.error("corrupt dataset record (%s). Delete the shard it names from %s and rerun the "
                      "dataset generation (scripts/generate_dataset.py resumes), then --resume %s",
                      e.message.splitlines()[0], config.dataset, run_dir)
        sys.exit(1)
    except FloatingPointError as e:
        mon.close()
        logging.error("%s\nNothing of the diverged step was saved. Continue from the last good "
                      "checkpoint, e.g. with lower learning rates: python scripts/train.py --resume %s "
                      "--set optim.lr_nonadv=... --set optim.lr_adv=... --set optim.lr_disc=...", e, run_dir)
        sys.exit(2)
    if not chief:
        print(f"worker done: step {result['step']}")
        return
    grid = result["preview"] or tr.write_preview(result["step"])  # run() wrote the last step's
    mon.close()
    print(f"done: step {result['step']} {_console.elapsed()}; checkpoint {result['checkpoint']}, grid {grid}, "
          f"curves {run_dir / 'plots' / 'curves.png'}")
    if config.eval_pairs and config.id_encoder.arch == "toy":
        evaluate_toy_run(net, G, config, run_dir, result["checkpoint"])
    print(f"tensorboard --logdir {run_dir / 'logs'}")


if __name__ == "__main__":
    app.run(main)
