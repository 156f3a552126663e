"""Rebuild every shipped part of the toy world from nothing (resumable).

    python scripts/build_toy_world.py                      # the real thing: hours on 2 CPU cores
    python scripts/build_toy_world.py --quick --out /tmp/toy --work /tmp/toy_work   # minutes (tests)

Steps, each skipped when its output exists and resumed from its checkpoint when interrupted:
1. toy E_id and toy E_lnd, trained on renders degraded as photos vary (`scripts/train_toy_nets.py
   --augment`), the independent evaluator, trained on clean renders, and E_attr's backbone,
   pretrained on renders as an autoencoder (`scripts/pretrain_toy_attr.py`), the toy analog of
   ImageNet pretraining (docs/toy_world.md#rendered-pairs-what-closes-the-gap);
2. the toy StyleGAN, trained on renders by idd_tf's TF2 StyleGAN trainer
   (`scripts/train_stylegan.py --preset toy`, 400 kimg, run directory `<work>/stylegan`), then
   trained on from that pickle for `--stylegan_more_kimg` kimg at R1 gamma 1 (`--init`: a fresh Adam
   state; run directory `<work>/stylegan_more`), which brought its samples closer to the renders
   (docs/toy_world.md#rendered-pairs-what-closes-the-gap);
3. its NVIDIA-format pickle copied to `<out>/stylegan_toy.pkl`, a fixed-seed sample grid, its
   quality in the evaluator's terms (FID/KID vs renders with the render-vs-render floor, factor
   coverage with histograms) and `MODEL_CARD_stylegan.md`;
4. the method itself (full builds only, not --quick): `scripts/train.py --preset toy --steps
   --run_steps` on those parts (E_attr started from step 1's backbone; run directory
   `<work>/method`), scored by `scripts/evaluate.py` (500 pairs), and shipped as `<out>/run`:
   config.json, E_attr / M / D_W weights only (no optimizer state), the evaluation (eval.json,
   eval.md, pictures) and `MODEL_CARD.md`. The demo, the notebook and `--run
   stylegan_weights/toy/run` use it.

After a new evaluator, `--quality_only` measures step 3's StyleGAN again (its card's quality section
and stylegan_quality.json) without training anything, `--rescore_run` scores step 4's shipped run
again (its eval/ and its card's evaluation section), and `scripts/train_toy_nets.py --evaluate_only`
does the same for the three nets' cards.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from absl import flags, logging

import idd_tf.cli as cli
from idd_tf.toy import cards
from idd_tf.utils.errors import UserError

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("out", "stylegan_weights/toy", "where the shipped parts go")
    flags.DEFINE_string("work", "toy_build", "checkpoints and run directories (resumable)")
    flags.DEFINE_bool("quick", False, "minutes-long smoke version (tiny networks, few steps)")
    flags.DEFINE_integer("quality_samples", None, "samples for FID/KID/coverage (default 5000; quick 200)")
    flags.DEFINE_bool("overwrite", False, "replace existing shipped files")
    flags.DEFINE_bool("quality_only", False, "no training: measure the built StyleGAN in --out again with the "
                      "evaluator there (after a new evaluator) and replace its card's quality section")
    flags.DEFINE_bool("rescore_run", False, "no training: score the shipped run in --out again with the evaluator "
                      "there (--run_eval_pairs pairs) and replace its eval/ and its card's evaluation section")
    flags.DEFINE_multi_string("stylegan_set", [], "--set options passed to train_stylegan.py (its first run)")
    flags.DEFINE_float("stylegan_more_kimg", None, "kimg the StyleGAN trains on from its first run's pickle, at R1 "
                       f"gamma 1 (default {MORE_KIMG:g}; --quick: 0; 0 ships the first run's pickle)", lower_bound=0)
    flags.DEFINE_integer("run_steps", 3000, "training steps of the shipped toy run (step 4)")
    flags.DEFINE_multi_string("run_set", [], "--set options passed to train.py for the shipped run (step 4)")
    flags.DEFINE_integer("run_eval_pairs", 500, "pairs per source of the shipped run's evaluation (step 4)")


ROOT = Path(__file__).resolve().parents[2]   # the checkout: cwd and PYTHONPATH of the steps
MORE_KIMG = 384   # the shipped StyleGAN's second run (docs/toy_world.md#rendered-pairs-what-closes-the-gap)
MORE_SET = ["r1_gamma=1.0", "r1_late_kimg=0"]   # the toy preset's late R1 gamma, from the start
PICKLE = "stylegan_toy.pkl"
STYLEGAN_CARD = "MODEL_CARD_stylegan.md"


def _run(tool, args):
    """One step: the tool idd_tf.cli.<tool> (scripts/<tool>.py) in a new process; its failure ends
    this build with its exit status."""
    cmd = [sys.executable, "-m", f"idd_tf.cli.{tool}", *map(str, args)]
    logging.info("running: %s", " ".join(cmd[2:]))
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(cmd, cwd=ROOT, env=env)
    if proc.returncode != 0:
        raise cli.Failed(f"{cmd[2]} failed (exit {proc.returncode}); rerun this command to resume", proc.returncode)


def app_main(argv):
    del argv
    out, work = Path(FLAGS.out).resolve(), Path(FLAGS.work).resolve()
    out.mkdir(parents=True, exist_ok=True)
    quick = ["--quick"] if FLAGS.quick else []
    t0 = time.perf_counter()
    if FLAGS.quality_only:
        try:
            q = remeasure_quality(out, FLAGS.quality_samples or (200 if FLAGS.quick else 5000))["quality"]
        except ValueError as e:
            raise UserError(e) from e
        print(f"{out / STYLEGAN_CARD}: FID {q['fid']:.2f} (floor {q['fid_floor']:.2f}), KID x 1000 "
              f"{q['kid']['mean'] * 1000:.1f}, coverage {q['coverage']['mean_continuous']:.3f} / "
              f"{q['coverage']['mean_discrete']:.3f} ({time.perf_counter() - t0:.0f} s)")
        return
    if FLAGS.rescore_run:
        try:
            result = rescore_run(out, FLAGS.run_eval_pairs)
        except ValueError as e:
            raise UserError(e) from e
        print(f"{out / 'run' / 'MODEL_CARD.md'}: {result['n']} pairs per source scored again "
              f"({time.perf_counter() - t0:.0f} s)")
        return

    from idd_tf.toy import nets as toynets
    for net in toynets.NETS:
        # complete when its model card (written last) exists; otherwise resumed from its checkpoint,
        # replacing the partial outputs of an interrupted build
        if FLAGS.overwrite or not (out / toynets.file_names(net)["card"]).exists():
            _run("train_toy_nets", ["--net", net, "--out", out, *AUGMENT.get(net, []),
                  "--work_dir", work / "nets", *quick, "--overwrite", "--card_command", nets_command(net)])
    from idd_tf.toy import attr_pretraining
    if FLAGS.overwrite or not (out / attr_pretraining.CARD_FILE).exists():   # the card is written last
        _run("pretrain_toy_attr", ["--out", out, "--work", work / "attr", *(["--steps", 20] if FLAGS.quick else []),
              "--overwrite", "--card_command", attr_command()])

    more = more_kimg()
    runs = stylegan_runs(work, more)
    run_dirs = [work / name for name, _ in runs]
    for run_dir, (_, args) in zip(run_dirs, runs):
        if not (run_dir / "network-final.pkl").exists() or FLAGS.overwrite:
            _run("train_stylegan", args)
    final = run_dirs[-1] / "network-final.pkl"
    target, card = out / PICKLE, out / STYLEGAN_CARD
    if target.exists() and card.exists() and not FLAGS.overwrite:  # the card is written last
        logging.info("%s exists with its model card (pass --overwrite to replace them)", target)
    else:
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(final, tmp)
        os.replace(tmp, target)
        command = ["python scripts/build_toy_world.py", *quick,
                   *(f"--stylegan_set {s}" for s in FLAGS.stylegan_set),
                   *([f"--stylegan_more_kimg {more:g}"] if FLAGS.stylegan_more_kimg is not None else [])]
        shown = [" ".join(["python scripts/train_stylegan.py", *args]) for _, args in stylegan_runs("<work>", more)]
        stylegan_card(target, run_dirs, out, FLAGS.quality_samples or (200 if FLAGS.quick else 5000),
                      " ".join(command), shown)
    if not FLAGS.quick:
        ship_run(out, work / "method", FLAGS.run_steps)
    print(f"toy world in {out} ({time.perf_counter() - t0:.0f} s this session)")


def set_args(sets) -> list[str]:
    """`--set` options as a tool's arguments: ["--set", s, ...]."""
    return [a for s in sets for a in ("--set", s)]


def stylegan_runs(work, more: float) -> list[tuple[str, list]]:
    """The StyleGAN's training runs in order, (folder under `work`, train_stylegan.py arguments): the
    first from scratch (with --stylegan_set), then `more` kimg from its pickle (none if 0)."""
    preset = "quick" if FLAGS.quick else "toy"
    runs = [("stylegan", ["--preset", preset, "--run_dir", f"{work}/stylegan", *set_args(FLAGS.stylegan_set)])]
    if more:
        runs.append(("stylegan_more", ["--preset", preset, "--run_dir", f"{work}/stylegan_more", "--init",
                                       f"{work}/stylegan/network-final.pkl", "--kimg", f"{more:g}",
                                       *set_args(MORE_SET)]))
    return runs


def more_kimg() -> float:
    """The kimg of the StyleGAN's second run (0: none)."""
    if FLAGS.stylegan_more_kimg is not None:
        return FLAGS.stylegan_more_kimg
    return 0 if FLAGS.quick else MORE_KIMG


def shown_path(flag_value: str, placeholder: str) -> str:
    """A path flag as a card shows it: as given when relative (the same on every machine), else
    `placeholder` (another machine's folders say nothing to a reader)."""
    return flag_value if not Path(flag_value).is_absolute() else placeholder


# E_id and E_lnd see renders degraded as photos vary; the evaluator, which scores, clean renders
AUGMENT = {"id": ["--augment"], "lnd": ["--augment"]}


def step1_command(tool_args: str) -> str:
    """The command a step-1 part's card names: this build and the step's own command line
    (`tool_args`, with {out}, {work} and {quick} filled in), without this machine's paths."""
    quick = " --quick" if FLAGS.quick else ""
    out, work = shown_path(FLAGS.out, "<out>"), shown_path(FLAGS.work, "<work>")
    return (f"python scripts/build_toy_world.py --out {out} --work {work}{quick} (its step 1: "
            f"{tool_args.format(out=out, work=work, quick=quick)})")


def nets_command(net: str) -> str:
    """The command a toy net's card names."""
    augment = "".join(f" {a}" for a in AUGMENT.get(net, []))
    return step1_command(f"scripts/train_toy_nets.py --net {net}{augment} --out {{out}} --work_dir {{work}}/nets"
                         "{quick} --overwrite")


def attr_command() -> str:
    """The command the pretrained E_attr backbone's card names."""
    steps = " --steps 20" if FLAGS.quick else ""
    return step1_command(f"scripts/pretrain_toy_attr.py --out {{out}} --work {{work}}/attr{steps} --overwrite")


def ship_run(out: Path, method_dir: Path, steps: int) -> None:
    """Step 4: train the method on the shipped parts, evaluate it, copy the small result to
    <out>/run (its card is written last: a run with a card is complete)."""
    from idd_tf.toy import attr_pretraining
    from idd_tf.toy import nets as toynets
    shipped = out / "run"
    if (shipped / "MODEL_CARD.md").exists() and not FLAGS.overwrite:
        logging.info("%s exists with its model card (pass --overwrite to replace it)", shipped)
        return
    train = ["--preset", "toy", "--steps", steps,
             *set_args(FLAGS.run_set)]
    if (method_dir / "config.json").exists():
        _run("train", train + ["--resume", method_dir])
    else:  # the parts of this build (`out`), not whatever the preset names
        _run("train", train + ["--set", "eval_pairs=0",   # evaluated below, on --run_eval_pairs pairs
                      "--run_dir", method_dir, "--stylegan", out / PICKLE,
                      "--vggface2", out / toynets.file_names("id")["weights"],
                      "--landmarks", out / toynets.file_names("lnd")["weights"],
                      "--set", f"attr_encoder.weights={out / attr_pretraining.WEIGHTS_FILE}"])
    _run("evaluate", ["--run", method_dir, "--num_pairs", FLAGS.run_eval_pairs,
          "--out", method_dir / "eval", "--overwrite", "--run_name", shipped_name(shipped)])
    import tensorflow as tf

    from idd_tf.method import model
    from idd_tf.method.trainer import model_parts
    from idd_tf.utils import fileio
    run = model.load_run(method_dir)
    tmp = out / ".run.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    shutil.copyfile(method_dir / "config.json", tmp / "config.json")
    step = int(Path(run["checkpoint"]).name.split("-")[-1])
    tf.train.CheckpointManager(tf.train.Checkpoint(**model_parts(run["model"])), str(tmp / "checkpoints"),
                               max_to_keep=1).save(checkpoint_number=step)
    shutil.copytree(method_dir / "eval", tmp / "eval")
    texts = renamed_evaluation(method_dir / "eval", tmp / "eval", method_dir, shipped)
    evaluation, result = texts["eval.md"], json.loads(texts["eval.json"])
    timing = json.loads((method_dir / "timing.json").read_text()) if (method_dir / "timing.json").exists() else {}
    size = sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file())
    card = cards.run_card(step, steps, FLAGS.run_set, run["config"].batch_size, timing, size, evaluation,
                          result["n"], run["config"].attr_encoder.weights)
    fileio.atomic_write_bytes(tmp / "MODEL_CARD.md", card.encode())
    replace_dir(tmp, shipped)
    logging.info("shipped %s (%.1f MB)", shipped, size / 1e6)


def shipped_name(shipped: Path) -> str:
    """How the shipped run is named in its evaluation: <parent>/<out>/run, as the README links it
    (evaluate.py --run_name; its folder on the building machine says nothing to a reader)."""
    return f"{shipped.parent.parent.name}/{shipped.parent.name}/{shipped.name}"


def renamed_evaluation(src, dst, run_dir, shipped):
    """eval.md / eval.json from `src` written to `dst` with the run named as shipped: paths under
    the folder it was scored in (`run_dir`, e.g. its checkpoint's) become `shipped_name`. Returns
    the two texts."""
    from idd_tf.utils import fileio
    name = shipped_name(shipped)
    texts = {f: (src / f).read_text().replace(str(run_dir), name) for f in ("eval.md", "eval.json")}
    for f, text in texts.items():
        fileio.atomic_write_bytes(dst / f, text.encode())
    return texts


def replace_dir(tmp, dest):
    """Put the finished folder `tmp` at `dest`; an existing `dest` is moved aside first and removed
    only once `tmp` is in place."""
    old = dest.with_name(f".{dest.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        os.replace(dest, old)
    os.replace(tmp, dest)
    shutil.rmtree(old, ignore_errors=True)


def rescore_run(out: Path, pairs: int) -> dict:
    """--rescore_run: evaluate the shipped run in `out`/run again (evaluate.py, `pairs` pairs per
    source, the evaluator in `out`), replace its eval/ and its card's evaluation section; the rest of
    the card (how it was made) is kept. Returns the new eval.json."""
    from idd_tf.utils import fileio
    shipped = out / "run"
    card_file = shipped / "MODEL_CARD.md"
    if not card_file.is_file():
        raise FileNotFoundError(f"--rescore_run needs the shipped run in {shipped}: {card_file} is missing")
    head = cards.card_before(card_file, "## Evaluation (")
    tmp = shipped / ".eval.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    _run("evaluate", ["--run", shipped, "--num_pairs", pairs, "--out", tmp,
          "--evaluator", out, "--overwrite", "--run_name", shipped_name(shipped)])
    texts = renamed_evaluation(tmp, tmp, shipped, shipped)
    replace_dir(tmp, shipped / "eval")
    result = json.loads(texts["eval.json"])
    fileio.atomic_write_bytes(card_file, (head + cards.evaluation_section(texts["eval.md"], result["n"])).encode())
    return result


def stylegan_card(pickle_path, run_dirs, out, n, command, run_commands):
    """The shipped StyleGAN's samples, quality report and card; `run_dirs`: its training runs in
    order (the first from scratch, a second one from the first one's pickle), `run_commands` their
    command lines as the card shows them."""
    from idd_tf.stylegan import legacy
    from idd_tf.stylegan import training as gan_training
    from idd_tf.stylegan.config import GANTrainConfig
    from idd_tf.utils import fileio
    runs = [run_record(d) for d in run_dirs]
    config = GANTrainConfig.from_dict(runs[0]["config"])
    Gs = legacy.load_stylegan(pickle_path)
    grid = gan_training.sample_grid(Gs, gan_training.sample_latents(config), config.sample_grid)
    fileio.save_image(out / "stylegan_samples.png", grid)
    q = measure_quality(Gs, out, n)
    report = {"pickle": pickle_path.name, "bytes": pickle_path.stat().st_size, "config": runs[-1]["config"],
              "steps": sum(r["step"] for r in runs), "images_seen": sum(r["nimg"] for r in runs),
              "train_seconds": sum(r["seconds"] for r in runs), "runs": runs, "quality": q}
    fileio.atomic_write_bytes(out / "stylegan_quality.json", (json.dumps(report, indent=2) + "\n").encode())
    card = cards.stylegan_card(pickle_path, runs, q, n, command, run_commands)
    fileio.atomic_write_bytes(out / STYLEGAN_CARD, card.encode())
    return report


def run_record(run_dir) -> dict:
    """What made a StyleGAN run's network-final.pkl: {"step", "nimg", "seconds", "config"}."""
    final_info = run_dir / "network-final.json"   # written with network-final.pkl by train_stylegan.py
    if final_info.is_file():
        return json.loads(final_info.read_text())
    # a run from before network-final.json: right only if it was not resumed since
    logging.warning("%s missing: taking steps and time from timing.json", final_info)
    timing = json.loads((run_dir / "timing.json").read_text())
    return {**timing, "config": json.loads((run_dir / "config.json").read_text())}


def measure_quality(Gs, out, n):
    """FID/KID/coverage of `Gs` against renders in the terms of the evaluator in `out`; writes
    out/stylegan_coverage.png. Returns toy_evaluation.stylegan_quality's dict."""
    from idd_tf.toy import evaluation as toy_evaluation
    from idd_tf.toy import nets as toynets
    evaluator = toynets.load_net(out, "evaluator")

    def features(images_u8):  # the evaluator's penultimate layer, as toy_protocol's FID uses it
        return toy_evaluation.evaluator_outputs(evaluator, images_u8)["features"]

    q = toy_evaluation.stylegan_quality(Gs, features, lambda u8: evaluator.predict_factors(toynets.to_float(u8)), n=n)
    toy_evaluation.coverage_plot(q.pop("_predicted"), q.pop("_prior"), out / "stylegan_coverage.png",
                                 f"factor coverage: evaluator on {n} StyleGAN samples vs the renderer prior")
    return q


def remeasure_quality(out, n):
    """--quality_only: measure the shipped StyleGAN again with the evaluator in `out` (after a new
    evaluator) and replace the quality numbers of its report and the card's quality section; the
    rest of the card (how it was made) is kept as it is."""
    from idd_tf.stylegan import legacy
    from idd_tf.utils import fileio
    card_file, report_file = out / STYLEGAN_CARD, out / "stylegan_quality.json"
    for f in (out / PICKLE, card_file, report_file):
        if not f.is_file():
            raise FileNotFoundError(f"--quality_only needs the built StyleGAN in {out}: {f} is missing")
    head = cards.card_before(card_file, "## Quality (")
    q = measure_quality(legacy.load_stylegan(out / PICKLE), out, n)
    report = {**json.loads(report_file.read_text()), "quality": q}
    fileio.atomic_write_bytes(report_file, (json.dumps(report, indent=2) + "\n").encode())
    fileio.atomic_write_bytes(card_file, (head + cards.quality_section(q, n)).encode())
    return report


def main(argv=None):
    """`idd-build-toy-world` and `python scripts/build_toy_world.py`."""
    cli.run(app_main, define_flags, argv)


if __name__ == "__main__":
    main()
