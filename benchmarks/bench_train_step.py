"""Train-step time at 256 with real-size networks (random weights), batch 6: eager / tf.function / XLA.

    python benchmarks/bench_train_step.py                      # all three modes, 4 timed steps each
    python benchmarks/bench_train_step.py --modes function --iters 2 --batch 2

Networks: StyleGAN v1 256 (fmap_base 8192, fmap_max 512), VGGFace2 ResNet-50 (224, 512-d), InceptionV3
(299), landmark CNN (128), M 2560-2048-1024-512-512, D_W 512-256-128-64-1. Prints s/step per mode
and a JSON summary. Eager runs the same Python step without tf.function.

Measured on this project's 2-core AVX-512 CI machine (2026-11-24, TF 2.21, fp32, batch 6):
tf.function 6.4 s/step (37 s first call), eager 14.5 s/step, XLA 20 s/step (79 s to compile;
measured with other work running). On CPU use tf.function; XLA's CPU convolutions are slower.

Official schedule (one forward pass per step under one persistent tape; adversarial + D_W updates
on even steps only), real size, batch 6, tf.function, 4 timed steps each, measured back to back
on 2026-11-25 on the same 2 cores heavily shared with other jobs (load average 6-8, so absolute
numbers are ~8x the quiet ones above and noisy): before (two forward passes, three updates every
step) 53.4 s/step, then after 41.0 s/step (adversarial steps 43.3, others 38.8), then before
again 51.1 s/step: ~20% faster (one fewer E_attr/InceptionV3 forward + backward per step, and no
adversarial/D_W work on odd steps). The timed steps alternate the two kinds.

Toy preset (64 px, batch 16), 2026-11-27, with a StyleGAN training sharing the 2 cores: MS-SSIM's
11x11 Gaussian blur as two band-matrix products instead of a depthwise convolution
(`losses.ssim_cs`, up to 128 px): MS-SSIM forward + backward 1220 -> 189 ms; the costliest
training step of `train.py --preset toy --dry_run` 2.81 -> 1.73 s. (G synthesis forward + backward
is now the largest part, ~1.0 s; computing the 3x3 blur2d with pads and slices instead of a
depthwise convolution was slower: 1.0 -> 1.7 s.)
"""

import argparse
import json
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from idd_tf.method import model, presets, trainer  # noqa: E402
from idd_tf.stylegan import networks as stylegan


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--modes", default="eager,function,xla")
    p.add_argument("--iters", type=int, default=4)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--batch", type=int, default=6)
    p.add_argument("--preset", default="ffhq256")
    args = p.parse_args()
    tf.config.experimental.enable_tensor_float_32_execution(False)
    cfg = presets.TRAIN_PRESETS[args.preset].replace(batch_size=args.batch)
    G = stylegan.random_stylegan(cfg.stylegan, seed=0)
    net = model.IDDModel(cfg, G)
    rng = np.random.RandomState(0)
    res = cfg.stylegan.resolution
    batch = {"image": tf.constant(rng.uniform(-1, 1, (args.batch, res, res, 3)), tf.float32),
             "w_real": tf.constant(rng.randn(args.batch, cfg.stylegan.dlatent_size), tf.float32)}
    batch["attr_image"] = tf.roll(batch["image"], 1, axis=0)
    tr = trainer.Trainer(net, lambda ctx, start: tf.data.Dataset.from_tensors(batch).repeat(), cfg,
                         tempfile.mkdtemp(prefix="bench_train_step_"))
    steps = {"eager": tr._distributed_step, "function": tr._step_fn,   # the trainer's own tf.function
             "xla": tf.function(tr._distributed_step, jit_compile=True, autograph=False)}
    results = []
    for mode in args.modes.split(","):
        fn = steps[mode]
        t0 = time.perf_counter()
        for i in range(max(args.warmup, 2)):  # both step kinds: adversarial (even) and not (odd)
            float(fn(batch, True, i % 2 == 0)["loss_nonadv"])
        first = time.perf_counter() - t0
        kinds = {True: [], False: []}
        for i in range(args.iters):
            t0 = time.perf_counter()
            float(fn(batch, True, i % 2 == 0)["loss_nonadv"])
            kinds[i % 2 == 0].append(time.perf_counter() - t0)
        per = float(np.mean(kinds[True] + kinds[False]))
        adv, non = (float(np.mean(kinds[k])) if kinds[k] else float("nan") for k in (True, False))
        print(f"train step {res}px batch {args.batch} {mode:8s}: {per:7.3f} s/step  "
              f"(adversarial steps {adv:.3f}, others {non:.3f}; first calls incl. tracing/compiling "
              f"{first:.1f} s)", flush=True)
        results.append({"mode": mode, "s_per_step": per, "s_per_adv_step": adv,
                        "s_per_nonadv_step": non, "first_call_s": first})
    print(json.dumps({"resolution": res, "batch": args.batch,
                      "device": tf.config.list_logical_devices()[-1].device_type, "results": results}))


if __name__ == "__main__":
    main()
