"""Training: one tf.function step with up to three updates, and a controller for checkpoints and logs.

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
import numpy as np
import tensorflow as tf

from idd_tf.method import augment, losses
from idd_tf.method.config import TrainConfig
from idd_tf.stylegan import networks as sg
from idd_tf.utils.checkpoints import WallClock, restore_latest, weights_checkpoint


def model_parts(model) -> dict:
    """The trained parts of an IDDModel as checkpoint nodes (E_attr, M, D_W)."""
    return {name: weights_checkpoint(getattr(model, name)) for name in ("e_attr", "mapping", "d_w")}


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

    Per step, one forward pass (under one persistent tape) and from it, in order: (1) E_attr + M
    on L_id + L_lnd + L_rec (Adam lr_nonadv), and only when s % adv_every == 0 (official: even
    steps), (2) E_attr + M on the non-saturating adversarial loss (Adam lr_adv), (3) D_W on the
    logistic loss + R1 (Adam lr_disc). Step s is a cross step (I_attr = batch["attr_image"] !=
    I_id) when s % cross_every == 0, otherwise I_attr = I_id and L_rec is active.

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
                 preview: dict | None = None, strategy: tf.distribute.Strategy | None = None,
                 validation_data: Callable | None = None):
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
            self.best = {"id_to_out": tf.Variable(-float("inf"), trainable=False, name="best_id"),
                         "lnd_dist": tf.Variable(float("inf"), trainable=False, name="best_lnd")}
        self.dataset_fn = dataset_fn
        self._iterator = None
        parts = model_parts(model)
        self.checkpoint = tf.train.Checkpoint(
            step=self.step, **parts, opt_nonadv=self.opt_nonadv, opt_adv=self.opt_adv, opt_d=self.opt_d,
            best_id=self.best["id_to_out"], best_lnd=self.best["lnd_dist"])
        ckpt_dir = self.run_dir / "checkpoints"
        if not self.chief:
            ckpt_dir = self.run_dir / f".scratch-worker-{self.strategy.cluster_resolver.task_id}"
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(ckpt_dir),
                                                  max_to_keep=config.max_checkpoints)
        # best by identity (highest id->out similarity) and by landmarks (lowest distance)
        best_ckpt = tf.train.Checkpoint(step=self.step, **parts)
        self.best_managers = {k: tf.train.CheckpointManager(best_ckpt, str(ckpt_dir / d), max_to_keep=1)
                              for k, d in (("id_to_out", "best_id"), ("lnd_dist", "best_lnd"))}
        self.validation_data = validation_data
        c = config.loss
        self._validation_step = tf.function(
            lambda id_img, attr_img: validation_metrics(model, id_img, attr_img, c.lnd_scale, c.lnd_sum),
            autograph=False)
        self._chief_dir = self.run_dir / "checkpoints"
        self.rec_mask = tf.constant(losses.pixel_mask(
            model.stylegan.resolution, config.loss.rec_mask, config.loss.rec_mask_sigma))
        # autograph=False: the step has no tensor-dependent Python control flow (its branches are
        # on Python values: one trace each); converting every layer's source cost ~9 s per process
        self._step_fn = tf.function(self._distributed_step, autograph=False)

    # ------------------------------------------------------------------------------------------
    def restore(self) -> int:
        """Restore the latest checkpoint of run_dir (every worker reads the chief's); returns the step."""
        self.restored = restore_latest(self.checkpoint, self._chief_dir)   # the caller reports skips
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

    def save(self, clock: WallClock | None = None) -> str | None:
        """Checkpoint the current step (the chief's path; None on other workers) and, with `clock`,
        the training time so far beside it (timing.json)."""
        trained = self.model.generator_variables + self.model.d_w.trainable_variables
        bad = [v.path for v in trained if not bool(tf.reduce_all(tf.math.is_finite(v)))]
        if bad:  # never let a diverged model become the latest checkpoint
            raise FloatingPointError(f"non-finite weights at step {int(self.step.numpy())} "
                                     f"({', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''}); not saved")
        path = self.manager.save(checkpoint_number=int(self.step.numpy()))
        if not self.chief:
            shutil.rmtree(self.manager.directory, ignore_errors=True)
            return None
        if clock is not None:
            clock.save(int(self.step.numpy()))
        return path

    def train_step(self, dist_batch, with_norms: bool = True) -> dict:
        """One step (a tf.function per (with_norms, adversarial) pair); the adversarial and D_W
        updates run when step % adv_every == 0. Returns the metrics (means over replicas).
        On one replica the gradient norms are always computed (a reduction over the trained
        variables, far cheaper than the ~10 s of tracing and optimising a second graph pair);
        with several, only when asked (they need an extra all-reduce of every gradient)."""
        adversarial = int(self.step.numpy()) % self.config.adv_every == 0
        with_norms = with_norms or self.strategy.num_replicas_in_sync == 1
        return self._step_fn(dist_batch, with_norms, adversarial)

    def _distributed_step(self, dist_batch, with_norms=True, adversarial=True):
        per_replica = self.strategy.run(self._replica_step, args=(dist_batch, with_norms, adversarial))
        metrics = {k: self.strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None)
                   for k, v in per_replica.items()}
        self.step.assign_add(1)
        return metrics

    def _replica_step(self, batch, with_norms, adversarial):
        """One forward pass under one persistent tape, then up to three updates from it, all with
        gradients at the same (pre-update) weights, as the official trainer.py l.119-257."""
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
        id_in, attr_in = emb_id, attr_img   # what M and E_attr see: clean, or degraded with `augment`
        if c.augment:
            replica = tf.cast(tf.distribute.get_replica_context().replica_id_in_sync_group, tf.int32)
            seed = tf.stack([tf.cast(self.step, tf.int32), c.seed * 1024 + replica])
            id_in = m.e_id(augment.degrade(id_img, seed))
            attr_in = augment.degrade(attr_img, seed + tf.constant([0, 1 << 20]))
        # official L1 of L_rec: summed over the (global) batch; per replica mean * global batch
        l1_batch = float(c.batch_size) if c.loss.rec_l1_batch_sum else 1.0

        with tf.GradientTape(persistent=True) as tape:
            ws = m.mapping(tf.concat([id_in, m.e_attr(attr_in)], axis=-1))
            out = G.synthesis(ws, noise_mode="const")
            l_id = losses.id_loss(emb_id, m.e_id(out))
            l_lnd = losses.landmark_loss(lnd_attr, m.e_lnd(out), c.loss.lnd_scale, c.loss.lnd_sum)
            l_rec = same * losses.reconstruction_loss(attr_img, out, self.rec_mask, c.loss.rec_ssim,
                                                      l1_batch)
            nonadv = c.loss.id * l_id + c.loss.lnd * l_lnd + c.loss.rec * l_rec
            metrics = {"loss_id": l_id, "loss_lnd": l_lnd, "loss_rec": l_rec, "loss_nonadv": nonadv,
                       "cross_step": 1.0 - same}
            # (1) E_attr + M on the non-adversarial loss, every step
            updates = [("nonadv", nonadv * scale, m.generator_variables, self.opt_nonadv)]
            if adversarial:  # (2) E_attr + M adversarial, (3) D_W with R1 on real w
                fake_logits = m.d_w(ws if c.mapping.w_plus else ws[:, 0])
                adv = c.loss.adv * losses.generator_adv_loss(fake_logits)
                r1, real_logits = losses.r1_penalty(m.d_w, batch["w_real"], c.discriminator.r1_gamma)
                d_loss = losses.discriminator_loss(real_logits, fake_logits) + r1
                updates += [("adv", adv * scale, m.generator_variables, self.opt_adv),
                            ("d", d_loss * scale, m.d_w.trainable_variables, self.opt_d)]
                metrics.update(loss_adv=adv, loss_d=d_loss, r1=r1,
                               d_real=tf.reduce_mean(real_logits), d_fake=tf.reduce_mean(fake_logits))
        grads = [tape.gradient(scaled, variables) for _, scaled, variables, _ in updates]
        del tape
        checked = list(metrics.values()) + [x for g in grads for x in g if x is not None]
        finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(x)) for x in checked])
        for (name, _, variables, opt), g in zip(updates, grads):
            global_norm(f"grad_norm_{name}", g)
            opt.apply_gradients(zip(g, variables))
        # 1 when every loss and gradient of this step was finite (mean over replicas: 1 iff all were)
        return {**metrics, **norms, "finite": tf.cast(finite, tf.float32)}

    # ------------------------------------------------------------------------------------------
    def run(self, until_step: int) -> dict:
        """Train until `step == until_step`, logging, previewing and checkpointing at intervals.

        Returns {"step", "metrics" (last step's, as floats), "checkpoint", "preview" (the last
        preview grid written, None if none)}.
        """
        c = self.config
        start = int(self.step.numpy())
        metrics, preview = {}, None
        clock = WallClock(self.run_dir, start)
        if self.monitor:
            self.monitor.start_timer(start)
        for s in range(start, until_step):
            log = (s + 1) % c.log_every == 0 or s + 1 == until_step
            metrics = dict(self.train_step(self.next_batch(), log))
            if float(metrics.pop("finite")) < 1.0:  # before anything of this step is written
                bad = [k for k, v in metrics.items() if not np.isfinite(float(v))]
                raise FloatingPointError(
                    f"training diverged at step {s}: non-finite {', '.join(bad) or 'gradients'}; "
                    f"the latest checkpoint ({self.manager.latest_checkpoint or 'none yet'}) is the "
                    "last good one")
            step = int(self.step.numpy())
            if self.monitor and log:
                values = {k: float(v) for k, v in metrics.items()}
                self.monitor.scalars(step, values)
                self.monitor.progress(step, until_step, values)
            if self.monitor and self.preview is not None and (
                    (c.image_every and step % c.image_every == 0) or step == until_step):
                preview = self.write_preview(step)
            if self.validation_data is not None and c.validate_every and step % c.validate_every == 0:
                self.validate(step)
            if step % c.checkpoint_every == 0 and step != until_step:
                self.save(clock)
        path = self.save(clock)
        return {"step": int(self.step.numpy()), "metrics": {k: float(v) for k, v in metrics.items()},
                "checkpoint": path, "preview": preview}

    def validate(self, step: int) -> dict:
        """Mean validation metrics over the held-out batches; logged (chief), and the best
        checkpoints updated (every worker computes the same values and takes part in saving).
        Returns {"metrics", "improved": names of the metrics that reached a new best}."""
        sums, n = {}, 0
        for batch in self.validation_data():
            for k, v in self._validation_step(batch["id"], batch["attr"]).items():
                sums[k] = sums.get(k, 0.0) + float(v)
            n += 1
        metrics = {k: v / n for k, v in sums.items()}
        improved = []
        for name, better in (("id_to_out", lambda new, old: new > old),
                             ("lnd_dist", lambda new, old: new < old)):
            if better(metrics[name], float(self.best[name].numpy())):
                self.best[name].assign(metrics[name])
                self.best_managers[name].save(checkpoint_number=step)
                improved.append(name)
        if not self.chief:
            shutil.rmtree(self.manager.directory, ignore_errors=True)
        if self.monitor:
            self.monitor.validation(step, metrics, improved)
        return {"metrics": metrics, "improved": improved}

    def write_preview(self, step: int):
        """Grid of id | attr | out (cross pairs) for the fixed preview batch (chief only)."""
        if not self.monitor:
            return None
        ids, attrs = self.preview["id"], self.preview["attr"]
        out = self.model(ids, attrs)["images"]
        cols = [sg.to_uint8(x).numpy() for x in (ids, attrs, out)]
        return self.monitor.image_grid(step, "id_attr_out", cols)


def validation_metrics(model, id_img, attr_img, lnd_scale=160.0, lnd_sum=False) -> dict:
    """Official trainer.py test() (l.264-405) on one batch of held-out pairs; batch means of:
    cosine identity similarities (E_id) id_to_out, attr_to_out, id_to_attr; lnd_dist (L_lnd's
    form, without its weight) between I_attr and I_out; and for I_id reconstructed from
    (I_id, I_id): rec_mse, rec_psnr ([0, 1] units) and rec_id (id -> reconstruction similarity).
    Outputs are clipped to the image range first, as the official code."""
    def cos(a, b):
        return tf.reduce_mean(tf.reduce_sum(tf.math.l2_normalize(a, -1) * tf.math.l2_normalize(b, -1), -1))

    out = tf.clip_by_value(model(id_img, attr_img)["images"], -1.0, 1.0)
    rec = tf.clip_by_value(model(id_img, id_img)["images"], -1.0, 1.0)
    emb_id, emb_attr, emb_out = model.e_id(id_img), model.e_id(attr_img), model.e_id(out)
    x, y = id_img * 0.5 + 0.5, rec * 0.5 + 0.5
    return {"id_to_out": cos(emb_id, emb_out), "attr_to_out": cos(emb_attr, emb_out),
            "id_to_attr": cos(emb_id, emb_attr),
            "lnd_dist": losses.landmark_loss(model.e_lnd(attr_img), model.e_lnd(out), lnd_scale, lnd_sum),
            "rec_mse": tf.reduce_mean(tf.square(x - y)),
            "rec_psnr": tf.reduce_mean(tf.image.psnr(x, y, 1.0)),
            "rec_id": cos(emb_id, model.e_id(rec))}


def validation_data_for(dataset_dir, batch: int, num_batches: int) -> Callable:
    """Trainer's `validation_data`: () -> `num_batches` batches {"id", "attr"} of held-out images,
    consecutive records in stored order (the same pairs at every validation)."""
    from idd_tf.method import data

    def fn():
        ds = data.make_dataset(dataset_dir, 2 * batch, seed=0, shuffle_buffer=0).take(num_batches)
        return ds.map(lambda b: {"id": b["image"][:batch], "attr": b["image"][batch:]})
    return fn


def dataset_fn_for(dataset_dir, global_batch: int, seed: int, shuffle_buffer: int):
    """A `dataset_fn` for Trainer: per-replica batches, shards split over input pipelines."""
    from idd_tf.method import data

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
