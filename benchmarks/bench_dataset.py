"""Dataset generation throughput (`idd_tf.data.generate_dataset`): the first stage of every
training run (the default toy run writes 5,000 images before its first step).

    python benchmarks/bench_dataset.py [--num 512] [--batch 8] [--preset toy]

Measured on the 2-core CI CPU with the shipped toy StyleGAN (64 px), batch 8, 2026-11-27, while
a toy training run shared the CPU (load ~2; the same conditions back to back):

    before: G.mapping / G.truncate / G.synthesis called eagerly per batch       29 images/s
    after:  the same three calls in one tf.function (traced once per batch size)  66 images/s
            (batch 32 in the same function: 67 images/s, so batch 8 stays the default)

Outputs of the two paths differ by at most 1 in a uint8 pixel (0.005% of pixels) and 3e-6 in w:
float rounding of the fused graph. The default run's 5,000 images took 2m13s before on this
machine the same day.
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--num", type=int, default=512)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--preset", default="toy", help="train.py preset whose StyleGAN is used (tiny: random)")
    a = p.parse_args()
    import idd_tf
    from idd_tf.method import data, presets
    from idd_tf.stylegan import networks as stylegan
    c = presets.TRAIN_PRESETS[a.preset]
    G = idd_tf.load_stylegan(c.stylegan_weights) if c.stylegan_weights else stylegan.random_stylegan(c.stylegan)
    with tempfile.TemporaryDirectory() as tmp:
        data.generate_dataset(G, f"{tmp}/warm", a.batch, a.batch, batch_size=a.batch, progress=False)
        t0 = time.perf_counter()
        data.generate_dataset(G, f"{tmp}/d", a.num, 1000, batch_size=a.batch, progress=False)
        rate = a.num / (time.perf_counter() - t0)
    print(f"dataset generation, {a.preset} StyleGAN at {G.resolution} px, batch {a.batch}: {rate:.1f} images/s")


if __name__ == "__main__":
    main()
