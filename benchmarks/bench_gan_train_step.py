"""Speed of one full StyleGAN v1 training iteration (D with R1, Gs EMA, G; style mixing, random noise).

Config of the toy-world issue: 64 px, fmap_base 1024, fmap_max 64, latent 128, batch 32
(`idd_tf.config.GAN_PRESETS["toy"]`). Target: >= 1.3x NVIDIA's own TF1 graph on the same machine
(the issue reports 24 images/s for NVIDIA's graph on its 2-core CPU, i.e. >= 31 images/s there;
`bench_nvidia_stylegan.py` times NVIDIA's graph on the machine at hand).

    python benchmarks/bench_gan_train_step.py [--steps 5] [--r1_interval 1] [--noise] [--batch 32] [--levels 0]

Measured on the 2-core CI CPU, 2026-11-25, while several other training and test jobs shared it
(load average 6-10), so the absolute numbers are far below what an idle machine gives and the
target could not be checked; only back-to-back comparisons are meaningful:

    full iteration, r1_interval 1 (NVIDIA v1), op determinism on     3.6 images/s  (load ~6)
    full iteration, r1_interval 1, op determinism off                 3.7 images/s
    full iteration, r1_interval 4 (lazy R1, the toy preset)           5.0 images/s
    D forward + R1 double-backward, batch 32 (the costliest part), unfused conv+downscale
    layers below 128 px run as the equivalent strided conv with the folded 4x4 kernel
    (`config.STRIDED_DOWN_MIN_RES`): 2.2 s -> 1.37 s per call (-38%), same maths, NVIDIA
    parity tests unchanged. XLA (`jit_compile`) was 2.2x slower than tf.function here.

Idle machine (load < 1.5, same day, 8 iterations after warm-up, op determinism on):

    before: unfused conv + 2x2 downscale layers as conv then avg-pool     13.7 images/s  (r1_interval 1)
    after:  the same layers as one strided conv with the folded kernel     17.5 images/s  (r1_interval 1, NVIDIA v1)
                                                                           20.4 images/s  (r1_interval 4, toy preset)

Progressive growing (`--levels 3,2,1`, 2026-11-27, r1_interval 4, batch 32, while one StyleGAN
training shared the CPU, so about half the idle speed):

    8 px   146.3 images/s      16 px   36.5 images/s      32 px   10.8 images/s
    (64 px in the same conditions: about 8-10 images/s; the real 8-px phase of the toy run,
    alone on the machine, logged 6.2 steps/s = 198 images/s)

Re-timed 2026-11-27 12:45, the StyleGAN training paused (load from it 0), r1_interval 4, 64 px:
this code 10.6 images/s, the 2026-11-25 code (commit 14ac702, 20.4 images/s that day) 10.1
images/s back to back: the machine itself runs at about half its 11-25 speed today; no
regression from progressive growing or the noise switch.

Against NVIDIA's own graph on the same machine (`bench_nvidia_stylegan.py`: NVIDIA's unmodified
code under tf.compat.v1), 2026-11-28, idle (the toy StyleGAN training paused), back to back,
8 timed iterations each; this machine runs about 3.6x the 2026-11-25 one:

    NVIDIA's TF1 graph, R1 every step, noise (NVIDIA v1)                  29.0-30.7 images/s
    this port, r1_interval 1 --noise (the same iteration)                 60.6-61.5 images/s  (2.0x)
    this port, r1_interval 1, no noise                                    63.9 images/s
    this port, r1_interval 4, no noise (the toy preset)                   72.9 images/s       (2.4x)

Target (>= 1.3x NVIDIA's graph; the issue's "24 images/s" was NVIDIA's graph on its machine):
MET, 2.0x with NVIDIA's own recipe. The absolute figures move with the machine (20.4 images/s
for the toy preset on 2026-11-25, 72.9 today), so only back-to-back ratios are meaningful.
Next candidates, if more is wanted: the elementwise chain of each synthesis layer (noise, bias,
lrelu, instance norm, modulation: ~40% of G time at 32-64 channels), R1's double backward
through the depthwise blur.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def run(steps: int, r1_interval: int, batch: int, deterministic: bool, level: int = 0,
        noise: bool = False) -> float:
    import tensorflow as tf

    from idd_tf.stylegan import config as sg_config
    from idd_tf.stylegan import training as gan_training
    from idd_tf.toy import world as toyworld
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    c = sg_config.GAN_PRESETS["toy"].replace(r1_interval=r1_interval, batch_size=batch, noise=noise)
    # held at 2**(6 - level) px (level 0: no growing, 64 px)
    c = c.replace(lod_initial_resolution=2 ** (6 - level) if level else 0, lod_training_kimg=1e9)
    nets = gan_training.build_networks(c)
    trainer = gan_training.GANTrainer(nets["G"], nets["D"], nets["Gs"], c)
    reals = toyworld.image_source(c.stylegan.resolution)(0, batch)
    for _ in range(max(2, r1_interval + 1)):  # trace both step variants
        trainer.train_step(reals)
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.train_step(reals)
    return steps * batch / (time.perf_counter() - t0)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--r1_interval", type=int, default=1)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--no_determinism", action="store_true")
    p.add_argument("--noise", action="store_true",
                   help="NVIDIA's per-pixel noise inputs on (the toy preset trains without them; "
                   "on for a like-for-like comparison with bench_nvidia_stylegan.py)")
    p.add_argument("--levels", default="0", help="comma-separated progressive-growing levels "
                   "(0 = 64 px, 1 = 32 px, 2 = 16 px, 3 = 8 px)")
    a = p.parse_args()
    for level in map(int, a.levels.split(",")):
        rate = run(a.steps, a.r1_interval, a.batch, not a.no_determinism, level, a.noise)
        print(f"StyleGAN train iteration, toy config at {2 ** (6 - level)} px, batch {a.batch}, "
              f"r1_interval {a.r1_interval}{', noise' if a.noise else ''}: {rate:.1f} images/s", flush=True)


if __name__ == "__main__":
    main()
