"""Speed of one training iteration of NVIDIA's own StyleGAN v1 TF1 graph, toy config, on CPU.

Reference for `bench_gan_train_step.py`: the same iteration, built by NVIDIA's unmodified code
(github NVlabs/stylegan, commit 1e0d5c781384ef12b50ef20a62fee5d78b38e88f, not part of this
repository) and run under TF 2.21 through `tf.compat.v1` graph mode, at the toy config:
64 px, 3 channels, no labels, latent 128, dlatent 128, mapping_fmaps 128, fmap_base 1024,
fmap_max 64, batch 32, lod fixed at 0 (no progressive growing).

    python benchmarks/bench_nvidia_stylegan.py --stylegan_repo /root/nvref/stylegan \
        [--steps 5] [--batch 32] [--warmup 2]

(a checkout of NVlabs/stylegan, e.g. `git archive 1e0d5c7 | tar -x -C /root/nvref/stylegan`;
nothing is downloaded at run time).

One iteration is what NVIDIA's `training/training_loop.py` runs per minibatch with D_repeats=1:

    tflib.run([D_train_op, Gs_update_op], {lod_in: 0, lrate_in: 0.001, minibatch_in: batch, reals})
    tflib.run([G_train_op],               {lod_in: 0, lrate_in: 0.001, minibatch_in: batch})

built as training_loop.py builds them: `tflib.init_tf`, `tflib.Network('G',
func_name='training.networks_stylegan.G_style', ...)` / `D_basic`, `Gs = G.clone('Gs')`, the lod
assign ops as control dependencies, losses through `dnnlib.util.call_func_by_name`
(`training.loss.G_logistic_nonsaturating`, `training.loss.D_logistic_simplegp` with
r1_gamma=10.0, i.e. R1 on every D step: NVIDIA v1 has no lazy R1), `tflib.Optimizer` (Adam,
lr 0.001, beta1 0.0, beta2 0.99, epsilon 1e-8) with `register_gradients` / `apply_updates`, and
`Gs.setup_as_moving_average_of(G, beta=0.5 ** (minibatch / (10 * 1000)))` (G_smoothing_kimg=10).
G_style's training defaults apply (style mixing 0.9, per-pixel noise, dlatent_avg tracking).
Like NVIDIA's loop, the Gs update runs in the same session call as the D step.

Real images: one fixed float32 NCHW batch in [-1, 1] (uniform random, seed 0), fed through a
placeholder on every D step and passed through NVIDIA's `process_reals` (drange [-1, 1] ->
[-1, 1], no mirror augment) as in the training loop; the labels come from NVIDIA's
`training.dataset.SyntheticDataset(label_size=0)` (empty [batch, 0] tensors). Fake latents are
drawn inside the graph by the losses (`tf.random_normal`), as in NVIDIA's code.

Shim (no file of NVIDIA's is modified, nothing of theirs is monkeypatched; everything happens in
this process before importing dnnlib): `tf.compat.v1.disable_v2_behavior()`, then
`sys.modules['tensorflow'] = tf.compat.v1`, so NVIDIA's `import tensorflow as tf` gets the TF1
API (tf.placeholder, tf.Session, tf.train.AdamOptimizer, tf.gradients, ...). No stubs were
needed: `dnnlib/tflib/optimizer.py` imports `tensorflow.python.ops.nccl_ops`, which TF 2.21 still
ships (only used for the multi-GPU gradient all-reduce, never reached on one device), and
`tensorboard.summary` imports. One argument differs from NVIDIA's defaults in form only:
`use_noise=1` instead of G_synthesis's default `True`, because the noise variables' shape is
`[1, use_noise, res, res]` and TF 2.21's TensorShape rejects a bool there (TF 1.x read it as 1);
the graph is the same. The NCHW convolutions, depthwise blurs and R1's double backward all run on
this CPU in the default (non-XLA) session. A micro-test (3x3 conv 64->64 on 32x64x32x32: forward,
backward and R1-style double backward, graph mode) ran about 1.2-1.7x slower in NCHW than in
NHWC under the same (noisy) load: NCHW costs NVIDIA's graph something on CPU, but there is no
pathological fallback. `tf.device('/gpu:0')` is left out (no GPU here); `tflib.init_tf` sets
allow_soft_placement anyway.

Measured 2026-11-28 01:19-01:21 UTC on this 2-core CPU, idle (the background StyleGAN
training paused with SIGSTOP; load average falling from 3.6 to 2.2 as the previous jobs'
average decayed), back to back with `bench_gan_train_step.py --r1_interval 1 --noise` (the
port with NVIDIA's recipe: R1 every D step, per-pixel noise), 8 timed iterations each:

    round  bench_gan_train_step.py --r1_interval 1 --noise --steps 8   this benchmark --steps 8
    1      61.5 images/s                                              30.7 images/s
    2      60.6 images/s                                              29.0 images/s

i.e. the port runs NVIDIA's own iteration 2.0-2.1x as fast as NVIDIA's graph on the same machine
(target of the toy-world issue: >= 1.3x). Part of the gap is the layout: NVIDIA's graph is NCHW,
and a 3x3 conv 64->64 (forward, backward, R1-style double backward) ran 1.2-1.7x slower in NCHW
than in NHWC here. Earlier, under load (a StyleGAN training running, load 5.3-6.2): 23.2 vs 12.8
and 29.9 vs 15.9 images/s (1.8-1.9x).
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# NVIDIA's graph average-pools in NCHW (its blur/downscale), which TF's CPU kernels run only through
# oneDNN; TF 2.21 turns oneDNN on by default only on some CPUs (AVX-512 and newer), so it is set here,
# before TensorFlow is imported: without it the first step fails with "Default AvgPoolingOp only
# supports NHWC on device type CPU" (checked 2026-12-03 with TF_ENABLE_ONEDNN_OPTS=0 and =1).
if os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "0":
    print("TF_ENABLE_ONEDNN_OPTS=0 overridden: NVIDIA's NCHW pooling needs oneDNN on a CPU", file=sys.stderr)
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1"


def import_nvidia(stylegan_repo: str):
    """Import NVIDIA's dnnlib/training with `tensorflow` mapped to `tensorflow.compat.v1`."""
    if not os.path.isfile(os.path.join(stylegan_repo, "training", "networks_stylegan.py")) or \
            not os.path.isfile(os.path.join(stylegan_repo, "dnnlib", "tflib", "network.py")):
        sys.exit(f"--stylegan_repo {stylegan_repo!r} is not a checkout of "
                 "github.com/NVlabs/stylegan (no training/networks_stylegan.py or "
                 "dnnlib/tflib/network.py there); clone it, "
                 "e.g. git clone https://github.com/NVlabs/stylegan and pass its path")
    import tensorflow as tf2
    tf1 = tf2.compat.v1
    tf1.disable_v2_behavior()          # graph mode, TF1 variables/control flow, no eager
    sys.modules["tensorflow"] = tf1    # NVIDIA's `import tensorflow as tf` -> the TF1 API
    sys.path.insert(0, os.path.abspath(stylegan_repo))
    import dnnlib  # noqa: E402  (NVIDIA's)
    import dnnlib.tflib as tflib  # noqa: E402
    from training import (
        dataset,  # noqa: E402
        training_loop,  # noqa: E402  (for process_reals only)
    )
    return tf1, dnnlib, tflib, dataset, training_loop


def run(stylegan_repo: str, steps: int, batch: int, warmup: int = 2) -> float:
    import numpy as np
    tf, dnnlib, tflib, dataset, training_loop = import_nvidia(stylegan_repo)

    resolution, channels = 64, 3
    G_args = dict(func_name="training.networks_stylegan.G_style", latent_size=128,
                  dlatent_size=128, mapping_fmaps=128, fmap_base=1024, fmap_max=64,
                  use_noise=1)  # == True in TF1; TF 2.21 rejects the bool in the noise shape
    D_args = dict(func_name="training.networks_stylegan.D_basic", fmap_base=1024, fmap_max=64)
    opt_args = dict(beta1=0.0, beta2=0.99, epsilon=1e-8)          # train.py's G_opt / D_opt
    G_loss_args = dict(func_name="training.loss.G_logistic_nonsaturating")
    D_loss_args = dict(func_name="training.loss.D_logistic_simplegp", r1_gamma=10.0)
    G_smoothing_kimg = 10.0
    lrate = 0.001

    tflib.init_tf({"rnd.np_random_seed": 1000, "rnd.tf_random_seed": "auto"})
    training_set = dataset.SyntheticDataset(resolution=resolution, num_channels=channels,
                                            dtype="float32", dynamic_range=[-1, 1], label_size=0)
    G = tflib.Network("G", num_channels=channels, resolution=resolution, label_size=0, **G_args)
    D = tflib.Network("D", num_channels=channels, resolution=resolution, label_size=0, **D_args)
    Gs = G.clone("Gs")

    # As training_loop.py, one GPU (num_gpus = 1, minibatch_split = minibatch_in).
    with tf.name_scope("Inputs"):
        lod_in = tf.placeholder(tf.float32, name="lod_in", shape=[])
        lrate_in = tf.placeholder(tf.float32, name="lrate_in", shape=[])
        minibatch_in = tf.placeholder(tf.int32, name="minibatch_in", shape=[])
        minibatch_split = minibatch_in // 1
        Gs_beta = 0.5 ** tf.div(tf.cast(minibatch_in, tf.float32), G_smoothing_kimg * 1000.0)
        reals_in = tf.placeholder(tf.float32, name="reals_in",
                                  shape=[None, channels, resolution, resolution])
    G_opt = tflib.Optimizer(name="TrainG", learning_rate=lrate_in, **opt_args)
    D_opt = tflib.Optimizer(name="TrainD", learning_rate=lrate_in, **opt_args)
    with tf.name_scope("GPU0"):
        lod_assign_ops = [tf.assign(G.find_var("lod"), lod_in),
                          tf.assign(D.find_var("lod"), lod_in)]
        labels = training_set.get_random_labels_tf(minibatch_split)
        reals = training_loop.process_reals(reals_in, lod_in, False, training_set.dynamic_range,
                                            [-1, 1])
        with tf.name_scope("G_loss"), tf.control_dependencies(lod_assign_ops):
            G_loss = dnnlib.util.call_func_by_name(G=G, D=D, opt=G_opt, training_set=training_set,
                                                   minibatch_size=minibatch_split, **G_loss_args)
        with tf.name_scope("D_loss"), tf.control_dependencies(lod_assign_ops):
            D_loss = dnnlib.util.call_func_by_name(G=G, D=D, opt=D_opt, training_set=training_set,
                                                   minibatch_size=minibatch_split, reals=reals,
                                                   labels=labels, **D_loss_args)
        G_opt.register_gradients(tf.reduce_mean(G_loss), G.trainables)
        D_opt.register_gradients(tf.reduce_mean(D_loss), D.trainables)
    G_train_op = G_opt.apply_updates()
    D_train_op = D_opt.apply_updates()
    Gs_update_op = Gs.setup_as_moving_average_of(G, beta=Gs_beta)
    tflib.init_uninitialized_vars()

    real_images = np.random.RandomState(0).uniform(
        -1.0, 1.0, [batch, channels, resolution, resolution]).astype(np.float32)
    feed = {lod_in: 0.0, lrate_in: lrate, minibatch_in: batch}

    def iteration():  # training_loop.py, D_repeats = 1
        tflib.run([D_train_op, Gs_update_op], {**feed, reals_in: real_images})
        tflib.run([G_train_op], feed)

    for _ in range(warmup):
        iteration()
    t0 = time.perf_counter()
    for _ in range(steps):
        iteration()
    rate = steps * batch / (time.perf_counter() - t0)
    loss_values = tflib.run([tf.reduce_mean(D_loss), tf.reduce_mean(G_loss)],
                            {**feed, reals_in: real_images})
    if not all(np.isfinite(loss_values)):
        raise RuntimeError(f"non-finite losses after training: {loss_values}")
    return rate


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stylegan_repo", required=True,
                   help="path of a checkout of github.com/NVlabs/stylegan (not downloaded here)")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--warmup", type=int, default=2)
    a = p.parse_args()
    rate = run(a.stylegan_repo, a.steps, a.batch, a.warmup)
    print(f"NVIDIA StyleGAN v1 TF1 graph (tf.compat.v1), toy config at 64 px, batch {a.batch}, "
          f"r1 every step: {rate:.1f} images/s", flush=True)


if __name__ == "__main__":
    main()
