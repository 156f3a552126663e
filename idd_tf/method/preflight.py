"""`train.py --dry_run`: would this run start, and what will it cost? Nothing is written.

Every file the run needs is loaded for real (the StyleGAN pickle, the encoder and landmark
weights, the dataset manifest, which must match the StyleGAN), then one training step is timed on
a synthetic batch (random images and StyleGAN w), which also gives the process's peak memory.
"""

from __future__ import annotations

import hashlib
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from idd_tf.method.config import TrainConfig


def file_entry(path, role: str, hash_limit: int = 2 << 30) -> dict:
    """{"role", "path", "bytes", "sha256"} of a file (a directory: total bytes, no hash; files
    over `hash_limit` bytes are not hashed)."""
    p = Path(path)
    if p.is_dir():
        size = sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
        return {"role": role, "path": str(p), "bytes": size, "sha256": None}
    size = p.stat().st_size
    digest = None
    if size <= hash_limit:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        digest = h.hexdigest()
    return {"role": role, "path": str(p), "bytes": size, "sha256": digest}


# What each built-in pretrained network is, for the dry run's list of parts.
BUILT_IN = {
    ("E_id", "dlib_resnet"): ("dlib's face-recognition ResNet (face-recognition-models, CC0; run by its Keras port)",
                              "about 3 M faces of 7,485 people (dlib; 99.38% on LFW)"),
    ("E_lnd", "face_api_68"): ("face-api's FaceLandmark68Net (@vladmandic/face-api, MIT; shipped Keras port)",
                               "68-point iBUG landmarks (face-api's training data)"),
}
ORIGIN = {
    ("E_id", "resnet50_vggface2"): "VGGFace2 (about 3.3 M faces of 9,131 people)",
    ("E_id", "toy"): "toy-world renders (build_toy_world.py)",
    ("E_attr", "inception_v3"): "ImageNet",
    ("E_lnd", "cnn"): "dlib's 68 landmarks on the StyleGAN's images (train_landmarks.py) or your network",
}


def parts(config: TrainConfig) -> list[dict]:
    """Every network of a run: {"role", "arch", "path" (the weights used; None: random init or
    trained from scratch), "built_in" (weights that come with idd-tf or its dependencies),
    "from_scratch" (trained by the run, no weights wanted), "trained_on"}."""
    rows = [("StyleGAN", "stylegan_v1", config.stylegan_weights),
            ("E_id", config.id_encoder.arch, config.id_encoder.weights),
            ("E_attr", config.attr_encoder.arch, config.attr_encoder.weights),
            ("E_lnd", config.landmarks.arch, config.landmarks.weights)]
    out = []
    for role, arch, path in rows:
        built_in = BUILT_IN.get((role, arch))
        if built_in and not path:
            if arch == "dlib_resnet":
                from idd_tf.method import dlib_resnet
                path = dlib_resnet.default_weights()
            else:
                from idd_tf.method import landmark_nets
                path = str(landmark_nets.DEFAULT_WEIGHTS)
        scratch = role == "E_attr" and (arch in ("tiny", "small") or config.attr_encoder.from_scratch) and not path
        trained_on = (built_in[1] if built_in else "nothing before this run (from scratch)" if scratch else
                      ORIGIN.get((role, arch), "the StyleGAN's training images" if role == "StyleGAN" else "?"))
        out.append({"role": role, "arch": arch, "path": path, "built_in": bool(built_in), "from_scratch": scratch,
                    "source": built_in[0] if built_in else None, "trained_on": trained_on})
    return out


def _weights(config: TrainConfig):
    return [(p["role"], p["path"]) for p in parts(config)]


def check(config: TrainConfig) -> dict:
    """Load every part the run needs. Returns {"problems": [str], "files": [file_entry],
    "stylegan", "model" (None where a problem stopped the checks), "dataset": str}."""
    from idd_tf.method import data, model
    from idd_tf.stylegan import legacy
    from idd_tf.stylegan import networks as stylegan
    problems, files = [], []
    for role, path in _weights(config):
        if path and Path(path).exists():
            files.append(file_entry(path, role))
    G = None
    try:
        G = (legacy.load_stylegan(config.stylegan_weights) if config.stylegan_weights
             else stylegan.random_stylegan(config.stylegan, seed=config.seed))
    except (legacy.StyleGANFormatError, FileNotFoundError, ValueError) as e:
        problems.append(f"StyleGAN {config.stylegan_weights}: {e}")
    net = None
    if G is not None:
        try:   # builds E_id, E_attr, E_lnd, M, D_W: every weight file is read here
            net = model.IDDModel(config.replace(stylegan=G.config.to_dict()), G)
        except (FileNotFoundError, ValueError, OSError, KeyError) as e:
            problems.append(f"encoders: {type(e).__name__}: {e}")
    dataset = "generated at the start (config.dataset not set: RUN/dataset)"
    if config.dataset:
        manifest = Path(config.dataset) / data.MANIFEST
        if manifest.exists():
            try:
                meta = data.read_manifest(config.dataset)
                files.append(file_entry(manifest, "dataset manifest"))
                dataset = f"{config.dataset}: {meta.get('num_images', '?')} images, {meta['resolution']} px"
                if G is not None and (meta["resolution"], meta["dlatent_size"]) != (G.resolution, G.dlatent_size):
                    problems.append(f"dataset {config.dataset} was made by another StyleGAN: {meta['resolution']} px, "
                                    f"w {meta['dlatent_size']}-d; this StyleGAN is {G.resolution} px, "
                                    f"w {G.dlatent_size}-d")
            except (ValueError, OSError) as e:
                problems.append(str(e))
        else:
            dataset = f"{config.dataset}: absent or incomplete; {config.dataset_size} images generated at the start"
    return {"problems": problems, "files": files, "stylegan": G, "model": net, "dataset": dataset}


def timed_step(net, config: TrainConfig, repeats: int = 1) -> dict:
    """Seconds of one training step (the most expensive kind: a cross step with the adversarial
    and D_W updates), after one untimed step that traces it, on a synthetic batch; the process's
    peak resident memory (and the GPU's peak where there is one); and the seconds per image of
    dataset generation. The trainer's checkpoints go to a temporary folder that is removed."""
    from idd_tf.method import trainer as trainer_lib
    G = net.stylegan
    B, R = config.batch_size, G.resolution
    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(-1, 1, (B, R, R, 3)).astype(np.float32))
    w_real = G.mapping(tf.constant(rng.standard_normal((B, G.latent_size)).astype(np.float32)))[:, 0]
    batch = {"image": images, "attr_image": tf.reverse(images, [0]), "w_real": w_real}
    with tempfile.TemporaryDirectory() as tmp:
        tr = trainer_lib.Trainer(net, None, config, tmp)
        t0 = time.perf_counter()
        tr.train_step(batch, with_norms=False)        # traces the step 0 kind (cross + adversarial)
        first = time.perf_counter() - t0
        times = []
        for _ in range(repeats):
            tr.step.assign(0)
            t0 = time.perf_counter()
            metrics = tr.train_step(batch, with_norms=False)
            float(metrics["loss_id"])
            times.append(time.perf_counter() - t0)
    z = tf.constant(rng.standard_normal((B, G.latent_size)).astype(np.float32))
    G(z, truncation_psi=config.truncation_psi, truncation_cutoff=config.truncation_cutoff)
    t0 = time.perf_counter()
    G(z, truncation_psi=config.truncation_psi, truncation_cutoff=config.truncation_cutoff).numpy()
    gen = (time.perf_counter() - t0) / B
    out = {"first_step_s": first, "step_s": float(np.median(times)), "generate_s_per_image": gen,
           "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
           "finite": all(np.isfinite(float(v)) for v in metrics.values())}
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        out["gpu_peak_bytes"] = tf.config.experimental.get_memory_info(gpus[0].name)["peak"]
    return out


def report(config: TrainConfig, checked: dict, timing: dict | None) -> str:
    """The dry run's printout: files (sizes, hashes), dataset, cost estimate, verdict."""
    from idd_tf.utils.monitor import format_duration
    lines = ["parts:"]
    for p in parts(config):
        where = (p["source"] if p["built_in"] else p["path"] or
                 (f"trained from scratch (arch {p['arch']})" if p["from_scratch"] else
                  f"random init (allowed: {config.allow_random_encoders})"))
        lines.append(f"  {p['role']:<8} {p['arch']:<18} {where}; trained on: {p['trained_on']}")
    lines.append("files:")
    for f in checked["files"]:
        digest = f["sha256"][:16] if f["sha256"] else "-"
        lines.append(f"  {f['role']:<16} {f['bytes'] / 2**20:9.1f} MiB  sha256 {digest}  {f['path']}")
    lines.append(f"dataset: {checked['dataset']}")
    if timing:
        total = timing["step_s"] * config.steps
        lines.append(f"one step (batch {config.batch_size}): {timing['step_s']:.3f} s "
                     f"(first, with tracing: {timing['first_step_s']:.1f} s); {config.steps} steps: "
                     f"~{format_duration(total)} (+ validation and checkpoints)")
        if not (config.dataset and (Path(config.dataset) / "manifest.json").exists()):
            generation = format_duration(timing["generate_s_per_image"] * config.dataset_size)
            lines.append(f"dataset generation: ~{generation} "
                         f"for {config.dataset_size} images")
        mem = f"peak memory: {timing['peak_rss_bytes'] / 2**30:.2f} GiB (process)"
        if "gpu_peak_bytes" in timing:
            mem += f", {timing['gpu_peak_bytes'] / 2**30:.2f} GiB (GPU)"
        lines.append(mem)
        if not timing["finite"]:
            checked["problems"].append("the timed step gave non-finite losses (learning rates?)")
    if checked["problems"]:
        lines.append("would NOT start:")
        lines += [f"  {p}" for p in checked["problems"]]
    else:
        lines.append("ready: every file loads and a training step runs")
    return "\n".join(lines)
