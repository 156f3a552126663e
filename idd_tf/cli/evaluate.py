"""The paper's Table 1 / Table 2 metrics on N random (identity, attribute) pairs: of the run's
generated dataset, or of real photos (--id_dir, --attr_dir; FFHQ-aligned with --align).

Toy-world runs (toy E_id; chosen automatically) are scored by the toy world's independent
evaluator instead, against copy-I_attr, copy-I_id and StyleGAN style-mixing baselines, on
generated and on rendered pairs (with the ideal render as ground truth): idd_tf.toy_protocol.

    python scripts/evaluate.py --run runs/00000-toy
        # -> RUN/eval/eval.json, eval.md, grid_*.png, interpolation.png, w_pca.png, best_worst.png

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
counted and listed. All logic: idd_tf.protocol.evaluate. Writes OUT/metrics.json and OUT/metrics.md.

Both modes also write OUT/best_worst.png: the --best_worst best and worst pairs by identity and
by landmarks, each as I_id | I_attr | I_out with its numbers (idd_tf.annotate; toy runs: the
generated pairs, scored by the evaluator).
"""

import json
from pathlib import Path

from absl import flags

import idd_tf.cli as cli
from idd_tf.cli import console
from idd_tf.utils.errors import UserError

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_bool("overwrite", False, "replace earlier outputs at the same place")
    flags.DEFINE_string("run", None, "training run directory (toy: the shipped toy run)", required=True)
    flags.DEFINE_string("run_name", None, "how eval.md, eval.json and best_worst.png name the run (default: --run as "
                        "given; build_toy_world.py names the shipped run as the README links it)")
    flags.DEFINE_string("checkpoint", None, "a specific checkpoint (default: latest)")
    flags.DEFINE_string("dataset", None, "generated dataset (default: the run's; not with --id_dir)")
    flags.DEFINE_string("id_dir", None, "folder of identity photos (real images instead of the dataset)")
    flags.DEFINE_string("attr_dir", None,
                        "folder of attribute photos (default: --id_dir, pairs of two different images)")
    flags.DEFINE_bool("align", False, "FFHQ-align the folder photos (MTCNN + dlib); without it they must be square")
    flags.DEFINE_integer("num_pairs", None, "number of random pairs (default 500 for toy runs, 100 otherwise)")
    flags.DEFINE_integer("seed", 0, "which pairs")
    flags.DEFINE_string("arcface", None, "ArcFace network (.keras/.h5 or SavedModel) for a second identity metric")
    flags.DEFINE_string("fid_weights", None, "InceptionV3 notop .h5 for FID (no download; FID skipped without)")
    flags.DEFINE_string("real_dir", None, "folder of real photos: FID's reference set (needs --fid_weights)")
    flags.DEFINE_string("out", None, "output folder (default: RUN/eval for toy runs, out/evaluate otherwise)")
    flags.DEFINE_string("evaluator", None, "toy runs: the independent evaluator's folder (default: the shipped one)")
    flags.DEFINE_bool("mixing", True, "toy runs: include the style-mixing baselines (every crossover)")
    flags.DEFINE_integer("best_worst", 4, "best_worst.png: this many best and worst pairs by identity and by "
                         "landmarks (0: no best_worst.png)", lower_bound=0)


def run_name() -> str:
    return FLAGS.run_name or str(FLAGS.run)


def is_toy_run(run_dir) -> bool:
    from idd_tf.method import config
    return config.TrainConfig.from_run_dir(run_dir).id_encoder.arch == "toy"


def real_best_worst(per_pair, items, title):
    """best_worst.png of protocol.evaluate's "_per_pair" (kept images of the extreme pairs),
    ranked by identity (ArcFace's with --arcface, the dlib one shown too) and by expression."""
    import numpy as np

    from idd_tf.method import annotate
    images, dlib_id = per_pair["images"], per_pair["identity"]
    arcface = Path(FLAGS.arcface).name if FLAGS.arcface else None
    extra = [f"dlib id {v:.3f}" if arcface and np.isfinite(v) else "" for v in dlib_id]
    resolution = next(iter(images.values()))[0].shape[0] if images else 64
    return annotate.best_worst_sheet(lambda i: images[i], per_pair["identity_arcface"] if arcface else dlib_id,
                                     per_pair["expression"], annotate.legend("face", arcface, no_face=False),
                                     resolution, FLAGS.best_worst, [f"id {a} + attr {b}" for a, b in items],
                                     title, extra)


def toy_main(out_dir):
    """The toy-world protocol: eval.json, eval.md, grid_generated.png, grid_rendered.png, best_worst.png."""
    from idd_tf.method import model, presets
    from idd_tf.toy import nets as toynets
    from idd_tf.toy import protocol as toy_protocol
    from idd_tf.utils import monitor
    run = model.load_run(FLAGS.run, FLAGS.checkpoint)
    cfg = run["config"]
    evaluator = toynets.load_net(FLAGS.evaluator or presets.TOY_WEIGHTS_DIR, "evaluator")
    n = FLAGS.num_pairs or 500
    title = f"Toy-world evaluation of {run_name()} ({Path(run['checkpoint']).name})"
    with monitor.stage_progress("toy evaluation") as progress:
        written = toy_protocol.write_evaluation(
            run["model"], run["stylegan"], evaluator, out_dir, n=n, seed=FLAGS.seed, psi=cfg.truncation_psi,
            cutoff=cfg.truncation_cutoff, mixing=FLAGS.mixing, best_worst_count=FLAGS.best_worst, title=title,
            header={"run": run_name(), "checkpoint": run["checkpoint"]}, progress=progress)
    print(written["markdown"], end="")
    print(f"wrote {out_dir}/{', '.join(written['files'])} {console.elapsed()}")


def app_main(argv):
    del argv
    from idd_tf.method import model, presets, protocol
    from idd_tf.utils import fileio
    try:
        if FLAGS.dataset and FLAGS.id_dir:
            raise ValueError("give --dataset or --id_dir, not both")
        toy = not FLAGS.id_dir and is_toy_run(FLAGS.run)
        if toy and (FLAGS.dataset or FLAGS.arcface or FLAGS.fid_weights or FLAGS.real_dir):
            raise ValueError("a toy-world run is scored by the toy evaluator on generated and rendered "
                             "pairs: --dataset, --arcface, --fid_weights and --real_dir do not apply")
        run_dir = presets.resolve_run_dir(FLAGS.run)
        # the shipped run keeps its own eval/ (a fresh one goes to out/evaluate_toy)
        shipped = run_dir.resolve() == presets.shipped_run_dir().resolve()
        default_out = ("out/evaluate_toy" if shipped else run_dir / "eval") if toy else "out/evaluate"
        out_dir = Path(FLAGS.out or default_out)
        fileio.check_output(out_dir, FLAGS.overwrite, is_dir=True)
        if toy:
            return toy_main(out_dir)
        protocol.check_evaluate_args(FLAGS.id_dir, FLAGS.attr_dir, FLAGS.align, FLAGS.fid_weights,
                                    FLAGS.real_dir)
        run = model.load_run(FLAGS.run, FLAGS.checkpoint)
        dataset = None if FLAGS.id_dir else (FLAGS.dataset or run["config"].dataset)
        result = protocol.evaluate(run["model"], FLAGS.num_pairs or 100, FLAGS.seed, dataset=dataset,
                                  id_dir=FLAGS.id_dir, attr_dir=FLAGS.attr_dir, align=FLAGS.align,
                                  arcface=FLAGS.arcface, fid_weights=FLAGS.fid_weights,
                                  real_dir=FLAGS.real_dir, keep_pairs=FLAGS.best_worst)
    except ValueError as e:   # StyleGANFormatError and ConfigError are UserErrors already
        raise UserError(e) from e
    per_pair = result.pop("_per_pair", None)
    result = {"run": run_name(), "checkpoint": run["checkpoint"], "seed": FLAGS.seed, **result}
    fileio.atomic_write_bytes(out_dir / "metrics.json", (json.dumps(result, indent=2) + "\n").encode())
    md = protocol.report_markdown(result)
    fileio.atomic_write_bytes(out_dir / "metrics.md", md.encode())
    if per_pair is not None:
        fileio.save_image(out_dir / "best_worst.png", real_best_worst(
            per_pair, result["pair_items"], f"{run_name()} ({Path(run['checkpoint']).name}): best and worst "
            f"of {result['pairs']} pairs"))
    print(md, end="")
    print(f"wrote {out_dir}/metrics.json, metrics.md{', best_worst.png' if per_pair is not None else ''} "
          f"{console.elapsed()}")


def main(argv=None):
    """`idd-evaluate` and `python scripts/evaluate.py`."""
    cli.run(app_main, define_flags, argv)


if __name__ == "__main__":
    main()
