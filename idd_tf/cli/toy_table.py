"""The toy world's results table: the method, its ablations (same budget) and the baselines.

    python scripts/toy_table.py --steps 3000 --out runs/toy_table            # all variants (resumable)
    python scripts/toy_table.py --steps 300 --variants full,no_lnd --num_pairs 100 --out /tmp/t
    python scripts/toy_table.py --steps 1000 --bound --out runs/levers \
        --variants full,psi_1,augment,id_robust,lnd_robust,attr_pretrained,all3   # issue 28's levers (PARTS first)

Each variant is `scripts/train.py --preset toy` with one change (`--set`), trained for the same
--steps on one shared generated dataset (OUT/dataset), in OUT/<variant>/; a rerun continues
unfinished runs and skips finished ones (an existing table is replaced only with --overwrite). Every
run is then scored by the toy protocol
(`idd_tf.toy_protocol`: the independent evaluator, generated and rendered pairs, the same pairs
for every variant); the copy and style-mixing baselines come with the full method's evaluation.
Writes OUT/table.json, OUT/table.md and each run's RUN/eval/ (eval.json, eval.md, grids).
"""

import json
import subprocess
import sys
import time
from pathlib import Path

from absl import flags

import idd_tf.cli as cli
from idd_tf.utils.errors import UserError

# The paper's ablations (Sec. 5 / supplementary): each one `--set` away from the full method.
VARIANTS = {
    "full": [],
    "no_lnd": ["loss.lnd=0"],              # no landmark loss
    "no_adv": ["loss.adv=0"],              # no L_adv: D_W trains but M never sees its gradient
    "no_rec": ["loss.rec=0"],              # no reconstruction loss
    "w_plus": ["mapping.w_plus=true"],     # one w per synthesis layer instead of one shared w
    "cross_1": ["cross_every=1"],          # I_id != I_attr on every step (L_rec never active)
    "cross_2": ["cross_every=2"],
    "cross_6": ["cross_every=6"],          # full = 3 (the official --cross_frequency)
    # Issue 28's levers for rendered pairs (the photo analog), docs/toy_world.md#rendered-pairs-what-closes-the-gap.
    "psi_1": ["truncation_psi=1.0"],       # untruncated training data: the whole range the GAN covers
    "data_20k": ["dataset_size=20000"],    # 4x the generated images
    "augment": ["augment=true"],           # the encoders' inputs degraded in training (method/augment.py)
    # Frozen / pretrained parts from --parts (built by the commands in PARTS):
    "id_robust": ["id_encoder.weights={parts}/toy_id.weights.h5"],         # E_id trained on degraded renders
    "lnd_robust": ["landmarks.weights={parts}/toy_lnd.weights.h5"],        # E_lnd trained on degraded renders
    "attr_pretrained": ["attr_encoder.weights={parts}/toy_attr.weights.h5"],   # E_attr pretrained on renders
    "all3": ["id_encoder.weights={parts}/toy_id.weights.h5", "landmarks.weights={parts}/toy_lnd.weights.h5",
             "attr_encoder.weights={parts}/toy_attr.weights.h5"],
}
# How to build the files of --parts (PARTS) that the variants above name.
PARTS = {
    "toy_id.weights.h5": "python scripts/train_toy_nets.py --net id --augment --out {parts} --work_dir {parts}/work",
    "toy_lnd.weights.h5": "python scripts/train_toy_nets.py --net lnd --augment --out {parts} --work_dir {parts}/work",
    "toy_attr.weights.h5": "python scripts/pretrain_toy_attr.py --out {parts}"}
ABLATIONS = ["full", "no_lnd", "no_adv", "no_rec", "w_plus", "cross_1", "cross_2", "cross_6"]   # the default
# Settings that change the generated data: such a variant gets its own dataset folder.
DATA_FIELDS = ("truncation_psi", "truncation_cutoff", "dataset_size", "seed")

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("out", "runs/toy_table", "folder of the runs and the table")
    flags.DEFINE_integer("steps", 3000, "training steps of every variant (the same budget)")
    flags.DEFINE_list("variants", ABLATIONS, f"which of {', '.join(VARIANTS)} (default: the paper's ablations)")
    flags.DEFINE_integer("num_pairs", 500, "pairs per source in the evaluation")
    flags.DEFINE_integer("seed", 0, "evaluation pairs")
    flags.DEFINE_string("parts", "runs/toy_parts", "folder of the parts the id_robust, lnd_robust, "
                        "attr_pretrained and all3 variants load (how to build them: toy_table.PARTS)")
    flags.DEFINE_multi_string("set", [], "a config change applied to every variant (e.g. batch_size=8)")
    flags.DEFINE_bool("bound", False, "also score the ideal renders projected into the toy StyleGAN (W, W+, and W "
                      "near its samples): what any encoder into it could reach, and one that outputs ws like "
                      "those it was trained on (with the first variant's evaluation; minutes)")
    flags.DEFINE_bool("overwrite", False, "replace an earlier table (training always continues where it stopped)")


def train(run_dir: Path, variant: str, dataset: Path) -> None:
    """Train (or continue) one variant to FLAGS.steps in a subprocess: the real train.py."""
    script = "idd_tf.cli.train"   # scripts/train.py
    if (run_dir / "config.json").exists():
        cmd = [script, "--resume", run_dir, "--steps", FLAGS.steps]
    else:
        # eval_pairs=0: the table scores every variant itself, on FLAGS.num_pairs pairs
        sets = [f"dataset={dataset}", f"validation_dataset={dataset}-val", "eval_pairs=0", *FLAGS.set,
                *variant_sets(variant)]
        cmd = [script, "--preset", "toy", "--run_dir", run_dir, "--steps", FLAGS.steps,
               *[a for s in sets for a in ("--set", s)]]
    print(f"[{variant}] train.py {' '.join(map(str, cmd[1:]))}", flush=True)
    proc = subprocess.run([sys.executable, "-m", *map(str, cmd)])
    if proc.returncode:
        raise RuntimeError(f"training {variant} failed (exit {proc.returncode}); rerun to continue")


def variant_sets(variant: str) -> list[str]:
    """The variant's `--set`s, its parts' paths filled in; a missing part is a UserError naming the
    command that builds it."""
    sets = [v.format(parts=FLAGS.parts) for v in VARIANTS[variant]]
    for v in sets:
        path = Path(v.split("=", 1)[1])
        if path.name in PARTS and not path.is_file():
            build = PARTS[path.name].format(parts=FLAGS.parts)
            raise UserError(f"variant {variant} needs {path}; build it with: {build}")
    return sets


def finished(run_dir: Path) -> bool:
    import tensorflow as tf
    ckpt = tf.train.latest_checkpoint(str(run_dir / "checkpoints"))
    return bool(ckpt) and int(ckpt.rsplit("-", 1)[1]) >= FLAGS.steps


def app_main(argv):
    del argv
    unknown = [v for v in FLAGS.variants if v not in VARIANTS]
    if unknown:
        raise UserError(f"unknown variant(s) {unknown}; choose from {', '.join(VARIANTS)}")
    from idd_tf.method import model, presets
    from idd_tf.toy import nets as toynets
    from idd_tf.toy import protocol as toy_protocol
    from idd_tf.utils import fileio
    out = Path(FLAGS.out)
    fileio.check_output(out / "table.md", FLAGS.overwrite)
    for variant in FLAGS.variants:   # before any work: every part the variants need is there
        if not finished(out / variant):
            variant_sets(variant)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for variant in FLAGS.variants:
        own_data = any(v.split("=")[0] in DATA_FIELDS for v in VARIANTS[variant])
        if not finished(out / variant):
            try:
                train(out / variant, variant, out / (f"dataset-{variant}" if own_data else "dataset"))
            except RuntimeError as e:
                raise UserError(e) from e
    evaluator = toynets.load_net(presets.TOY_WEIGHTS_DIR, "evaluator")
    toy = presets.TRAIN_PRESETS["toy"]   # every variant scored on the same generated pairs
    results = {}
    for variant in FLAGS.variants:
        run = model.load_run(out / variant)
        print(f"[{variant}] evaluating {run['checkpoint']} on {FLAGS.num_pairs} pairs per source", flush=True)
        written = toy_protocol.write_evaluation(
            run["model"], run["stylegan"], evaluator, out / variant / "eval", n=FLAGS.num_pairs,
            seed=FLAGS.seed, psi=toy.truncation_psi, cutoff=toy.truncation_cutoff, mixing=variant == "full",
            bound=FLAGS.bound and variant == FLAGS.variants[0],
            title=f"Toy-world evaluation of {variant} ({Path(run['checkpoint']).name})",
            header={"run": str(out / variant), "checkpoint": run["checkpoint"]})
        results[variant] = written["result"]
    md = toy_protocol.table_markdown(
        results, FLAGS.steps, f"python scripts/toy_table.py --steps {FLAGS.steps} --num_pairs {FLAGS.num_pairs}")
    fileio.atomic_write_bytes(out / "table.json", (json.dumps(results, indent=2) + "\n").encode())
    fileio.atomic_write_bytes(out / "table.md", md.encode())
    print(md, end="")
    print(f"wrote {out}/table.md and table.json in {time.perf_counter() - start:.0f} s")


def main(argv=None):
    """`idd-toy-table` and `python scripts/toy_table.py`."""
    cli.run(app_main, define_flags, argv)


if __name__ == "__main__":
    main()
