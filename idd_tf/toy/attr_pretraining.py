"""The toy analog of ImageNet pretraining for E_attr: its backbone trained as an autoencoder on renders.

The paper's E_attr is an InceptionV3 pretrained on ImageNet (real photos), then fine-tuned by the
method on StyleGAN samples; the toy E_attr (arch "small", `method.encoders`) otherwise starts from
random weights and sees only toy-StyleGAN samples. Here its backbone learns a generic task on
renders, reconstruction through its code (L1, an upsampling decoder that is thrown away), which uses
neither the evaluator nor the factors it scores. The result loads with
`--set attr_encoder.weights=DIR/toy_attr.weights.h5` (arch "small", the same widths and code size).

    train(out_dir, steps=...) -> dict   resumable (OUT/work/checkpoints), writes OUT/toy_attr.weights.h5
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SEED = 501   # renders of people no other toy part trained or is measured on (toynets.SEEDS, protocol)
HELDOUT_SEED = 502
WEIGHTS_FILE = "toy_attr.weights.h5"
CARD_FILE = "MODEL_CARD_attr.md"


def build(input_size=64, widths=(32, 64, 128, 128), code=256):
    """(encoder, autoencoder): the method's arch-"small" E_attr backbone and it + a decoder."""
    import keras

    from idd_tf.method.encoders import small_attr_backbone
    encoder = small_attr_backbone(input_size, widths, code)
    x = keras.layers.Dense(4 * 4 * widths[-1], name="dec_fc")(encoder.output)
    x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Reshape((4, 4, widths[-1]))(x)
    size, i = 4, 0
    for f in reversed(widths):
        if size >= input_size:
            break
        x = keras.layers.UpSampling2D(2, interpolation="bilinear")(x)
        x = keras.layers.Conv2D(f, 3, padding="same", name=f"dec_conv{i}")(x)
        x = keras.layers.LeakyReLU(0.2)(x)
        size, i = size * 2, i + 1
    x = keras.layers.Conv2D(3, 3, padding="same", activation="tanh", name="dec_rgb")(x)
    return encoder, keras.Model(encoder.input, x, name="attr_autoencoder")


def heldout_psnr(autoencoder, n=256, resolution=64) -> float:
    """Mean PSNR (dB) of reconstructions of n held-out renders (people of HELDOUT_SEED)."""
    from idd_tf.toy import net_training
    from idd_tf.toy import nets as toynets
    images = net_training.render_people(np.arange(n), np.zeros(n, int), HELDOUT_SEED, resolution)["images"]
    x = toynets.to_float(images)
    rec = np.concatenate([autoencoder(x[i:i + 64], training=False).numpy() for i in range(0, n, 64)])
    mse = np.mean(((rec - x) / 2.0) ** 2, axis=(1, 2, 3))
    return float(np.mean(10 * np.log10(1.0 / np.maximum(mse, 1e-10))))


def train(out_dir, steps=1500, batch=64, lr=1e-3, input_size=64, widths=(32, 64, 128, 128), code=256,
          log=print, log_every=100, heldout=256, work_dir=None) -> dict:
    """Train (or resume: `work_dir`, default OUT/work, holds the checkpoint and its settings) the autoencoder on a
    stream of renders; writes OUT/toy_attr.weights.h5 and OUT/toy_attr.json (settings, held-out
    PSNR on `heldout` renders, wall time). Returns that json's content."""
    import keras
    import tensorflow as tf

    from idd_tf.toy import net_training
    from idd_tf.toy import nets as toynets
    from idd_tf.utils import fileio
    out = Path(out_dir)
    settings = {"steps": steps, "batch": batch, "lr": lr, "input_size": input_size, "widths": list(widths),
                "code": code, "seed": SEED, "loss": "L1 of the reconstruction", "fresh": 16, "window": 4096}
    work = Path(work_dir) if work_dir else out / "work"
    net_training.claim_work_dir(work, settings)
    keras.utils.set_random_seed(SEED)
    encoder, ae = build(input_size, tuple(widths), code)
    opt = keras.optimizers.Adam(lr)
    opt.build(ae.trainable_variables)

    @tf.function
    def step_fn(images, rate):
        opt.learning_rate.assign(rate)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.abs(ae(images, training=True) - images))
        opt.apply_gradients(zip(tape.gradient(loss, ae.trainable_variables), ae.trainable_variables))
        return loss

    done = net_training.train_resumable(
        work, {"model": ae, "optimizer": opt}, steps,
        lambda start: net_training.RenderStream(SEED, 1_000_000, batch, 16, 4096, input_size, start_step=start),
        lambda b, step: {"L1": step_fn(tf.constant(toynets.to_float(b["images"])),
                                       tf.constant(net_training.learning_rate(step, steps, lr), tf.float32))},
        images_per_step=batch, name="attr autoencoder", log=log, log_every=log_every, checkpoint_every=500)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{WEIGHTS_FILE}.tmp.weights.h5"
    encoder.save_weights(tmp)
    tmp.replace(out / WEIGHTS_FILE)
    info = {"settings": settings, "steps_done": done["steps"], "wall_s": done["wall_s"],
            "heldout_psnr_db": heldout_psnr(ae, heldout, input_size), "heldout_n": heldout,
            "heldout_seed": HELDOUT_SEED, "weights": WEIGHTS_FILE,
            "encoder_parameters": int(encoder.count_params())}
    fileio.atomic_write_bytes(out / "toy_attr.json", (json.dumps(info, indent=2) + "\n").encode())
    return info
