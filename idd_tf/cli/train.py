"""Train the identity-disentanglement model (the main job).

    python scripts/train.py                                  # toy world: every part trained and shipped, ~10 min
    python scripts/train.py --preset tiny                    # random small networks, ~1 min (smoke test)
    python scripts/train.py --preset ffhq256 --stylegan PKL --vggface2 resnet50.h5 \\
        --inception inception_v3_notop.h5 --landmarks lnd.weights.h5 --dataset data/ffhq256
    python scripts/train.py --preset ffhq256_builtin --stylegan PKL --inception inception_v3_notop.h5
                                                             # built-in E_id (dlib) and E_lnd (face-api)
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

from absl import flags, logging

import idd_tf.cli as cli
from idd_tf.cli import common, console
from idd_tf.utils.errors import UserError

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_enum("preset", "toy", ["toy", "tiny", "ffhq256", "ffhq256_builtin", "ffhq1024"],
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
    flags.DEFINE_string("landmarks", None,
                        "landmark network (.weights.h5 from train_landmarks.py, .keras/.h5 or SavedModel)")
    flags.DEFINE_string("dataset", None, "generated dataset directory (generated there if missing)")
    flags.DEFINE_bool("allow_random_encoders", None, "allow random-init StyleGAN / E_id / E_attr / E_lnd "
                      "where weight files are missing (default: the preset's; only tiny allows them)")
    flags.DEFINE_enum("strategy", "default", ["default", "mirrored", "multiworker"],
                      "tf.distribute strategy: one device, all local devices, or several hosts (TF_CONFIG)")
    flags.DEFINE_multi_string("set", [], "any config field, e.g. --set loss.id=2 --set mapping.w_plus=true")


def resolve_config():
    from idd_tf.method import config as cfg
    from idd_tf.method import presets
    resume_changes = {"steps": FLAGS.steps} if FLAGS.steps else {}
    if FLAGS.allow_random_encoders is not None:
        resume_changes["allow_random_encoders"] = FLAGS.allow_random_encoders
    fresh_changes = {key: getattr(FLAGS, flag) for flag, key in (
        ("steps", "steps"), ("batch_size", "batch_size"), ("seed", "seed"), ("stylegan", "stylegan_weights"),
        ("vggface2", "id_encoder.weights"), ("inception", "attr_encoder.weights"),
        ("landmarks", "landmarks.weights"), ("dataset", "dataset"),
        ("allow_random_encoders", "allow_random_encoders"))}
    try:
        return common.resolve_config(cfg.TrainConfig, presets.TRAIN_PRESETS, FLAGS.preset, FLAGS.resume,
                                     fresh_changes, resume_changes, FLAGS.set)
    except (ValueError, KeyError) as e:
        raise UserError(e) from e


def preflight_problems(config) -> list[str]:
    """Why `config` must not start: weight files given but absent, and, unless
    `allow_random_encoders` (tiny; or --allow_random_encoders), every pretrained network without
    weights (it would be random-init silently; built-in networks and an E_attr trained from scratch
    on purpose need none). Each names its flag and config field."""
    from idd_tf.method import preflight
    flags_of = {"StyleGAN": ("--stylegan", "stylegan_weights", "StyleGAN (NVIDIA pickle or converted dir)"),
                "E_id": ("--vggface2", "id_encoder.weights",
                         "E_id (toy_id.weights.h5)" if config.id_encoder.arch == "toy" else
                         "E_id (VGGFace2 ResNet-50 .h5; or the built-in dlib ResNet: "
                         "--set id_encoder.arch=dlib_resnet, as --preset ffhq256_builtin)"),
                "E_attr": ("--inception", "attr_encoder.weights",
                           "E_attr (ImageNet InceptionV3 notop .h5; or train it from scratch: "
                           "--set attr_encoder.from_scratch=true)"),
                "E_lnd": ("--landmarks", "landmarks.weights",
                          "E_lnd (train_landmarks.py output; or the built-in face-api net: "
                          "--set landmarks.arch=face_api_68)")}
    problems = []
    for part in preflight.parts(config):
        flag, field, what = flags_of[part["role"]]
        path = part["path"]
        if path and not Path(path).exists():
            problems.append(f"{flag} {path}: no such file or directory ({field})")
        elif not path and not part["from_scratch"] and not config.allow_random_encoders:
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
    r, copy = (written["result"]["rendered"][k] for k in ("method", "copy I_attr"))
    b = written["result"].get("sum_against_mixing")
    mixing = (f"; norm sum minus the best style mixing's {b['difference']:+.3f}, 95% interval "
              f"{b['low']:+.3f} to {b['high']:+.3f}" if b else "")
    print(f"evaluation on {config.eval_pairs} pairs: rendered (the photo analog) norm sum {r['norm_sum']:.2f} "
          f"(copying 1), PSNR to truth {r['truth_psnr'] - copy['truth_psnr']:+.2f} dB over copying I_attr; "
          f"generated identity error {m['norm_id']:.2f} x copy-I_attr's, attribute error {m['norm_attr']:.2f} x "
          f"copy-I_id's{mixing} ({sum(v['met'] for v in t.values())} of {len(t)} targets met; "
          f"{run_dir / 'eval' / 'eval.md'}) {console.elapsed()}")


def refuse_missing_files(config):
    """Before any work (no run directory, no dataset): `preflight_problems` as one UserError."""
    problems = preflight_problems(config)
    if problems:
        raise UserError("refusing to train on random networks / missing files:\n  " + "\n  ".join(problems)
                        + "\n(random weights are for tests: --allow_random_encoders)")


def make_strategy():
    """The tf.distribute strategy of --strategy (the process's first TensorFlow work: multi-worker
    collectives must be set up before any op) and whether this worker is the chief."""
    from idd_tf.method import trainer
    try:
        strategy = trainer.make_strategy(FLAGS.strategy)
    except ValueError as e:
        raise UserError(e) from e
    chief = trainer.is_chief(strategy)
    logging.info("strategy %s: %d replica(s), %s", FLAGS.strategy, strategy.num_replicas_in_sync,
                 "chief" if chief else "worker")
    return strategy, chief


def run_directory(chief) -> Path:
    """--resume, --run_dir (made by the chief) or a new numbered folder under --run_root."""
    if FLAGS.resume:
        run_dir = Path(FLAGS.resume)
    elif FLAGS.run_dir:
        run_dir = Path(FLAGS.run_dir)
        if chief:
            run_dir.mkdir(parents=True, exist_ok=True)
    elif FLAGS.strategy == "multiworker":
        raise UserError("--strategy multiworker needs --run_dir (the same on every worker)")
    else:
        from idd_tf.utils.fileio import new_run_dir
        run_dir = new_run_dir(Path(FLAGS.run_root), FLAGS.preset)
    logging.info("run directory: %s", run_dir)
    return run_dir


def load_generator(config, strategy, run_dir, chief):
    """The StyleGAN: config.stylegan_weights, or a random one saved into RUN/stylegan (which the
    config then names). Returns (G, config with its stylegan fields)."""
    from idd_tf.stylegan import legacy
    from idd_tf.stylegan import networks as stylegan
    with strategy.scope():
        if config.stylegan_weights:
            G = legacy.load_stylegan(config.stylegan_weights)
        else:
            G = stylegan.random_stylegan(config.stylegan, seed=config.seed)
    if not config.stylegan_weights:
        saved = run_dir / "stylegan"
        if chief and not saved.exists():
            legacy.save_converted({"config": G.config, "Gs": G}, saved, source="random_stylegan")
        config = config.replace(stylegan_weights=str(saved))
    return G, config.replace(stylegan=G.config.to_dict())


def complete_config(config, run_dir, chief):
    """Dataset folders filled in (RUN/dataset, <dataset>-val); RUN/config.json written by the chief
    when new (or changed by --set on --resume)."""
    from idd_tf.utils import fileio
    if config.dataset is None:
        config = config.replace(dataset=str(run_dir / "dataset"))
    if config.validate_every and config.validation_dataset is None:
        config = config.replace(validation_dataset=str(config.dataset).rstrip("/") + "-val")
    if chief and (not (run_dir / "config.json").exists() or (FLAGS.resume and FLAGS.set)):
        fileio.atomic_write_bytes(run_dir / "config.json", (json.dumps(config.to_dict(), indent=2) + "\n").encode())
    return config


def check_existing_datasets(config, G):
    """Before any work: a finished dataset (or held-out set) there must come from this G."""
    from idd_tf.method import data
    for existing in (config.dataset, config.validation_dataset if config.validate_every else None):
        if existing and (Path(existing) / data.MANIFEST).exists():
            try:
                meta = data.read_manifest(existing)
            except (ValueError, OSError) as e:
                raise UserError(e) from e
            if (meta["resolution"], meta["dlatent_size"]) != (G.resolution, G.dlatent_size):
                raise UserError(f"dataset {existing} was made by another StyleGAN: {meta['resolution']}px, w "
                                f"{meta['dlatent_size']}-d; this StyleGAN is {G.resolution}px, w {G.dlatent_size}-d "
                                f"(use another --dataset)")


def prepare_data(config, G, chief):
    """Generate what is missing (the chief the dataset, every worker the small held-out set).
    Returns (dataset_fn, validation data or None, preview pairs)."""
    import tensorflow as tf

    from idd_tf.method import data, trainer
    if not (Path(config.dataset) / data.MANIFEST).exists():
        if not chief:
            raise UserError(f"dataset {config.dataset} is not complete: generate it first "
                            f"(scripts/generate_dataset.py with --num_shards/--shard_index on several workers)")
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
    return dataset_fn, validation_data, preview


def train(tr, mon, config, run_dir):
    """Restore the latest readable checkpoint and train to config.steps: run()'s result. A corrupt
    record or a divergence ends the tool with what to do next (exit 1 and 2)."""
    import tensorflow as tf
    try:
        start = tr.restore()
    except RuntimeError as e:
        raise UserError(e) from e
    for path, reason in tr.restored["skipped"]:
        logging.warning("skipped unreadable checkpoint %s (%s); resuming from %s", path, reason,
                        tr.restored["path"])
    if start:
        logging.info("resumed at step %d", start)
    try:
        return tr.run(config.steps)
    except tf.errors.DataLossError as e:   # a shard whose records fail their checksums
        mon.close()
        raise UserError(f"corrupt dataset record ({e.message.splitlines()[0]}). Delete the shard it names from "
                        f"{config.dataset} and rerun the dataset generation (scripts/generate_dataset.py "
                        f"resumes), then --resume {run_dir}") from e
    except FloatingPointError as e:
        mon.close()
        raise cli.Diverged(f"{e}\nNothing of the diverged step was saved. Continue from the last good "
                           f"checkpoint, e.g. with lower learning rates: python scripts/train.py --resume {run_dir} "
                           f"--set optim.lr_nonadv=... --set optim.lr_adv=... --set optim.lr_disc=...") from e


def config_line(config, run_dir) -> str:
    """The resolved config in one line (the whole of it is RUN/config.json and --dry_run's output)."""
    parts = [f"{FLAGS.preset if not FLAGS.resume else 'resumed'}: {config.steps} steps of batch {config.batch_size}",
             f"StyleGAN {config.stylegan_weights or 'random'} ({config.stylegan.resolution} px)",
             f"E_id {config.id_encoder.arch}, E_attr {config.attr_encoder.arch}, E_lnd {config.landmarks.arch}"]
    return f"config {'; '.join(parts)}; all of it in {run_dir / 'config.json'}"


def app_main(argv):
    del argv
    config = resolve_config()
    refuse_missing_files(config)  # before any work: no run directory, no dataset
    if FLAGS.dry_run:   # the whole resolved config, then the checks
        print(json.dumps(config.to_dict(), indent=2))
        return dry_run(config)

    import keras
    import tensorflow as tf

    from idd_tf.method import model, trainer
    from idd_tf.utils import monitor

    strategy, chief = make_strategy()
    if config.batch_size % strategy.num_replicas_in_sync:
        raise UserError(f"batch_size {config.batch_size} is not divisible by {strategy.num_replicas_in_sync} "
                        f"replicas")
    run_dir = run_directory(chief)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    G, config = load_generator(config, strategy, run_dir, chief)
    config = complete_config(config, run_dir, chief)
    check_existing_datasets(config, G)
    if chief:
        print(config_line(config, run_dir), flush=True)
    dataset_fn, validation_data, preview = prepare_data(config, G, chief)
    keras.utils.set_random_seed(config.seed)  # random-init parts are identical when resuming
    with strategy.scope():
        net = model.IDDModel(config, G)
    mon = monitor.Monitor(run_dir, enabled=chief)
    tr = trainer.Trainer(net, dataset_fn, config, run_dir, mon, preview, strategy, validation_data)
    result = train(tr, mon, config, run_dir)
    if not chief:
        print(f"worker done: step {result['step']}")
        return
    grid = result["preview"] or tr.write_preview(result["step"])  # run() wrote the last step's
    mon.close()
    print(f"done: step {result['step']} {console.elapsed()}; checkpoint {result['checkpoint']}, grid {grid}, "
          f"curves {run_dir / 'plots' / 'curves.png'}")
    if config.eval_pairs and config.id_encoder.arch == "toy":
        evaluate_toy_run(net, G, config, run_dir, result["checkpoint"])
    print(f"tensorboard --logdir {run_dir / 'logs'}")


def main(argv=None):
    """`idd-train` and `python scripts/train.py`."""
    cli.run(app_main, define_flags, argv)


if __name__ == "__main__":
    main()
