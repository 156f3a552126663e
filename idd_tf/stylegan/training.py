"""StyleGAN v1 training in TF2 with NVIDIA's recipe, on the project's Keras G / D / Gs.

Follows NVlabs/stylegan `training/loss.py` (G_logistic_nonsaturating, D_logistic_simplegp with
R1), `training/training_loop.py` (per iteration: D step and the Gs update, then the G step; Gs is
an exponential moving average of G with beta = 0.5 ** (minibatch / (G_smoothing_kimg * 1000)),
non-trainable variables such as dlatent_avg and the noise buffers copied as they are) and
`training/networks_stylegan.py` G_style in training mode (dlatent_avg tracked with beta 0.995 on
every training forward pass, style mixing with one random crossover per minibatch, fresh noise,
no truncation).

Progressive growing (`lod_initial_resolution` > 0) follows NVIDIA's TrainingSchedule (`lod_at`):
each level trains `lod_training_kimg`, then the next block fades in over `lod_transition_kimg`;
reals are box-downscaled to the level and faded like NVIDIA's `process_reals`; the style-mixing
crossover is drawn among the layers in use; both Adam states are reset whenever floor(lod) or
ceil(lod) changes. Unlike NVIDIA's graph, G, D and the reals work at the level's native
resolution instead of being upscaled to full size: the same maths (see
`SynthesisNetwork.grown`), at a fraction of the cost. The one place where full size shows is R1:
NVIDIA penalises gradients with respect to the upscaled reals, which is the native penalty divided
by 4**floor(lod), and so is this one. `lod_initial_resolution` 0 trains at the final resolution
from the start (lod 0).

Every random number of step s (latents, noise, mixing) is a stateless function of (seed, s), and
the real images of step s are a function of the image counter, so a run resumed from a checkpoint
repeats the uninterrupted run exactly (given deterministic TF ops).

NVIDIA's losses are per-sample vectors; its training loop registers their MEAN over the minibatch
(`training_loop.py`: `register_gradients(tf.reduce_mean(loss), ...)`), and so does this trainer
(under tf.distribute: the mean over the global batch). One step equals NVIDIA's
(tests/stylegan/test_nvidia_train_step.py, on the shared fixture of NVIDIA's own step). The shipped
toy StyleGAN was trained when this trainer took the SUM, which under Adam differs only in epsilon's
size relative to the gradients (32x smaller at batch 32).

R1 gamma: NVIDIA's 10 is for D inputs at the final 256-1024 px; at a native 64 px the comparable
value is about (64 / 1024)^2 x 10 = 0.04 (see GAN_PRESETS["toy"]).
"""

from __future__ import annotations

import functools
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from idd_tf.stylegan import networks as sg
from idd_tf.stylegan.config import GANTrainConfig
from idd_tf.utils.checkpoints import WallClock, named_weights, restore_latest, weights_checkpoint

# Relative cost of a StyleGAN training step at progressive-growing level L (2**L times below the
# final resolution), for the ETA only: measured for the toy config on 2 CPU cores
# (benchmarks/bench_gan_train_step.py --levels 3,2,1,0); deeper levels cost as much as level 3.
GROWING_STEP_COST = (1.0, 0.8, 0.25, 0.07)


def gs_beta(batch_size: int, smoothing_kimg: float) -> float:
    """NVIDIA's Gs EMA coefficient: the average's half-life is `smoothing_kimg` thousand images."""
    return 0.5 ** (batch_size / (smoothing_kimg * 1000.0)) if smoothing_kimg > 0 else 0.0


def copy_weights(src, dst) -> None:
    """dst := src, variable by variable (same architecture, matched by path)."""
    s, d = named_weights(src), named_weights(dst)
    if set(s) != set(d):
        raise ValueError(f"{src.name} and {dst.name} have different variables")
    for k, v in d.items():
        v.assign(s[k])


def lod_at(config: GANTrainConfig, kimg: float) -> float:
    """NVIDIA's TrainingSchedule lod after `kimg` thousand images (0 = full resolution)."""
    c = config
    if not c.lod_initial_resolution:
        return 0.0
    phase = c.lod_training_kimg + c.lod_transition_kimg
    index = int(np.floor(kimg / phase)) if phase > 0 else 0
    phase_kimg = kimg - index * phase
    lod = c.stylegan.resolution_log2 - int(np.floor(np.log2(c.lod_initial_resolution))) - index
    if c.lod_transition_kimg > 0:
        lod -= max(phase_kimg - c.lod_training_kimg, 0.0) / c.lod_transition_kimg
    return max(float(lod), 0.0)


def work_left(config: GANTrainConfig, step: int, total_steps: int) -> float:
    """Steps left to `total_steps`, weighted by the cost of their growing level relative to the
    level of `step` (config.GROWING_STEP_COST): what the ETA divides by the current speed."""
    if not config.lod_initial_resolution or step >= total_steps:
        return float(max(total_steps - step, 0))
    costs = _step_costs(config, total_steps)
    return float(costs[step:].sum()) / costs[step]


@functools.lru_cache(maxsize=4)
def _step_costs(config: GANTrainConfig, total_steps: int) -> np.ndarray:
    """The relative cost of every step of a growing run (computed once, not per progress line)."""
    cost = GROWING_STEP_COST
    return np.array([cost[min(int(np.floor(lod_at(config, s * config.batch_size / 1000.0))), len(cost) - 1)]
                     for s in range(total_steps)])


def r1_gamma_at(config: GANTrainConfig, kimg: float) -> float:
    """R1 gamma for the step starting after `kimg` thousand images: `r1_gamma`, or
    `r1_gamma_late` from `r1_late_kimg` on (a function of the image counter, so a resumed run
    switches exactly where the uninterrupted one did)."""
    c = config
    if c.r1_gamma_late is not None and kimg >= c.r1_late_kimg:
        return float(c.r1_gamma_late)
    return float(c.r1_gamma)


def resets_adam(config: GANTrainConfig, nimg: int) -> bool:
    """Whether the step starting at image `nimg` resets both Adam states (NVIDIA: floor or ceil of
    lod changed since the previous step). A function of the image counter, so a resumed run
    resets exactly where the uninterrupted one did."""
    if not nimg:
        return False
    lod, prev = lod_at(config, nimg / 1000.0), lod_at(config, (nimg - config.batch_size) / 1000.0)
    return bool(np.floor(lod) != np.floor(prev) or np.ceil(lod) != np.ceil(prev))


def reset_optimizer(optimizer) -> None:
    """NVIDIA's Optimizer.reset_optimizer_state: zero Adam's moments and its step counter."""
    for v in optimizer.variables:
        if "learning_rate" not in v.path:
            v.assign(tf.zeros_like(v))


def process_reals(reals, level: int, fade):
    """NVIDIA's process_reals for [-1, 1] reals at lod = level + fade: box-downscaled `level`
    times (its dataset's lower lods), then blended towards their 2x-coarser version by `fade`;
    kept at the level's native resolution (NVIDIA then upscales to full size)."""
    for _ in range(level):
        reals = sg.downscale2d(reals)
    coarse = sg.upscale2d(sg.downscale2d(reals))
    return reals + (coarse - reals) * tf.cast(fade, reals.dtype)


def g_loss_nonsaturating(fake_scores):
    """G_logistic_nonsaturating: softplus(-D(G(z))) per sample."""
    return tf.nn.softplus(-fake_scores)


def d_loss_logistic(real_scores, fake_scores):
    """The logistic part of D_logistic_simplegp per sample: softplus(D(fake)) + softplus(-D(real))."""
    return tf.nn.softplus(fake_scores) + tf.nn.softplus(-real_scores)


def r1_penalty(real_grads):
    """||dD(x)/dx||^2 per sample (multiply by gamma / 2)."""
    return tf.reduce_sum(tf.square(real_grads), axis=[1, 2, 3])


def _used(grads, variables):
    """(grad, var) pairs of the variables the loss reaches (the ToRGB/FromRGB layers of the other
    lods exist only so weights round-trip, as in NVIDIA's pickles; they get no gradient)."""
    return [(g, v) for g, v in zip(grads, variables) if g is not None]


class GANTrainer:
    """One NVIDIA training iteration per `train_step(reals, step)`; owns the optimizers and counters.

    `reals`: uint8 NHWC [B, R, R, C] (converted to NVIDIA's [-1, 1]). Returns a dict of metrics:
    loss_g, loss_d, r1 (mean R1 penalty of the latest step that applied it; NaN before the first one
    in this process), real/fake scores, gs_beta.
    `checkpoint` holds G, D, Gs, both optimizers, the iteration counter and the image counter.
    """

    def __init__(self, G: sg.StyleGAN, D: sg.Discriminator, Gs: sg.StyleGAN, config: GANTrainConfig):
        self.G, self.D, self.Gs, self.config = G, D, Gs, config
        c = config
        self.g_opt = keras.optimizers.Adam(c.g_lr, beta_1=c.beta1, beta_2=c.beta2, epsilon=c.epsilon)
        self.d_opt = keras.optimizers.Adam(c.d_lr, beta_1=c.beta1, beta_2=c.beta2, epsilon=c.epsilon)
        self.g_opt.build(G.trainable_variables)
        self.d_opt.build(D.trainable_variables)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self._last_r1 = float("nan")  # until the first R1 step of this process
        self.nimg = tf.Variable(0, dtype=tf.int64, trainable=False, name="nimg")
        self.beta = gs_beta(c.batch_size, c.g_smoothing_kimg)
        g, gs = named_weights(G), named_weights(Gs)
        if set(g) != set(gs):
            raise ValueError("G and Gs must have the same architecture")
        self._ema_pairs = [(g[k], gs[k], g[k].trainable) for k in sorted(g)]
        # Every weight by name (see trainer.weights_checkpoint): Gs, which no optimizer
        # references, would otherwise silently not be saved at all.
        self.checkpoint = tf.train.Checkpoint(
            G=weights_checkpoint(G), D=weights_checkpoint(D), Gs=weights_checkpoint(Gs),
            g_opt=self.g_opt, d_opt=self.d_opt, step=self.step, nimg=self.nimg)
        self._steps = {}  # (with_r1, level) -> tf.function
        self._noise_held = False

    # -- G in training mode (G_style with is_training=True) -------------------------------------
    def _generate(self, seeds, level, fade, z=None, noise_mode=None, mixing=True):
        """seeds: [3, 2] stateless seeds (latents, mixing, noise) -> (fake images [B, r, r, C] at the
        level's resolution r (lod = level + fade), dlatents [B, L, w]). `z` given: these latents.
        `noise_mode`: "random" (NVIDIA's training), "const" (the stored buffers: NVIDIA's
        randomize_noise=False) or "none"; None: the config's (`noise`). `mixing`: style mixing
        with the config's probability (False: none)."""
        c, G = self.config, self.G
        batch = c.batch_size
        layers = G.num_layers - 2 * level  # NVIDIA: cur_layers = num_layers - int(lod) * 2
        if z is None:
            z = tf.random.stateless_normal([batch, G.latent_size], seed=seeds[0])
        ws = G.mapping(z)
        if c.dlatent_avg_beta < 1:
            batch_avg = tf.reduce_mean(ws[:, 0], axis=0)
            G.dlatent_avg.assign(batch_avg + (G.dlatent_avg - batch_avg) * c.dlatent_avg_beta)
        if mixing and c.style_mixing_prob > 0:
            mix = tf.random.experimental.stateless_split(seeds[1], 3)
            ws2 = G.mapping(tf.random.stateless_normal([batch, G.latent_size], seed=mix[0]))
            use = tf.random.stateless_uniform([], seed=mix[1]) < c.style_mixing_prob
            cross = tf.random.stateless_uniform([], seed=mix[2], minval=1, maxval=layers, dtype=tf.int32)
            cutoff = tf.where(use, cross, layers)
            idx = tf.range(G.num_layers)[None, :, None]
            ws = tf.where(idx < cutoff, ws, ws2)
        mode = noise_mode or ("random" if c.noise else "none")
        noise = None
        if mode == "random":   # drawn from the step's seeds, so a resumed run repeats itself
            noise_seeds = tf.random.experimental.stateless_split(seeds[2], G.num_layers)
            noise = [tf.random.stateless_normal([batch, 2 ** (i // 2 + 2), 2 ** (i // 2 + 2), 1],
                                                seed=noise_seeds[i]) if i < layers else None
                     for i in range(G.num_layers)]
        if not c.lod_initial_resolution:
            return G.synthesis(ws, noise_mode=mode, noise=noise), ws
        return G.synthesis.grown(ws, level, fade, noise_mode=mode, noise=noise), ws

    def _scores(self, images, level, fade):
        if not self.config.lod_initial_resolution:
            return self.D(images)
        return self.D.grown(images, level, fade)

    def _mean(self, per_sample):
        """What NVIDIA differentiates: the mean of a per-sample loss over the (global) minibatch
        (`register_gradients(tf.reduce_mean(loss), ...)`); under tf.distribute each replica's share."""
        return tf.nn.compute_average_loss(per_sample, global_batch_size=self.config.batch_size)

    def _step(self, reals, step, fade, gamma, z_d=None, z_g=None, *, with_r1: bool, level: int,
              noise_mode=None, mixing=True, details=False):
        c = self.config
        seeds = tf.random.experimental.stateless_split(
            tf.stack([tf.constant(c.seed, tf.int64), step]), 6)
        reals = sg.from_uint8(reals) if reals.dtype == tf.uint8 else tf.cast(reals, tf.float32)
        if self.config.lod_initial_resolution:
            reals = process_reals(reals, level, fade)
        # Gs update. NVIDIA runs it in one session.run with the D step and leaves the order open;
        # here it comes first: Gs's non-trainables (dlatent_avg, noise buffers) are G's from
        # before this iteration's forward passes, as in the fixture of NVIDIA's step.
        for src, dst, trainable in self._ema_pairs:
            dst.assign(src + (dst - src) * self.beta if trainable else src)
        # D step (D_logistic_simplegp), R1 on the reals (NVIDIA's full-size reals: / 4**level).
        fakes, ws = self._generate(seeds[0:3], level, fade, z_d, noise_mode, mixing)
        with tf.GradientTape() as tape:
            if with_r1:
                with tf.GradientTape() as r1_tape:
                    r1_tape.watch(reals)
                    real_scores = self._scores(reals, level, fade)
                    real_sum = tf.reduce_sum(real_scores)
                real_grads = r1_tape.gradient(real_sum, reals)
                r1 = r1_penalty(real_grads) / 4.0 ** level
            else:
                real_scores = self._scores(reals, level, fade)
                real_grads, r1 = tf.zeros_like(reals), tf.zeros([c.batch_size])
            fake_scores = self._scores(fakes, level, fade)
            gamma = gamma * c.r1_interval
            d_loss = d_loss_logistic(real_scores[:, 0], fake_scores[:, 0]) + r1 * (gamma * 0.5)
            d_total = self._mean(d_loss)
        d_grads = _used(tape.gradient(d_total, self.D.trainable_variables), self.D.trainable_variables)
        self.d_opt.apply_gradients(d_grads)
        # G step (G_logistic_nonsaturating), against the updated D as in NVIDIA's loop.
        with tf.GradientTape() as tape:
            g_fakes, _ = self._generate(seeds[3:6], level, fade, z_g, noise_mode, mixing)
            scores = self._scores(g_fakes, level, fade)
            g_loss = g_loss_nonsaturating(scores[:, 0])
            g_total = self._mean(g_loss)
        g_grads = _used(tape.gradient(g_total, self.G.trainable_variables), self.G.trainable_variables)
        self.g_opt.apply_gradients(g_grads)
        self.step.assign_add(1)
        self.nimg.assign_add(c.batch_size)
        finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g, _ in d_grads + g_grads])
        out = {"loss_g": tf.reduce_mean(g_loss), "loss_d": tf.reduce_mean(d_loss),
               "r1": tf.reduce_mean(r1), "score_real": tf.reduce_mean(real_scores),
               "score_fake": tf.reduce_mean(fake_scores), "grads_finite": finite}
        if details:
            out.update({"fakes": fakes, "dlatents": ws, "real_scores": real_scores[:, 0],
                        "fake_scores": fake_scores[:, 0], "r1_per_sample": r1, "r1_real_grads": real_grads,
                        "d_loss_per_sample": d_loss, "g_loss_per_sample": g_loss,
                        "grads_D": {v.path: g for g, v in d_grads}, "grads_G": {v.path: g for g, v in g_grads}})
        return out

    def _prepare(self, reals):
        c = self.config
        reals = tf.convert_to_tensor(reals)
        if reals.shape[0] != c.batch_size:
            raise ValueError(f"expected a batch of {c.batch_size} images, got {reals.shape[0]}")
        if reals.dtype != tf.uint8 and not reals.dtype.is_floating:
            raise ValueError(f"reals must be uint8 or float in [-1, 1], got {reals.dtype.name}")
        if not c.noise and not self._noise_held:   # after any restore: the strengths of G and Gs
            for net in (self.G, self.Gs):
                for layer in net.synthesis.styled_layers:
                    layer.noise_strength.assign(tf.zeros_like(layer.noise_strength))
            self._noise_held = True
        return reals

    def train_step(self, reals) -> dict:
        """One iteration on a batch (uint8, or float in NVIDIA's [-1, 1]); raises FloatingPointError
        on non-finite losses/gradients (before anything is checkpointed: the caller's last good
        checkpoint stays the latest)."""
        return self.run_step(reals)

    def run_step(self, reals, z_d=None, z_g=None, *, noise_mode: str | None = None, style_mixing: bool = True,
                 details: bool = False) -> dict:
        """One NVIDIA iteration (Gs EMA, D step, G step) with given inputs, for tests and research.

        `reals`: uint8 NHWC or float NHWC in [-1, 1]. `z_d`, `z_g`: [B, latent] latents of the D
        and the G part (None: drawn from the step's seeds, as in training). `noise_mode`: "const"
        (the stored noise buffers, NVIDIA's randomize_noise=False), "random" or "none" (None: the
        config's). `style_mixing=False`: none. `details=True` adds the per-sample tensors (fakes,
        dlatents, scores, R1 and its real-image gradients, losses) and every gradient applied
        ("grads_D", "grads_G": {weight key as `legacy.keras_weights`: gradient}; the G gradients are against the
        D that this step updated, as in NVIDIA's loop) as numpy arrays."""
        c = self.config
        reals = self._prepare(reals)
        if noise_mode is not None and noise_mode not in sg.NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {sg.NOISE_MODES}, got {noise_mode!r}")
        step, nimg = int(self.step.numpy()), int(self.nimg.numpy())
        gamma = r1_gamma_at(c, nimg / 1000.0)
        with_r1 = gamma > 0 and step % c.r1_interval == 0
        lod = lod_at(c, nimg / 1000.0)
        if resets_adam(c, nimg):
            reset_optimizer(self.g_opt)
            reset_optimizer(self.d_opt)
        level = int(np.floor(lod))
        given = (z_d is not None, z_g is not None)
        key = (with_r1, level, given, noise_mode, style_mixing, details)
        if key not in self._steps:
            # autograph=False: no tensor-dependent Python control flow (branches on Python values)
            self._steps[key] = tf.function(functools.partial(
                self._step, with_r1=with_r1, level=level, noise_mode=noise_mode, mixing=style_mixing,
                details=details), autograph=False)
        latents = [tf.convert_to_tensor(z, tf.float32) for z in (z_d, z_g) if z is not None]
        if len(latents) == 1:   # the one given is passed in its own place
            latents = [latents[0], None] if given[0] else [None, latents[0]]
        result = self._steps[key](reals, tf.constant(step, tf.int64), tf.constant(lod - level, tf.float32),
                                  tf.constant(gamma, tf.float32), *latents)
        metrics = tf.nest.map_structure(lambda t: t.numpy(), result)
        for kind, net in (("grads_D", self.D), ("grads_G", self.G)):   # keyed as legacy.keras_weights
            if kind in metrics:
                from idd_tf.stylegan.legacy import keras_weights
                key = {v.path: k for k, v in keras_weights(net).items()}
                metrics[kind] = {key[path]: g for path, g in metrics[kind].items()}
        bad = [k for k in ("loss_g", "loss_d", "r1") if not np.isfinite(metrics[k])]
        if bad or not metrics.pop("grads_finite"):
            what = ", ".join(f"{k}={metrics[k]}" for k in bad) or "gradients"
            raise FloatingPointError(f"StyleGAN training diverged at step {step}: non-finite {what}")
        # lazy R1: report the penalty of the latest step that computed it (a logging interval that
        # is a multiple of r1_interval would otherwise only ever show R1-free steps)
        if with_r1:
            self._last_r1 = metrics["r1"]
        metrics["r1"] = self._last_r1
        metrics["gs_beta"] = self.beta
        metrics["lod"] = lod
        metrics["r1_gamma"] = gamma
        return metrics

    def lod(self) -> float:
        """The level of detail of the next step (0 = full resolution)."""
        return lod_at(self.config, int(self.nimg.numpy()) / 1000.0)


def build_networks(config: GANTrainConfig, seed: int | None = None) -> dict:
    """Fresh G, D and Gs (= a copy of G) with NVIDIA's initialisation, deterministic in `seed`."""
    keras.utils.set_random_seed(config.seed if seed is None else seed)
    G = sg.StyleGAN(config.stylegan, name="G")
    D = sg.Discriminator(config.stylegan, name="D")
    Gs = sg.StyleGAN(config.stylegan, name="Gs")
    copy_weights(G, Gs)
    return {"G": G, "D": D, "Gs": Gs}


def sample_latents(config: GANTrainConfig) -> np.ndarray:
    """The fixed latents of the sample grids (seed = config.seed + 123)."""
    rows, cols = config.sample_grid
    rng = np.random.RandomState(config.seed + 123)
    return rng.randn(rows * cols, config.stylegan.latent_size).astype(np.float32)


def sample_grid(Gs: sg.StyleGAN, z: np.ndarray, grid: tuple[int, int], psi: float = 1.0,
                batch: int = 16, lod: float = 0.0) -> np.ndarray:
    """uint8 [rows*R, cols*R, 3] grid of Gs samples with stored (constant) noise, at `lod`
    (while growing: the current level's images, upscaled to full size)."""
    imgs = np.concatenate([sg.to_uint8(Gs(z[i:i + batch], truncation_psi=psi, lod=lod)).numpy()
                           for i in range(0, len(z), batch)])
    return tile(imgs, grid)


def tile(images: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """The first rows*cols of [N, R, R, C] images as one [rows*R, cols*R, C] image, row by row."""
    rows, cols = grid
    r = images.shape[1]
    return images[:rows * cols].reshape(rows, cols, r, r, -1).transpose(0, 2, 1, 3, 4).reshape(
        rows * r, cols * r, -1)


ImageSource = Callable[[int, int], np.ndarray]
"""(start, count) -> uint8 [count, R, R, C]: images start..start+count-1 of an endless stream."""


def folder_source(folder, resolution: int, seed: int = 0) -> ImageSource:
    """Images of a folder (recursively; every format Pillow reads, whatever the extension),
    squared and resized to `resolution`; each epoch visits them in a fresh order that is a pure
    function of (seed, epoch). Entries that are not usable images (not an image, a dangling link,
    truncated where the header shows it, ...) are skipped and named in one warning; hidden entries
    (.name) are ignored. A file that turns out unreadable when read fails loudly, naming it."""
    import logging
    from pathlib import Path

    from idd_tf.utils import image_files
    if not Path(folder).is_dir():
        raise FileNotFoundError(f"no images under {folder}: not a folder")
    files, skipped = image_files.scan_folder(folder, recursive=True, verify=False)   # headers only: fast
    if skipped:
        logging.warning("%s", skipped.summary(len(files) + len(skipped)))
    if not files:
        raise FileNotFoundError(f"no images under {folder}")
    n = len(files)

    @functools.lru_cache(maxsize=2)
    def order(epoch):  # one permutation per epoch, not one per image
        return np.random.default_rng([seed, epoch]).permutation(n)

    def source(start, count):
        return np.stack([image_files.load_image(files[order(i // n)[i % n]], resolution)
                         for i in range(start, start + count)])
    return source


class Prefetcher:
    """Reads batch k+1 from an ImageSource in a background thread while step k trains."""

    def __init__(self, source: ImageSource, batch_size: int, start: int):
        from concurrent.futures import ThreadPoolExecutor
        self.source, self.batch_size = source, batch_size
        self._pool = ThreadPoolExecutor(1)
        self._next = self._pool.submit(source, start, batch_size)
        self._pos = start

    def get(self) -> np.ndarray:
        batch = self._next.result()
        self._pos += self.batch_size
        self._next = self._pool.submit(self.source, self._pos, self.batch_size)
        return batch

    def close(self):
        self._pool.shutdown(wait=True, cancel_futures=True)


def train(trainer: GANTrainer, source: ImageSource, run_dir, total_steps: int, monitor=None,
          snapshot: Callable[[int], None] | None = None) -> dict:
    """The controller: restore the latest checkpoint in `run_dir/checkpoints`, train to
    `total_steps`, log, sample, checkpoint and snapshot at the config's intervals.

    Image k of the stream is always the k-th real image seen (the position is the checkpointed
    image counter), so kill -9 + rerun continues exactly. A diverging step raises before any
    checkpoint of it is written. Returns {"step", "nimg", "seconds" (this session's), "total_seconds"
    (over all sessions, as timing.json), "metrics"}.
    """
    from pathlib import Path

    c = trainer.config
    run_dir = Path(run_dir)
    manager = tf.train.CheckpointManager(trainer.checkpoint, str(run_dir / "checkpoints"),
                                         max_to_keep=c.max_checkpoints)
    restored = restore_latest(trainer.checkpoint, run_dir / "checkpoints", strict=True)
    step = int(trainer.step.numpy())
    if monitor is not None:
        for path, reason in restored["skipped"]:
            monitor.message(f"WARNING: skipped unreadable checkpoint {path} ({reason}); "
                            f"resuming from {restored['path']}")
        monitor.message(f"{run_dir}: {'resuming at' if step else 'starting'} step {step} of "
                        f"{total_steps} ({trainer.nimg.numpy() / 1000:.1f} kimg seen)")
    z_grid = sample_latents(c)
    if monitor is not None:
        monitor.start_timer(step)
        if step == 0:
            rows, cols = c.sample_grid
            monitor.image(0, "reals", tile(source(0, rows * cols), c.sample_grid))
    prefetch = Prefetcher(source, c.batch_size, int(trainer.nimg.numpy()))
    clock = WallClock(run_dir, step)
    metrics = {}
    try:
        while step < total_steps:
            metrics = trainer.train_step(prefetch.get())
            step = int(trainer.step.numpy())
            if monitor is not None and (step % c.log_every == 0 or step == total_steps):
                shown = {k: v for k, v in metrics.items() if k != "gs_beta"}
                monitor.scalars(step, {**shown, "kimg": trainer.nimg.numpy() / 1000.0})
                if not c.lod_initial_resolution:
                    shown.pop("lod", None)
                monitor.progress(step, total_steps, shown, work_left(c, step, total_steps))
            if monitor is not None and (step % c.sample_every == 0 or step == total_steps):
                monitor.image(step, "fakes", sample_grid(trainer.Gs, z_grid, c.sample_grid, c.sample_psi,
                                                         lod=metrics["lod"]))
            if step % c.checkpoint_every == 0 or step == total_steps:
                manager.save(checkpoint_number=step)
                clock.save(step, nimg=int(trainer.nimg.numpy()))
            if snapshot is not None and (step % c.snapshot_every == 0 or step == total_steps):
                snapshot(step)
    finally:
        prefetch.close()
    return {"step": step, "nimg": int(trainer.nimg.numpy()), "seconds": clock.session_seconds(),
            "total_seconds": clock.seconds(), "metrics": metrics}
