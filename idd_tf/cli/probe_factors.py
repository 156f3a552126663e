"""Can a network read these toy-world factors from renders? A focused probe of the world itself.

    python scripts/probe_factors.py --factors jaw_width --steps 4000                      # ~6 min, 2 cores
    python scripts/probe_factors.py --factors jaw_width,chin_shape,head_width,face_length,head_height
    python scripts/probe_factors.py --factors jaw_width --steps 2500 --resolution 128

Trains the independent evaluator's backbone (`toynets.evaluator_backbone`) with an MLP head on the
named continuous factors alone (squared error of each factor's range mapped to [-1, 1]), on renders
of the evaluator's training seed (`toynet_training.RenderStream`, a million people), with the evaluator's
optimiser and schedule; then prints R^2 per factor on --heldout renders of the evaluator's held-out
seed, at the same resolution. Where the full evaluator falls short on a factor, this tells a
factor that a focused net reads (the evaluator can do better) from one that no such net reads (the
world shows too little of it). Writes --out (JSON) when given. Nothing is saved besides.
"""

import json
import sys
import time
from pathlib import Path

from absl import flags, logging

import idd_tf.cli as cli
from idd_tf.cli import console
from idd_tf.utils.errors import UserError

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_list("factors", None, "continuous factor names (toyworld.FACTOR_NAMES)", required=True)
    flags.DEFINE_integer("steps", 4000, "training steps (batch 64, 16 new renders a step)")
    flags.DEFINE_integer("resolution", 64, "render and input size (a power of two, 32..256)")
    flags.DEFINE_integer("heldout", 1000, "held-out renders for R^2")
    flags.DEFINE_list("widths", ["32", "48", "64", "96"], "backbone stage widths (the evaluator's)")
    flags.DEFINE_integer("hidden", 384, "backbone output width (the shipped evaluator's)")
    flags.DEFINE_float("lr", 2e-3, "peak learning rate (warm-up 5%, cosine decay to 2%)")
    flags.DEFINE_string("out", None, "write the result here (JSON)")
    flags.DEFINE_integer("log_every", 500, "steps between progress lines")


def app_main(argv):
    del argv
    import keras
    import numpy as np
    import tensorflow as tf

    from idd_tf.toy import net_training as toynet_training
    from idd_tf.toy import nets as toynets
    from idd_tf.toy import world as toyworld
    from idd_tf.utils import fileio
    spec = {f.name: f for f in toyworld.IDENTITY_FACTORS + toyworld.ATTRIBUTE_FACTORS}
    bad = [n for n in FLAGS.factors if n not in toynets.CONTINUOUS or n in toynets.CIRCULAR_FACTORS]
    if bad:
        choices = ", ".join(n for n in toynets.CONTINUOUS if n not in toynets.CIRCULAR_FACTORS)
        raise UserError(f"not a continuous, non-circular factor: {', '.join(bad)} (choose from {choices})")
    cols = [toyworld.FACTOR_NAMES.index(n) for n in FLAGS.factors]
    low = np.array([spec[n].low for n in FLAGS.factors], np.float32)
    high = np.array([spec[n].high for n in FLAGS.factors], np.float32)
    keras.utils.set_random_seed(toynets.SEEDS["evaluator"])
    backbone = toynets.evaluator_backbone(FLAGS.resolution, tuple(int(w) for w in FLAGS.widths), FLAGS.hidden)
    head = keras.Sequential([keras.layers.Dense(256, activation="relu"), keras.layers.Dense(len(cols))])
    opt = keras.optimizers.Adam(FLAGS.lr)

    @tf.function
    def step(x, y, lr):
        opt.learning_rate.assign(lr)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.reduce_sum((head(backbone(x, training=True)) - y) ** 2, -1))
        variables = backbone.trainable_variables + head.trainable_variables
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    stream = toynet_training.RenderStream(toynets.SEEDS["evaluator"], 1_000_000, 64, 16, 4096,
                                          resolution=FLAGS.resolution)
    t0 = time.time()
    try:
        for i in range(FLAGS.steps):
            b = stream.batch(i)
            y = 2 * (b["factors"][:, cols] - low) / (high - low) - 1
            loss = step(tf.constant(toynets.to_float(b["images"])), tf.constant(y, tf.float32),
                        tf.constant(toynet_training.learning_rate(i, FLAGS.steps, FLAGS.lr), tf.float32))
            if (i + 1) % FLAGS.log_every == 0 or i + 1 == FLAGS.steps:
                rate = (i + 1) / (time.time() - t0)
                logging.info("step %d/%d  loss %.4f (the prior mean scores %.4f)  %.1f steps/s  ETA %.0fs", i + 1,
                             FLAGS.steps, float(loss), len(cols) / 3, rate, (FLAGS.steps - i - 1) / rate)
    finally:
        stream.close()
    held = toynet_training.render_people(np.arange(10_000, 10_000 + FLAGS.heldout), np.zeros(FLAGS.heldout, int),
                                 toynets.SEEDS["evaluator_heldout"], FLAGS.resolution)
    x = toynets.to_float(held["images"])
    pred = np.concatenate([head(backbone(x[i:i + 256])).numpy() for i in range(0, len(x), 256)])
    r2 = {n: toynet_training.r2_score(low[k] + (pred[:, k] + 1) / 2 * (high[k] - low[k]), held["factors"][:, c])
          for k, (n, c) in enumerate(zip(FLAGS.factors, cols))}
    result = {"factors": FLAGS.factors, "r2": r2, "steps": FLAGS.steps, "resolution": FLAGS.resolution,
              "heldout": FLAGS.heldout, "wall_s": time.time() - t0, "command": "python " + " ".join(sys.argv)}
    for n, v in r2.items():
        print(f"R^2 {n}: {v:.4f}")
    if FLAGS.out:
        fileio.atomic_write_bytes(Path(FLAGS.out), (json.dumps(result, indent=2) + "\n").encode())
    print(f"{len(r2)} factor(s), {FLAGS.steps} steps at {FLAGS.resolution} px, {console.elapsed()}")


def main(argv=None):
    """`idd-probe-factors` and `python scripts/probe_factors.py`."""
    cli.run(app_main, define_flags, argv)


if __name__ == "__main__":
    main()
