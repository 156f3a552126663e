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
import os
import platform
import sys
import time
from pathlib import Path

import _console  # noqa: E402

_console.setup()   # first: a quiet console unless --verbose

from absl import app, flags, logging  # noqa: E402

FLAGS = flags.FLAGS
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
flags.DEFINE_integer("checkpoint_every", 100, "steps between checkpoints")
flags.DEFINE_integer("log_every", 50, "steps between progress lines")

# Per net: architecture (toynets constructor arguments), training and held-out set sizes.
SETTINGS = {
    "id": {"arch": {}, "steps": 1200, "batch": 64, "lr": 2e-3, "persons": 1000, "fresh": 16,
           "window": 4096, "margin": 0.25, "scale": 24.0},
    "lnd": {"arch": {}, "steps": 2400, "batch": 64, "lr": 2e-3, "persons": 1_000_000, "fresh": 16,
            "window": 4096},
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
    return s


def make_step_fn(net, model, head, opt, s):
    import tensorflow as tf

    from idd_tf.toy import nets as toynets

    weights = tf.constant(toynets.target_weights(s.get("factor_weights", {})))

    @tf.function(autograph=False)   # Python branches only (on `net`); converting the nets' code is slow
    def step_fn(images, labels, lr):
        opt.learning_rate.assign(lr)
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
    """Train (or resume) `net`; returns {model, steps, images_seen, wall_s, resumed_from}."""
    import keras
    import tensorflow as tf

    from idd_tf.toy import net_training as toynet_training
    from idd_tf.toy import nets as toynets
    from idd_tf.utils import fileio
    work = Path(FLAGS.work_dir) / net
    work.mkdir(parents=True, exist_ok=True)
    run_settings = {"net": net, **s, "quick": FLAGS.quick}
    settings_file = work / "settings.json"
    if settings_file.is_file():
        old = json.loads(settings_file.read_text())
        if {k: v for k, v in old.items() if k != "steps"} != {k: v for k, v in run_settings.items() if k != "steps"}:
            raise ValueError(f"{work} holds a run with other settings ({settings_file}); "
                             "use another --work_dir or delete it")
    fileio.atomic_write_bytes(settings_file, (json.dumps(run_settings, indent=2) + "\n").encode())
    keras.utils.set_random_seed(toynets.SEEDS[net])
    model = toynets.build_net(net, **s["arch"])
    head = None
    if net in ("id", "evaluator"):
        head = toynets.CosFaceHead(s.get("labelled_persons", s["persons"]), s["scale"], s["margin"], name="cosface")
        head.build((None, model.embedding_dim))
    opt = keras.optimizers.Adam(s["lr"])
    opt.build(model.trainable_variables + (head.trainable_variables if head is not None else []))
    step_var = tf.Variable(0, dtype=tf.int64)
    wall_var = tf.Variable(0.0, dtype=tf.float64)
    seen_var = tf.Variable(0, dtype=tf.int64)
    cpu_var = tf.Variable(-1.0, dtype=tf.float64)   # < 0: not recorded (a checkpoint without it)
    ckpt = tf.train.Checkpoint(model=model, optimizer=opt, step=step_var, wall=wall_var, seen=seen_var, cpu=cpu_var,
                               **({"head": head} if head is not None else {}))
    manager = tf.train.CheckpointManager(ckpt, str(work / "checkpoints"), max_to_keep=1)
    resumed_from = 0
    if manager.latest_checkpoint:
        ckpt.restore(manager.latest_checkpoint).assert_nontrivial_match()
        resumed_from = int(step_var.numpy())
        logging.info("%s: resuming from step %d (%s)", net, resumed_from, manager.latest_checkpoint)
    step_fn = make_step_fn(net, model, head, opt, s)
    start = int(step_var.numpy())
    if start == 0:
        cpu_var.assign(0.0)
    if start < s["steps"]:
        stream = toynet_training.RenderStream(toynets.SEEDS[net], s["persons"], s["batch"], s["fresh"], s["window"],
                                      start_step=start, labelled_persons=s.get("labelled_persons"))
        session_t0, wall0 = time.time(), float(wall_var.numpy())
        cpu_t0, cpu0 = time.process_time(), float(cpu_var.numpy())
        try:
            for step in range(start, s["steps"]):
                images, labels = batch_inputs(net, stream.batch(step))
                lr = toynet_training.learning_rate(step, s["steps"], s["lr"])
                logs = step_fn(tf.constant(images), labels, tf.constant(lr, tf.float32))
                step_var.assign(step + 1)
                seen_var.assign_add(s["batch"])
                wall_var.assign(wall0 + time.time() - session_t0)
                if cpu0 >= 0:
                    cpu_var.assign(cpu0 + time.process_time() - cpu_t0)
                done = step + 1
                if done % FLAGS.log_every == 0 or done == s["steps"]:
                    rate = (done - start) / max(1e-9, time.time() - session_t0)
                    eta = (s["steps"] - done) / max(rate, 1e-9)
                    logging.info("%s step %d/%d  %s  %.2f steps/s  elapsed %.0fs  ETA %.0fs", net, done,
                                 s["steps"], "  ".join(f"{k} {float(v):.4f}" for k, v in logs.items()),
                                 rate, float(wall_var.numpy()), eta)
                if done % FLAGS.checkpoint_every == 0 or done == s["steps"]:
                    manager.save(checkpoint_number=done)
        finally:
            stream.close()
    return {"model": model, "steps": int(step_var.numpy()), "images_seen": int(seen_var.numpy()),
            "wall_s": float(wall_var.numpy()), "cpu_s": float(cpu_var.numpy()) if cpu_var.numpy() >= 0 else None,
            "resumed_from": resumed_from}


WHAT = {"id": "the toy world E_id (stands in for the VGGFace2 ResNet-50)",
        "lnd": "the toy world E_lnd (stands in for the landmark network)",
        "evaluator": "the independent toy evaluator (stands in for ArcFace / dlib; evaluation only)"}
ARCHITECTURE = {
    "id": "small residual CNN: stride-2 3x3 stem, one residual block (two 3x3 conv+BN) per width "
          "(stride 2 after the first), 1x1 squeeze to 32, flatten 4x4, Dense, L2 normalisation",
    "lnd": "`idd_tf.encoders.landmark_net` (the project's E_lnd): per halving two 3x3 convs + "
           "LeakyReLU 0.2 (the second stride 2), flatten, Dense 256, Dense 136 sigmoid",
    "evaluator": "plain VGG-style CNN (no residuals): 5x5 stem halving the size (stride 2, or with "
                 "`stem_stride` 1 a 2x2 max-pool), 3x3 conv+BN+ReLU stages (one, "
                 "then two convs) with 2x2 max-pooling, flatten 4x4, Dense+ReLU; heads: continuous factors "
                 "(MLP: Dense + ReLU, Dense; range -> [-1, 1]; hues as cos/sin), one softmax per discrete "
                 "factor, L2 identity embedding, 68 landmarks (sigmoid, [0, 1])",
}


def loss_text(net, s):
    cosface = (f"CosFace (scale {s.get('scale')}, margin {s.get('margin')}) over its "
               f"{s.get('labelled_persons', s['persons'])} labelled training people")
    return {"id": f"softmax with {cosface}",
            "lnd": "L1 of the [0, 1] coordinates times the input size (pixels); targets (pixel + 0.5) / R",
            "evaluator": "sum of squared errors of the standardised continuous factors"
                         + (" (" + ", ".join(f"{n} x {w:g}" for n, w in s["factor_weights"].items()) + ")"
                            if s.get("factor_weights") else "")
                         + " + softmax CE per discrete "
                         f"factor + landmark L1 in pixels (as E_lnd's) + {s.get('id_weight')} x {cosface}"}[net]


def labelled_text(s):
    if "labelled_persons" not in s:
        return ""
    return (f" (half the renders from people 0..{s['labelled_persons'] - 1}, the only ones the identity "
            "loss sees)")


def heldout_text(net, held):
    ver = (f"verification on all pairs of {held['persons']} people x {held['views']} random views "
           f"(threshold chosen on {held['persons']} other people)")
    single = f"{held['images']} renders of different people"
    content = (f"; identity content: {held['content_images']} renders of different people "
               f"(a linear fit on 3/4, R^2 on the rest)")
    return {"id": ver + content, "lnd": single, "evaluator": f"{single} (factors, landmarks); {ver}"}[net]


def report_rows(report, met):
    from idd_tf.toy import net_training as toynet_training
    from idd_tf.toy import nets as toynets
    tg = toynet_training.TARGETS
    ok = lambda b: "met" if b else "NOT met"  # noqa: E731
    rows = []
    if "verification" in report:
        rows.append(("verification accuracy (held-out people, across attribute changes)",
                     report["verification"]["accuracy"], f">= {tg['verification_accuracy']}",
                     ok(met["verification_accuracy"])))
    if "identity_content" in report:
        c = report["identity_content"]
        rows.append((f"identity content: mean R^2 of the {len(c['r2'])} continuous identity factors, "
                     f"linear from the embedding (fit {c['fit']}, test {c['test']} people; no target)",
                     c["mean_r2"], "", ""))
        for n, r2 in c["r2"].items():
            rows.append((f"identity content R^2 {n}", r2, "", ""))
    if "landmarks" in report:
        m = report["landmarks"]
        rows.append(("landmark NME (inter-ocular, points 36/45)", m["nme"], f"<= {tg['nme']}", ok(met["nme"])))
        rows.append(("NME of the mean held-out shape (baseline)", m["nme_mean_shape_baseline"], "", ""))
    if "factors" in report:
        for n, r2 in report["factors"]["r2"].items():
            circ = " (circular)" if n in toynets.CIRCULAR_FACTORS else ""
            rows.append((f"R^2 {n}{circ}", r2, f">= {tg['r2']}", ok(r2 >= tg["r2"])))
        for n, acc in report["factors"]["accuracy"].items():
            rows.append((f"accuracy {n}", acc, f">= {tg['discrete_accuracy']}", ok(acc >= tg["discrete_accuracy"])))
    return "\n".join(f"| {a} | {b:.4f} | {c} | {d} |" for a, b, c, d in rows)


def effects_table(report):
    """The evaluator's R^2 next to how much each factor shows (`toy_evaluation.factor_effects`)."""
    eff = report.get("factors", {}).get("effects")
    if not eff:
        return ""
    n = report["factors"]["images"]
    rows = "\n".join(
        f"| {k} | {report['factors']['r2'][k]:.4f} | "
        f"{'-' if e['r2_where_visible'] is None else format(e['r2_where_visible'], '.4f')} | "
        f"{e['invisible']} | {e['pixels_median']:.0f} | {e['landmark_shift_median']:.2f} |" for k, e in eff.items())
    return f"""
## What each factor shows, and what the evaluator reads of it

Each held-out render is rendered again with the factor at the low and at the high end of its range
(a hue: the opposite hue), all else fixed (`toy_evaluation.factor_effects`). "Invisible": renders of
the {n} in which that changes no pixel by more than 8 levels (no estimator can beat the prior mean
on those; e.g. eye colour behind closed eyes or brows under hair). The last columns are medians
over the renders: pixels changed, and the largest move of a landmark (at 64 px). Where the
evaluator falls short on a factor, `scripts/probe_factors.py --factors <names>` trains this backbone
on those factors alone: a probe that reads one says the evaluator can do better, a probe that
cannot says the world shows too little of it (world v1's jaw width, which moved the jaw contour by
about a pixel and read at R^2 0.06: world v2 redrew the jaw). The target above is judged on all
renders.

| factor | R^2 | R^2 where visible | invisible | pixels changed | landmark shift, px |
| --- | --- | --- | --- | --- | --- |
{rows}
"""


def command() -> str:
    """What the card and report say made them: --card_command, else this invocation."""
    return FLAGS.card_command or "python " + " ".join(sys.argv)


def made_section(net, s, result, eval_s):
    """The card's "How it was made" section, for a net trained by this invocation."""
    from idd_tf.toy import nets as toynets
    cpu = ("CPU time not recorded: trained before CPU accounting was added" if result["cpu_s"] is None
           else f"{result['cpu_s']:.0f} s of CPU time, all threads")
    return f"""## How it was made

- Command: `{command()}`
- Data: `toyworld.person_example(person, view, seed={toynets.SEEDS[net]})`, people 0..{s['persons'] - 1}{labelled_text(s)},
  rendered on the fly at 64 px in a background thread; each step {s['fresh']} new renders, a batch of
  {s['batch']} drawn from the last {s['window']} ({s['steps'] * s['fresh'] + s['window']} distinct renders in all).
- Loss: {loss_text(net, s)}.
- Optimiser: Adam, lr {s['lr']} (linear warm-up over 5% of the steps, cosine decay to 2%).
- Steps: {result['steps']}, batch {s['batch']}, images seen {result['images_seen']}
  (resumed from step {result['resumed_from']} in the last invocation).
- Training wall time: {result['wall_s']:.0f} s ({cpu}); held-out
  evaluation {eval_s:.0f} s; finished {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())};
  machine: {platform.machine()}, {os.cpu_count()} CPU cores (shared with other jobs), GPUs used: {gpus()}.

"""


def write_card(out, net, model, report, met, files, made):
    from idd_tf.toy import nets as toynets
    from idd_tf.utils import fileio
    held = heldout()
    text = f"""# Model card: toy {net} ({'QUICK smoke run' if FLAGS.quick else 'shipped'})

What: {WHAT[net]}.
Input: raw NHWC float32 RGB in [-1, 1], any square size (bilinear antialiased resize to {model.input_size}).
Architecture: {ARCHITECTURE[net]}; config `{json.dumps(toynets.net_config(model)['config'])}`,
{model.count_params()} parameters, `{files['weights'].name}` {files['weights'].stat().st_size} bytes.
Load: `idd_tf.toynets.load_net(DIR, "{net}")` (or `load_toy_networks(DIR)`).

{made}## Held-out numbers (measured)

Held-out renders from seed {toynets.SEEDS[net + '_heldout']} (people never trained on): {heldout_text(net, held)}.

| metric | value | target | |
| --- | --- | --- | --- |
{report_rows(report, met)}
{effects_table(report)}
Full numbers: `{toynets.file_names(net)['report']}`.
"""
    fileio.atomic_write_bytes(out / f"MODEL_CARD_{net}.md", text.encode())


def gpus():
    import tensorflow as tf
    return len(tf.config.list_physical_devices("GPU"))


def main(argv):
    del argv
    nets = ["id", "lnd", "evaluator"] if FLAGS.net == "all" else [FLAGS.net]
    out = Path(FLAGS.out)
    # before importing TensorFlow (toynets.file_names: toy_<net>.* and MODEL_CARD_<net>.md)
    existing = [p for n in nets for p in sorted(out.glob(f"toy_{n}[._]*")) + sorted(out.glob(f"MODEL_CARD_{n}.md"))]
    if existing and not FLAGS.overwrite:
        logging.error("refusing to overwrite existing output (use --overwrite): %s",
                      ", ".join(str(p) for p in existing))
        sys.exit(1)
    from idd_tf.toy import net_training as toynet_training
    from idd_tf.toy import nets as toynets
    from idd_tf.utils import fileio
    out.mkdir(parents=True, exist_ok=True)
    for net in nets:
        if FLAGS.evaluate_only:
            try:
                remeasure(out, net)
            except (FileNotFoundError, ValueError) as e:
                logging.error("%s", e)
                sys.exit(1)
            continue
        s = settings(net)
        try:
            result = train(net, s)
        except ValueError as e:
            logging.error("%s", e)
            sys.exit(1)
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
                   "train_wall_s": result["wall_s"], "train_cpu_s": result["cpu_s"], "eval_wall_s": eval_s, "quick": FLAGS.quick,
                   "train_seed": toynets.SEEDS[net], "heldout_seed": toynets.SEEDS[f"{net}_heldout"],
                   "heldout": held, "settings": s, "params": model.count_params(),
                   "weights_bytes": files["weights"].stat().st_size,
                   "command": command()}
        fileio.atomic_write_bytes(out / toynets.file_names(net)["report"], (json.dumps(summary, indent=2) + "\n").encode())
        write_card(out, net, model, report, met, files, made_section(net, s, result, eval_s))
        print(f"{net}: {json.dumps(report)}")
        print(f"{net}: targets met {met}; train {result['wall_s']:.0f}s, {result['images_seen']} images -> {out}")


def remeasure(out, net):
    """--evaluate_only: measure the net saved in `out` again on today's held-out sets; rewrite its
    report and card, keeping how it was trained (the card's section and the report's fields)."""
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
    card = card_file.read_text()
    a, b = card.find("## How it was made"), card.find("## Held-out numbers")
    if a < 0 or b < a:
        raise ValueError(f"{card_file} has no 'How it was made' section to keep")
    made = "\n".join(line for line in card[a:b].rstrip().split("\n")
                     if not line.startswith("- Held-out numbers re-measured"))
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
    write_card(out, net, model, report, met, {"weights": out / names["weights"]}, made)
    print(f"{net}: {json.dumps(report)}")
    print(f"{net}: targets met {met}; re-measured in {eval_s:.0f}s -> {out}")


if __name__ == "__main__":
    app.run(main)
