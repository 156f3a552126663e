"""dlib's face-descriptor ResNet: the Keras model (`idd_tf.method.dlib_resnet`, batched) against
dlib's C++ (`dlib.face_recognition_model_v1.compute_face_descriptor`, one image per call, what
metrics.face_descriptor did before), faces/s on the same CPU, measured back to back.

    python benchmarks/bench_dlib_resnet.py                   # 64 chips, Keras batch 32, best of 3
    python benchmarks/bench_dlib_resnet.py --tiny            # 2 chips, 1 pass (the test-suite size)
    python benchmarks/bench_dlib_resnet.py --chip_box        # re-derive FFHQ_CHIP_BOX and measure it

Target: Keras batched >= 3x dlib's per-image call. Measured on this project's 2-core CI machine
(AMD EPYC, 2026-12-03, TensorFlow 2.21 CPU with oneDNN, dlib-bin 20.0.1; the machine shared with
a niced StyleGAN training and other jobs, load average 7-9, so both sides ran under the same
load, back to back; random 150x150 chips, best of 3 passes):

    Keras, batch 32 (64 chips)     116.5 faces/s     dlib per image   4.7 faces/s     24.7x
    Keras, batch 1  (32 chips)      56.5 faces/s     dlib per image   5.0 faces/s     11.2x
    --tiny (2 chips, 1 pass)        31.8 faces/s     dlib per image   4.3 faces/s      7.4x

(dlib-bin's wheel runs its convolutions without an optimised BLAS; a dlib built against MKL or
OpenBLAS would be faster than this. The ratio is this machine's, not a property of the network.)

`--chip_box`: for FFHQ-aligned faces (faces.align_face, 256 px, of the scikit-image photos:
astronaut and cameraman with flips and +-10 degree rotations, and the 98 detectable faces of
lfw_subset upscaled 8x), where dlib.get_face_chip_details(68 landmarks, 150, 0.25) puts the chip
(dlib_resnet.dlib_chip_box), its mean and spread, and the cosine between the descriptor of the
fixed crop (chip_from_aligned with FFHQ_CHIP_BOX) and that of dlib's own chip, on those photos
and on toy-world renders. Prints one line per result and a JSON summary last.
"""

import argparse
import json
import os
import platform
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def bench_speed(args):
    import dlib
    import tensorflow as tf

    from idd_tf.method import dlib_resnet as dr

    rng = np.random.RandomState(0)
    chips = rng.randint(0, 256, (args.num, dr.CHIP_SIZE, dr.CHIP_SIZE, 3)).astype(np.uint8)
    rec = dlib.face_recognition_model_v1(dr.default_weights())
    model = dr.build_model()
    fn = tf.function(lambda x: model(x, training=False), autograph=False)
    batches = [chips[i:i + args.batch].astype(np.float32) for i in range(0, args.num, args.batch)]
    fn(batches[0])                                      # trace
    if len(batches[-1]) != len(batches[0]):
        fn(batches[-1])
    rec.compute_face_descriptor(chips[0])               # warm-up
    keras_t, dlib_t = [], []
    for _ in range(args.repeats):                       # back to back, alternating
        t = time.perf_counter()
        for b in batches:
            np.asarray(fn(b))
        keras_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        for c in chips:
            rec.compute_face_descriptor(c)
        dlib_t.append(time.perf_counter() - t)
    keras_fps, dlib_fps = args.num / min(keras_t), args.num / min(dlib_t)
    print(f"keras batched (batch {args.batch}): {keras_fps:.1f} faces/s")
    print(f"dlib per image:                {dlib_fps:.1f} faces/s")
    print(f"ratio: {keras_fps / dlib_fps:.2f}x")
    return {"num": args.num, "batch": args.batch, "keras_faces_per_s": keras_fps,
            "dlib_faces_per_s": dlib_fps, "ratio": keras_fps / dlib_fps}


def aligned_real_faces(size=256, lfw=98):
    """FFHQ-aligned crops of the faces in scikit-image's photos (see the module docstring)."""
    import skimage.data
    from PIL import Image

    from idd_tf.method import faces

    ast = np.ascontiguousarray(skimage.data.astronaut())
    cam = np.ascontiguousarray(np.repeat(skimage.data.camera()[..., None], 3, -1))
    photos = []
    for img in (ast, cam):
        photos += [img, np.ascontiguousarray(img[:, ::-1])]
        photos += [np.asarray(Image.fromarray(img).rotate(a, resample=Image.BILINEAR)) for a in (-10, 10)]
    for face in skimage.data.lfw_subset()[:100]:        # the first 100 are faces
        up = Image.fromarray((np.clip(face, 0, 1) * 255).astype(np.uint8)).resize((200, 200), Image.BICUBIC)
        photos.append(np.pad(np.repeat(np.asarray(up)[..., None], 3, -1), ((60, 60), (60, 60), (0, 0)), mode="edge"))
    out = []
    for img in photos:
        try:
            aligned = faces.align_face(np.ascontiguousarray(img), size)
            faces.largest_face(aligned)                  # a face dlib's chip can be found for
            out.append(aligned)
        except faces.NoFaceError:
            pass
        if len(out) >= 8 + lfw:
            break
    return out


def bench_chip_box(args):
    import dlib

    from idd_tf.method import dlib_resnet as dr
    from idd_tf.method import faces
    from idd_tf.toy import world

    rec = dlib.face_recognition_model_v1(dr.default_weights())
    real = aligned_real_faces(256, lfw=args.lfw)
    boxes = np.array([dr.dlib_chip_box(img) for img in real])
    mean, std = boxes.mean(0), boxes.std(0)
    print(f"{len(real)} aligned real faces: dlib chip box mean {np.round(mean[:4], 4).tolist()} "
          f"(std {np.round(std[:4], 4).tolist()}), angle {mean[4]:+.4f} +- {std[4]:.4f} rad")

    def cosines(images, face_boxes):
        fixed = dr.descriptors(np.asarray(dr.chip_from_aligned(np.stack(images).astype(np.float32))))
        own = []
        for img, box in zip(images, face_boxes):
            shape = faces.dlib_models()["predictor"](img, dlib.rectangle(*map(int, box)))
            own.append(np.asarray(rec.compute_face_descriptor(img, shape)))
        own = np.asarray(own)
        cos = np.sum(fixed * own, 1) / np.linalg.norm(fixed, axis=1) / np.linalg.norm(own, axis=1)
        return cos, np.linalg.norm(fixed - own, axis=1)

    results = {"box_mean": mean[:4].tolist(), "box_std": std[:4].tolist(), "num_real": len(real)}
    for name, images in (("real 256", real), ("real 1024", aligned_real_faces(1024, lfw=min(args.lfw, 16)))):
        cos, dist = cosines(images, [faces.largest_face(i) for i in images])
        print(f"{name}: cosine(fixed crop, dlib chip) mean {cos.mean():.4f} min {cos.min():.4f}; euclidean "
              f"mean {dist.mean():.4f} max {dist.max():.4f} (n={len(cos)})")
        results[name] = {"mean": float(cos.mean()), "min": float(cos.min()), "dist_mean": float(dist.mean()),
                         "dist_max": float(dist.max()), "n": len(cos)}
    toys = [world.example(i, resolution=256)["image"] for i in range(args.toy)]
    cos, dist = cosines(toys, [faces.canonical_face_box(256)] * len(toys))
    print(f"toy 256: cosine(fixed crop, dlib chip) mean {cos.mean():.4f} min {cos.min():.4f}; euclidean "
          f"mean {dist.mean():.4f} max {dist.max():.4f} (n={len(cos)})")
    results["toy 256"] = {"mean": float(cos.mean()), "min": float(cos.min()), "dist_mean": float(dist.mean()),
                          "dist_max": float(dist.max()), "n": len(cos)}
    # two different real people for scale: the cosine of unrelated faces' descriptors
    d = dr.descriptors(np.asarray(dr.chip_from_aligned(np.stack(real[8:]).astype(np.float32))))
    dist = np.linalg.norm(d[:, None] - d[None], axis=-1)[~np.eye(len(d), dtype=bool)]
    d = d / np.linalg.norm(d, axis=1, keepdims=True)
    off = (d @ d.T)[~np.eye(len(d), dtype=bool)]
    print(f"for scale, different lfw faces: cosine mean {off.mean():.4f}, euclidean mean {dist.mean():.4f} "
          f"(dlib's same-person threshold: euclidean 0.6)")
    results["lfw_pairs"] = {"cosine_mean": float(off.mean()), "dist_mean": float(dist.mean())}
    return results


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--num", type=int, default=64, help="chips per pass")
    p.add_argument("--batch", type=int, default=32, help="Keras batch size")
    p.add_argument("--repeats", type=int, default=3, help="report the best of this many passes")
    p.add_argument("--tiny", action="store_true", help="2 chips, batch 2, 1 pass (tests)")
    p.add_argument("--chip_box", action="store_true", help="derive and measure the fixed chip crop")
    p.add_argument("--lfw", type=int, default=98, help="--chip_box: lfw_subset faces to use")
    p.add_argument("--toy", type=int, default=32, help="--chip_box: toy renders to measure on")
    args = p.parse_args()
    if args.tiny:
        args.num, args.batch, args.repeats, args.lfw, args.toy = 2, 2, 1, 2, 2
    summary = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count()}
    summary["chip_box" if args.chip_box else "speed"] = bench_chip_box(args) if args.chip_box else bench_speed(args)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
