"""Synthesis throughput at real model sizes (fmap_base 8192, fmap_max 512; random weights).

    python benchmarks/bench_synthesis.py                 # 256 b1, 256 b4, 1024 b1; eager/function/XLA
    python benchmarks/bench_synthesis.py --cases 1024x1 --modes function --iters 5

Target (issue #2): at least as fast as NVIDIA's original TF graph on the same CPU (quoted there:
~7.2 img/s at 256 b1 and ~3.2 img/s at 1024 b1 on its 2-core AVX-512 reference machine).
Measured on this project's 2-core AVX-512 CI machine (2026-11-24, TF 2.21, fp32, one run each):

    case         NVIDIA G_synthesis graph*   this port, tf.function
    256   b1     3.01 img/s                  4.46 img/s
    256   b4     3.59 img/s                  4.76 img/s
    1024  b1     1.68 img/s                  1.91 img/s

* NVIDIA's unmodified G_synthesis code (NCHW, recursive structure, randomize_noise=False) run
  through tf.compat.v1 in the same environment; that code is not part of this repository.
The port is faster mainly because unfused "upscale + 3x3 conv" layers (32..64 px) run as the
algebraically identical transposed conv (4/9 of the multiply-adds) and instance norm + style
modulation are folded into one scale and shift. Prints one line per (case, mode) and a JSON summary.

Instance-norm statistics (fidelity issue, 2026-11-25): StyledLayer's mean/variance went from one
`tf.nn.moments` over H, W to `stylegan.instance_moments` (two-stage reductions, over W then H),
which brings float32 vs float64 image error at 1024 from ~3e-4 to ~4e-6. Speed before -> after,
measured back to back in one process (same weights and input, both graphs traced up front, rounds
alternating old/new), tf.function, median img/s of 6 rounds (XLA: 4). NOISY: the 2-core machine
was shared with other jobs (load average 6-10), so absolute numbers are ~5x below the table above
and single rounds scatter by +-30%; the difference is within that noise:

    case           before (tf.nn.moments)   after (instance_moments)
    256   b1       0.44 img/s               0.43 img/s
    256   b4       0.54 img/s               0.61 img/s
    1024  b1       0.18 img/s               0.20 img/s
    256   b1 XLA   0.57 img/s               0.58 img/s

The statistics alone (tf.function, min over 5 x 10 calls, machine at load ~1), before -> after:
1x1024x1024x16 39.6 -> 38.8 ms, 1x512x512x32 21.3 -> 17.8 ms, 1x256x256x64 5.7 -> 5.0 ms,
4x256x256x64 42.4 -> 38.4 ms (reducing over W first is the fast order; H first was 10-35% slower).
"""

import argparse
import json
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from idd_tf import StyleGANConfig, SynthesisNetwork  # noqa: E402

NVIDIA_REFERENCE_IMG_S = {(256, 1): 7.2, (1024, 1): 3.2}  # issue #2's quote, another machine


def bench(fn, ws, iters, warmup):
    for _ in range(warmup):
        fn(ws).numpy()
    t = time.perf_counter()
    for _ in range(iters):
        fn(ws).numpy()
    dt = time.perf_counter() - t
    return ws.shape[0] * iters / dt


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", default="256x1,256x4,1024x1", help="RESxBATCH,...")
    p.add_argument("--modes", default="eager,function,xla")
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    args = p.parse_args()
    tf.config.experimental.enable_tensor_float_32_execution(False)
    results = []
    for case in args.cases.split(","):
        res, batch = map(int, case.lower().split("x"))
        net = SynthesisNetwork(StyleGANConfig(resolution=res), name="synthesis")
        ws = tf.constant(np.random.RandomState(0).randn(batch, net.config.num_layers, 512), tf.float32)
        fns = {
            "eager": lambda w: net(w, noise_mode="const"),
            "function": tf.function(lambda w: net(w, noise_mode="const")),
            "xla": tf.function(lambda w: net(w, noise_mode="const"), jit_compile=True),
        }
        for mode in args.modes.split(","):
            iters = max(1, args.iters // (3 if mode == "eager" else 1))
            ips = bench(fns[mode], ws, iters, args.warmup)
            ref = NVIDIA_REFERENCE_IMG_S.get((res, batch))
            note = f"  (issue #2 quotes {ref} img/s for NVIDIA's graph on its machine)" if ref else ""
            print(f"synthesis {res}x{res} batch {batch} {mode:8s}: {ips:7.2f} img/s{note}", flush=True)
            results.append({"resolution": res, "batch": batch, "mode": mode, "img_per_s": ips})
    print(json.dumps({"device": tf.config.list_logical_devices()[-1].device_type,
                      "cpu": platform.processor() or platform.machine(),
                      "threads": os.cpu_count(), "results": results}))


if __name__ == "__main__":
    main()
