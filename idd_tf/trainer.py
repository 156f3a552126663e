"""Training: one tf.function step with three updates, and a controller for checkpoints and logs.

Runs under any tf.distribute.Strategy (default, MirroredStrategy, MultiWorkerMirroredStrategy):
build the model inside `strategy.scope()` and pass the strategy; the Trainer creates its
optimizers and step there too.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable

import keras
import tensorflow as tf

from idd_tf import losses
from idd_tf import stylegan as sg
from idd_tf.config import TrainConfig


def _adam(lr, c):
    return keras.optimizers.Adam(learning_rate=lr, beta_1=c.beta1, beta_2=c.beta2)


def is_chief(strategy) -> bool:
    """True where summaries and checkpoints are written: single process, or the chief worker."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "chief" or (not has_chief and task_type == "worker" and task_id == 0)


class Trainer:
    """Trains an IDDModel on per-replica batches {"image", "attr_image": raw NHWC, "w_real"}.

    Per step, in order: (1) E_attr + M on L_id + L_lnd + L_rec (Adam lr_nonadv), (2) E_attr + M on
    the non-saturating adversarial loss (Adam lr_adv), (3) D_W on the logistic loss + R1 (Adam
    lr_disc). Step s is a cross step (I_attr = batch["attr_image"] != I_id) when
    s % cross_every == 0, otherwise I_attr = I_id and L_rec is active.

    `dataset_fn(input_context, start_step)` returns the per-replica batch dataset of one input
    pipeline, positioned for training step `start_step` (see `dataset_fn_for`). Losses are means over the
    GLOBAL batch: each replica scales its gradients by 1 / num_replicas (Keras sums them across
    replicas). Metrics are means over replicas; grad_norm_* (computed on logging steps only, one
    extra all-reduce) are norms of the global-batch gradient, as on a single device.

    The checkpoint (tf.train.CheckpointManager under run_dir/checkpoints) holds E_attr, M, D_W, the
    three optimizers and the step; the input position is a function of the step, so a resumed
    run continues exactly (given deterministic ops). Only
    the chief writes summaries and real checkpoints; other workers write to a scratch directory
    that is removed (they must take part in saving under multi-worker strategies).
    """

    def __init__(self, model, dataset_fn: Callable, config: TrainConfig, run_dir, monitor=None,
                 preview: dict | None = None, strategy: tf.distribute.Strategy | None = None):
        self.model = model
        self.config = config
        self.run_dir = Path(run_dir)
        self.strategy = strategy or tf.distribute.get_strategy()
        self.chief = is_chief(self.strategy)
        self.monitor = monitor if self.chief else None
        self.preview = preview
        o = config.optim
        with self.strategy.scope():
            self.opt_nonadv = _adam(o.lr_nonadv, o)
            self.opt_adv = _adam(o.lr_adv, o)
            self.opt_d = _adam(o.lr_disc, o)
            self.opt_nonadv.build(model.generator_variables)
            self.opt_adv.build(model.generator_variables)
            self.opt_d.build(model.d_w.trainable_variables)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.dataset_fn = dataset_fn
        self._iterator = None
        self.checkpoint = tf.train.Checkpoint(
            step=self.step, e_attr=model.e_attr, mapping=model.mapping, d_w=model.d_w,
            opt_nonadv=self.opt_nonadv, opt_adv=self.opt_adv, opt_d=self.opt_d)
        ckpt_dir = self.run_dir / "checkpoints"
        if not self.chief:
            ckpt_dir = self.run_dir / f".scratch-worker-{self.strategy.cluster_resolver.task_id}"
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(ckpt_dir),
                                                  max_to_keep=config.max_checkpoints)
        self._chief_dir = self.run_dir / "checkpoints"
        self.train_step = tf.function(self._distributed_step)

    # ------------------------------------------------------------------------------------------
    def restore(self) -> int:
        """Restore the latest checkpoint of run_dir (every worker reads the chief's); returns the step."""
        latest = tf.train.latest_checkpoint(str(self._chief_dir))
        if latest:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
        self._iterator = None  # the input restarts at the restored step
        return int(self.step.numpy())

    def next_batch(self):
        """The next distributed batch (the input is (re)positioned at the current step)."""
        if self._iterator is None:
            start = int(self.step.numpy())
            dist = self.strategy.distribute_datasets_from_function(
                lambda ctx: self.dataset_fn(ctx, start))
            self._iterator = iter(dist)
        return next(self._iterator)

    def save(self) -> str | None:
        path = self.manager.save(checkpoint_number=int(self.step.numpy()))
        if not self.chief:
            shutil.rmtree(self.manager.directory, ignore_errors=True)
            return None
        return path

    def _distributed_step(self, dist_batch, with_norms=True):
        per_replica = self.strategy.run(self._replica_step, args=(dist_batch, with_norms))
        metrics = {k: self.strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None)
                   for k, v in per_replica.items()}
        self.step.assign_add(1)
        return metrics

    def _replica_step(self, batch, with_norms):
        m, c = self.model, self.config
        norms = {}

        def global_norm(name, grads):
            if not with_norms:
                return
            ctx = tf.distribute.get_replica_context()
            if ctx.num_replicas_in_sync > 1:  # scaled grads summed = the global-batch gradient
                grads = ctx.all_reduce(tf.distribute.ReduceOp.SUM, grads)
            norms[name] = tf.linalg.global_norm(grads)

        G = m.stylegan
        scale = 1.0 / tf.distribute.get_replica_context().num_replicas_in_sync
        id_img = batch["image"]
        cross = tf.equal(self.step % c.cross_every, 0)
        attr_img = tf.where(cross, batch["attr_image"], id_img)
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
            scaled = nonadv * scale
        grads = tape.gradient(scaled, gen_vars)
        global_norm("grad_norm_nonadv", grads)
        self.opt_nonadv.apply_gradients(zip(grads, gen_vars))

        # (2) adversarial update of E_attr + M
        with tf.GradientTape() as tape:
            w = m.mapping(tf.concat([emb_id, m.e_attr(attr_img)], axis=-1))
            fake_logits = m.d_w(w if c.mapping.w_plus else w[:, 0])
            adv = c.loss.adv * losses.generator_adv_loss(fake_logits)
            scaled = adv * scale
        grads = tape.gradient(scaled, gen_vars)
        global_norm("grad_norm_adv", grads)
        self.opt_adv.apply_gradients(zip(grads, gen_vars))

        # (3) D_W update with R1 on real w
        fake_w = tf.stop_gradient(w if c.mapping.w_plus else w[:, 0])
        d_vars = m.d_w.trainable_variables
        with tf.GradientTape() as tape:
            r1, real_logits = losses.r1_penalty(m.d_w, batch["w_real"], c.discriminator.r1_gamma)
            d_fake = m.d_w(fake_w)
            d_loss = losses.discriminator_loss(real_logits, d_fake) + r1
            scaled = d_loss * scale
        grads = tape.gradient(scaled, d_vars)
        global_norm("grad_norm_d", grads)
        self.opt_d.apply_gradients(zip(grads, d_vars))

        return {"loss_id": l_id, "loss_lnd": l_lnd, "loss_rec": l_rec, "loss_nonadv": nonadv,
                "loss_adv": adv, "loss_d": d_loss, "r1": r1,
                "d_real": tf.reduce_mean(real_logits), "d_fake": tf.reduce_mean(d_fake),
                "cross_step": 1.0 - same, **norms}

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
        for s in range(start, until_step):
            log = (s + 1) % c.log_every == 0 or s + 1 == until_step
            metrics = self.train_step(self.next_batch(), log)
            step = int(self.step.numpy())
            if self.monitor and log:
                values = {k: float(v) for k, v in metrics.items()}
                self.monitor.scalars(step, values)
                self.monitor.progress(step, until_step, values)
            if self.monitor and self.preview is not None and (step % c.image_every == 0
                                                              or step == until_step):
                self.write_preview(step)
            if step % c.checkpoint_every == 0 and step != until_step:
                self.save()
        path = self.save()
        return {"step": int(self.step.numpy()), "metrics": {k: float(v) for k, v in metrics.items()},
                "checkpoint": path}

    def write_preview(self, step: int):
        """Grid of id | attr | out (cross pairs) for the fixed preview batch (chief only)."""
        if not self.monitor:
            return None
        ids, attrs = self.preview["id"], self.preview["attr"]
        out = self.model(ids, attrs)["images"]
        cols = [sg.to_uint8(x).numpy() for x in (ids, attrs, out)]
        return self.monitor.image_grid(step, "id_attr_out", cols)


def dataset_fn_for(dataset_dir, global_batch: int, seed: int, shuffle_buffer: int):
    """A `dataset_fn` for Trainer: per-replica batches, shards split over input pipelines."""
    from idd_tf import data

    def fn(ctx: tf.distribute.InputContext, start_step: int = 0):
        shard = None
        if ctx.num_input_pipelines > 1:
            shard = (ctx.num_input_pipelines, ctx.input_pipeline_id)
        # each replica of this pipeline takes one per-replica batch per step
        per_step = ctx.num_replicas_in_sync // ctx.num_input_pipelines
        return data.training_batches(dataset_dir, ctx.get_per_replica_batch_size(global_batch),
                                     seed, shuffle_buffer, shard, start_batch=start_step * per_step)
    return fn


def make_strategy(name: str) -> tf.distribute.Strategy:
    """"default" (one device), "mirrored" (all local GPUs, or CPUs), "multiworker" (TF_CONFIG)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--strategy multiworker needs TF_CONFIG (see README)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {name!r}")
