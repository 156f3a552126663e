"""Training: one tf.function step with three updates, and a controller for checkpoints and logs."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from idd_tf import losses
from idd_tf import stylegan as sg
from idd_tf.config import TrainConfig


def _adam(lr, c):
    return keras.optimizers.Adam(learning_rate=lr, beta_1=c.beta1, beta_2=c.beta2)


class Trainer:
    """Trains an IDDModel on batches {"image": [B,R,R,3] raw, "w_real": [B, dlatent]}.

    Per step, in order: (1) E_attr + M on L_id + L_lnd + L_rec (Adam lr_nonadv), (2) E_attr + M on
    the non-saturating adversarial loss (Adam lr_adv), (3) D_W on the logistic loss + R1 (Adam
    lr_disc). Step s uses I_attr = I_id rolled by one sample when s % cross_every == 0 (cross
    step), else I_attr = I_id (L_rec active). `checkpoint` (a tf.train.CheckpointManager) holds
    E_attr, M, D_W, the three optimizers, the step and the data iterator, so a resumed run
    continues exactly.
    """

    def __init__(self, model, batches: tf.data.Dataset, config: TrainConfig, run_dir,
                 monitor=None, preview: dict | None = None):
        self.model = model
        self.config = config
        self.run_dir = Path(run_dir)
        self.monitor = monitor
        self.preview = preview
        o = config.optim
        self.opt_nonadv = _adam(o.lr_nonadv, o)
        self.opt_adv = _adam(o.lr_adv, o)
        self.opt_d = _adam(o.lr_disc, o)
        self.opt_nonadv.build(model.generator_variables)
        self.opt_adv.build(model.generator_variables)
        self.opt_d.build(model.d_w.trainable_variables)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.iterator = iter(batches)
        self.checkpoint = tf.train.Checkpoint(
            step=self.step, e_attr=model.e_attr, mapping=model.mapping, d_w=model.d_w,
            opt_nonadv=self.opt_nonadv, opt_adv=self.opt_adv, opt_d=self.opt_d,
            iterator=self.iterator)
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(self.run_dir / "checkpoints"),
                                                  max_to_keep=config.max_checkpoints)
        self.train_step = tf.function(self._train_step)

    # ------------------------------------------------------------------------------------------
    def restore(self) -> int:
        """Restore the latest checkpoint of run_dir if any; returns the step to continue from."""
        if self.manager.latest_checkpoint:
            self.checkpoint.restore(self.manager.latest_checkpoint).assert_existing_objects_matched()
        return int(self.step.numpy())

    def _train_step(self, batch):
        m, c = self.model, self.config
        G = m.stylegan
        images = tf.convert_to_tensor(batch["image"])
        real_w = tf.convert_to_tensor(batch["w_real"])
        cross = tf.equal(self.step % c.cross_every, 0)
        id_img = images
        attr_img = tf.where(cross, tf.roll(images, shift=1, axis=0), images)
        same = 1.0 - tf.cast(cross, tf.float32)
        emb_id = m.e_id(id_img)
        lnd_attr = m.e_lnd(attr_img)
        gen_vars = m.generator_variables

        # (1) non-adversarial update of E_attr + M
        with tf.GradientTape() as tape:
            z_attr = m.e_attr(attr_img)
            ws = m.mapping(tf.concat([emb_id, z_attr], axis=-1))
            out = G.synthesis(ws, noise_mode="const")
            l_id = losses.id_loss(emb_id, m.e_id(out))
            l_lnd = losses.landmark_loss(lnd_attr, m.e_lnd(out), G.resolution)
            l_rec = same * losses.reconstruction_loss(attr_img, out, c.loss.rec_ssim)
            nonadv = c.loss.id * l_id + c.loss.lnd * l_lnd + c.loss.rec * l_rec
        grads = tape.gradient(nonadv, gen_vars)
        self.opt_nonadv.apply_gradients(zip(grads, gen_vars))
        gnorm_nonadv = tf.linalg.global_norm(grads)

        # (2) adversarial update of E_attr + M
        with tf.GradientTape() as tape:
            w = m.mapping(tf.concat([emb_id, m.e_attr(attr_img)], axis=-1))
            fake_logits = m.d_w(w if c.mapping.w_plus else w[:, 0])
            adv = c.loss.adv * losses.generator_adv_loss(fake_logits)
        grads = tape.gradient(adv, gen_vars)
        self.opt_adv.apply_gradients(zip(grads, gen_vars))
        gnorm_adv = tf.linalg.global_norm(grads)

        # (3) D_W update with R1 on real w
        fake_w = tf.stop_gradient(w if c.mapping.w_plus else w[:, 0])
        d_vars = m.d_w.trainable_variables
        with tf.GradientTape() as tape:
            r1, real_logits = losses.r1_penalty(m.d_w, real_w, c.discriminator.r1_gamma)
            d_fake = m.d_w(fake_w)
            d_loss = losses.discriminator_loss(real_logits, d_fake) + r1
        grads = tape.gradient(d_loss, d_vars)
        self.opt_d.apply_gradients(zip(grads, d_vars))

        self.step.assign_add(1)
        return {"loss_id": l_id, "loss_lnd": l_lnd, "loss_rec": l_rec, "loss_nonadv": nonadv,
                "loss_adv": adv, "loss_d": d_loss, "r1": r1,
                "d_real": tf.reduce_mean(real_logits), "d_fake": tf.reduce_mean(d_fake),
                "grad_norm_nonadv": gnorm_nonadv, "grad_norm_adv": gnorm_adv,
                "grad_norm_d": tf.linalg.global_norm(grads), "cross_step": 1.0 - same}

    # ------------------------------------------------------------------------------------------
    def run(self, until_step: int) -> dict:
        """Train until `step == until_step`, logging, previewing and checkpointing at intervals.

        Returns {"step", "metrics" (last step's, as floats), "checkpoint"}.
        """
        c = self.config
        start = int(self.step.numpy())
        metrics = {}
        if self.monitor:
            self.monitor.start_timer(start)
        for _ in range(start, until_step):
            metrics = self.train_step(next(self.iterator))
            step = int(self.step.numpy())
            if self.monitor and (step % c.log_every == 0 or step == until_step):
                values = {k: float(v) for k, v in metrics.items()}
                self.monitor.scalars(step, values)
                self.monitor.progress(step, until_step, values)
            if self.monitor and self.preview is not None and (step % c.image_every == 0
                                                              or step == until_step):
                self.write_preview(step)
            if step % c.checkpoint_every == 0 and step != until_step:
                self.manager.save(checkpoint_number=step)
        path = self.manager.save(checkpoint_number=int(self.step.numpy()))
        return {"step": int(self.step.numpy()), "metrics": {k: float(v) for k, v in metrics.items()},
                "checkpoint": path}

    def write_preview(self, step: int):
        """Grid of id | attr | out (cross pairs) for the fixed preview batch."""
        ids, attrs = self.preview["id"], self.preview["attr"]
        out = self.model(ids, attrs)["images"]
        cols = [sg.to_uint8(x).numpy() for x in (ids, attrs, out)]
        return self.monitor.image_grid(step, "id_attr_out", cols)
