"""Train the toy world's pretrained networks (toy E_id, toy E_lnd, the independent evaluator).

    python scripts/train_toy_nets.py --net all --out stylegan_weights/toy          # the shipped nets
    python scripts/train_toy_nets.py --net lnd --out /tmp/toy --quick              # minutes-long smoke run

Training images are rendered on the fly by `idd_tf.toyworld` in a background thread
(`toynet_training.RenderStream`); each net trains on its own seed's people (`toynets.SEEDS`) and is measured
on held-out people of another seed. Resumable: checkpoints (net, margin head, optimizer, step, wall
time, images seen) live under --work_dir/<net>; a rerun continues. Writes, per net, into --out:
toy_<net>.weights.h5, toy_<net>.json, toy_<net>_report.json (held-out numbers) and
MODEL_CARD_<net>.md. Existing outputs are not overwritten without --overwrite.
"""

import json
import sys
import time
from pathlib import Path

from absl import flags, logging

import idd_tf.cli as cli
from idd_tf.utils.errors import UserError

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_enum("net", "all", ["id", "lnd", "evaluator", "all"], "which net(s) to train")
    flags.DEFINE_string("out", "stylegan_weights/toy", "output directory")
    flags.DEFINE_string("work_dir", "runs/toy_nets", "checkpoints (resume) live in WORK_DIR/<net>")
    flags.DEFINE_bool("quick", False, "smoke version: tiny nets, few steps, tiny held-out sets")
    flags.DEFINE_bool("overwrite", False, "replace existing output files")
    flags.DEFINE_bool("evaluate_only", False, "no training: measure the nets already in --out again (today's "
                      "held-out sets) and rewrite their reports and cards (needs --overwrite)")
    flags.DEFINE_string("card_command", None, "the command the model card and report name (default: this "
                        "invocation; build_toy_world.py names its own step, without its machine's paths)")
    flags.DEFINE_integer("steps", None, "training steps (default: per net, see SETTINGS)")
    flags.DEFINE_bool("augment", None, "E_id / E_lnd: photo-like degradations of their training renders "
                      "(idd_tf/method/augment.py; default: SETTINGS)")
    flags.DEFINE_integer("checkpoint_every", 100, "steps between checkpoints")
    flags.DEFINE_integer("log_every", 50, "steps between progress lines")


# Per net: architecture (toynets constructor arguments), training and held-out set sizes.
SETTINGS = {
    "id": {"arch": {}, "steps": 1200, "batch": 64, "lr": 2e-3, "persons": 1000, "fresh": 16,
           "window": 4096, "margin": 0.25, "scale": 24.0, "augment": False},
    "lnd": {"arch": {}, "steps": 2400, "batch": 64, "lr": 2e-3, "persons": 1_000_000, "fresh": 16,
            "window": 4096, "augment": False},
    # The evaluator's factor heads see a million people (1000 gave R^2 < 0.9 on most identity
    # factors: they memorised 1000 values); its CosFace embedding trains on the half of the renders
    # drawn from 1000 labelled people. 40,000 steps (44 min on 2 cores). In world v1 the factors
    # under R^2 0.9 went from 9 at 8,000 steps to 5 at 24,000 and 3 at 40,000; arch stem_stride=1
    # (24,000 steps, 2,000 held-out renders) gave eye colour 0.872, brow thickness 0.741 against
    # stride 2's 0.858, 0.714, the rest within 0.01, at 1.45x the step time: no better per hour.
    # factor_weights: brow thickness and eye colour show in few pixels and were the last to learn
    # (0.75 / 0.88 at 40,000 steps in world v1, while 21 factors were over 0.94): their squared errors
    # count 3x in the continuous loss. World v2 with these weights: all 27 >= 0.9 (model card).
    "evaluator": {"arch": {"hidden": 384}, "steps": 40000, "batch": 64, "lr": 2e-3, "persons": 1_000_000,
                  "labelled_persons": 1000, "fresh": 16, "window": 4096, "margin": 0.25, "scale": 24.0,
                  "id_weight": 0.2, "factor_weights": {"brow_thickness": 3.0, "eye_color": 3.0}},
}
HELDOUT = {"persons": 100, "views": 4, "images": 2000, "content_images": 2000, "effects": True}
QUICK_ARCH = {"id": {"widths": [8, 8, 8, 8], "embedding_dim": 16}, "lnd": {"base_filters": 4},
              "evaluator": {"widths": [8, 8, 8, 8], "hidden": 16, "embedding_dim": 16, "head_hidden": 8}}
QUICK = {"steps": 6, "batch": 8, "fresh": 4, "window": 16, "persons": 20}
QUICK_LABELLED = 10   # the quick evaluator's labelled people
QUICK_HELDOUT = {"persons": 6, "views": 2, "images": 24, "content_images": 40, "effects": True}


def heldout():
    """The held-out set sizes of this invocation (`toynet_training.heldout_sets` arguments)."""
    return QUICK_HELDOUT if FLAGS.quick else HELDOUT


def settings(net):
    s = dict(SETTINGS[net])
    if FLAGS.quick:
        s.update(QUICK, arch=QUICK_ARCH[net])
        if "labelled_persons" in s:
            s["labelled_persons"] = QUICK_LABELLED
    if FLAGS.steps:
        s["steps"] = FLAGS.steps
    if FLAGS.augment is not None:
        if "augment" not in s:
            raise UserError(f"--augment applies to the id and lnd nets, not {net}")
        s["augment"] = FLAGS.augment
    return s


def make_step_fn(net, model, head, opt, s):
    import tensorflow as tf

    from idd_tf.method import augment
    from idd_tf.toy import nets as toynets

    weights = tf.constant(toynets.target_weights(s.get("factor_weights", {})))

    @tf.function(autograph=False)   # Python branches only (on `net`); converting the nets' code is slow
    def step_fn(images, labels, lr, seed):
        opt.learning_rate.assign(lr)
        if s.get("augment"):   # photo-like variety (method/augment.py); no shift: it would move the landmarks
            images = augment.degrade(images, seed, max_shift=0 if net == "lnd" else 2)
        with tf.GradientTape() as tape:
            out = model(images, training=True)
            logs = {}
            if net == "id":
                logs["id"] = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                    labels["person"], head(out, labels["person"])))
                loss = logs["id"]
            elif net == "lnd":
                # L1 in pixels of the net's input: the NME's units up to the eye distance
                logs["l1_px"] = tf.reduce_mean(tf.abs(out - labels["landmarks"])) * model.input_size
                loss = logs["l1_px"]
            else:
                logs["continuous"] = tf.reduce_mean(tf.reduce_sum(
                    weights * tf.square(out["continuous"] - labels["continuous"]), -1))
                logs["discrete"] = tf.add_n([tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                    labels[n], out[n])) for n in toynets.DISCRETE])
                # CosFace over the labelled people only (the others are classes the head lacks)
                labelled = labels["labelled"]
                person = tf.where(labelled > 0, labels["person"], tf.zeros_like(labels["person"]))
                ce = tf.nn.sparse_softmax_cross_entropy_with_logits(person, head(out["embedding"], person))
                logs["id"] = tf.reduce_sum(ce * labelled) / tf.maximum(tf.reduce_sum(labelled), 1.0)
                logs["l1_px"] = tf.reduce_mean(tf.abs(out["landmarks"] - labels["landmarks"])) * model.input_size
                loss = logs["continuous"] + logs["discrete"] + s["id_weight"] * logs["id"] + logs["l1_px"]
        variables = model.trainable_variables + (head.trainable_variables if head is not None else [])
        grads = tape.gradient(loss, variables)
        opt.apply_gradients(zip(grads, variables))
        return {"loss": loss, **logs}

    return step_fn


def batch_inputs(net, b):
    import numpy as np

    from idd_tf.toy import nets as toynets
    labels = {"person": b["person"].astype(np.int32), "labelled": b["labelled"].astype(np.float32)}
    if net in ("lnd", "evaluator"):
        labels["landmarks"] = b["landmarks"]
    if net == "evaluator":
        labels.update(toynets.factor_targets(b["factors"]))
    return toynets.to_float(b["images"]), labels


def train(net, s):
    """Train (or resume) `net`; returns {model, steps, images_seen, wall_s, cpu_s, resumed_from}."""
    import keras
    import tensorflow as tf

    from idd_tf.toy import net_training as toynet_training
    from idd_tf.toy import nets as toynets
    work = Path(FLAGS.work_dir) / net
    toynet_training.claim_work_dir(work, {"net": net, **s, "quick": FLAGS.quick}, may_change=("steps",))
    keras.utils.set_random_seed(toynets.SEEDS[net])
    model = toynets.build_net(net, **s["arch"])
    head = None
    if net in ("id", "evaluator"):
        head = toynets.CosFaceHead(s.get("labelled_persons", s["persons"]), s["scale"], s["margin"], name="cosface")
        head.build((None, model.embedding_dim))
    opt = keras.optimizers.Adam(s["lr"])
    opt.build(model.trainable_variables + (head.trainable_variables if head is not None else []))
    step_fn = make_step_fn(net, model, head, opt, s)

    def one_step(batch, step):
        images, labels = batch_inputs(net, batch)
        lr = toynet_training.learning_rate(step, s["steps"], s["lr"])
        return step_fn(tf.constant(images), labels, tf.constant(lr, tf.float32),
                       tf.constant([toynets.SEEDS[net], step], tf.int32))

    done = toynet_training.train_resumable(
        work, {"model": model, "optimizer": opt, **({"head": head} if head is not None else {})}, s["steps"],
        lambda start: toynet_training.RenderStream(toynets.SEEDS[net], s["persons"], s["batch"], s["fresh"],
                                                   s["window"], start_step=start,
                                                   labelled_persons=s.get("labelled_persons")),
        one_step, images_per_step=s["batch"], name=net, log=logging.info, log_every=FLAGS.log_every,
        checkpoint_every=FLAGS.checkpoint_every)
    return {"model": model, **done}


def command() -> str:
    """What the card and report say made them: --card_command, else this invocation."""
    return FLAGS.card_command or "python " + " ".join(sys.argv)


def app_main(argv):
    del argv
    nets = ["id", "lnd", "evaluator"] if FLAGS.net == "all" else [FLAGS.net]
    out = Path(FLAGS.out)
    # before importing TensorFlow (toynets.file_names: toy_<net>.* and MODEL_CARD_<net>.md)
    existing = [p for n in nets for p in sorted(out.glob(f"toy_{n}[._]*")) + sorted(out.glob(f"MODEL_CARD_{n}.md"))]
    if existing and not FLAGS.overwrite:
        raise UserError("refusing to overwrite existing output (use --overwrite): "
                        + ", ".join(str(p) for p in existing))
    from idd_tf.toy import cards
    from idd_tf.toy import net_training as toynet_training
    from idd_tf.toy import nets as toynets
    from idd_tf.utils import fileio
    out.mkdir(parents=True, exist_ok=True)
    for net in nets:
        if FLAGS.evaluate_only:
            try:
                remeasure(out, net)
            except ValueError as e:
                raise UserError(e) from e
            continue
        s = settings(net)
        try:
            result = train(net, s)
        except ValueError as e:
            raise UserError(e) from e
        t0 = time.time()
        held = heldout()
        sets = toynet_training.heldout_sets(net, **held)
        model = result["model"]
        files = toynets.save_net(model, out, extra={"seed": toynets.SEEDS[net], "steps": result["steps"]})
        report = toynet_training.evaluate_net(net, toynets.load_net(out, net), sets)
        met = toynet_training.targets_met(net, report)
        eval_s = time.time() - t0
        summary = {"net": net, "report": report, "targets": toynet_training.TARGETS, "targets_met": met,
                   "steps": result["steps"], "batch_size": s["batch"], "images_seen": result["images_seen"],
                   "train_wall_s": result["wall_s"], "train_cpu_s": result["cpu_s"], "eval_wall_s": eval_s,
                   "quick": FLAGS.quick,
                   "train_seed": toynets.SEEDS[net], "heldout_seed": toynets.SEEDS[f"{net}_heldout"],
                   "heldout": held, "settings": s, "params": model.count_params(),
                   "weights_bytes": files["weights"].stat().st_size,
                   "command": command()}
        fileio.atomic_write_bytes(out / toynets.file_names(net)["report"],
                                  (json.dumps(summary, indent=2) + "\n").encode())
        made = cards.made_section(net, s, result, eval_s, command())
        cards.write_net_card(out, net, model, report, met, files, made, held, FLAGS.quick)
        print(f"{net}: {json.dumps(report)}")
        print(f"{net}: targets met {met}; train {result['wall_s']:.0f}s, {result['images_seen']} images -> {out}")


def remeasure(out, net):
    """--evaluate_only: measure the net saved in `out` again on today's held-out sets; rewrite its
    report and card, keeping how it was trained (the card's section and the report's fields)."""
    from idd_tf.toy import cards
    from idd_tf.toy import net_training as toynet_training
    from idd_tf.toy import nets as toynets
    from idd_tf.utils import fileio
    names = toynets.file_names(net)
    report_file, card_file = out / names["report"], out / names["card"]
    for f in (out / names["weights"], report_file, card_file):
        if not f.is_file():
            raise FileNotFoundError(f"--evaluate_only needs a trained {net} in {out}: {f} is missing")
    old = json.loads(report_file.read_text())
    if old["quick"] != FLAGS.quick:
        raise ValueError(f"{report_file} is {'a' if old['quick'] else 'not a'} --quick net; match --quick")
    made = cards.kept_made_section(card_file)
    t0 = time.time()
    held = heldout()
    model = toynets.load_net(out, net)
    report = toynet_training.evaluate_net(net, model, toynet_training.heldout_sets(net, **held))
    met = toynet_training.targets_met(net, report)
    eval_s = time.time() - t0
    made += (f"\n- Held-out numbers re-measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} "
             f"({eval_s:.0f} s): `{command()}`\n\n")
    summary = {**old, "report": report, "targets": toynet_training.TARGETS, "targets_met": met, "eval_wall_s": eval_s,
               "heldout": held, "remeasured_by": command()}
    fileio.atomic_write_bytes(report_file, (json.dumps(summary, indent=2) + "\n").encode())
    cards.write_net_card(out, net, model, report, met, {"weights": out / names["weights"]}, made, held,
                         FLAGS.quick)
    print(f"{net}: {json.dumps(report)}")
    print(f"{net}: targets met {met}; re-measured in {eval_s:.0f}s -> {out}")


def main(argv=None):
    """`idd-train-toy-nets` and `python scripts/train_toy_nets.py`."""
    cli.run(app_main, define_flags, argv)


if __name__ == "__main__":
    main()
