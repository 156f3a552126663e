"""Convert face-api's 68-point landmark net (npm @vladmandic/face-api) to Keras, with golden outputs.

    python tools/convert_landmark_net.py                       # fetch, convert, run the original, write
    python tools/convert_landmark_net.py --node_dir /tmp/fa    # reuse an npm folder (node_modules inside)
    python tools/convert_landmark_net.py --check               # only compare the shipped files to the original

Steps (everything fetched goes to a temporary folder; nothing is fetched at run time):
1. `npm pack @vladmandic/face-api@VERSION`: the tfjs weights manifest + binary shard of
   `face_landmark_68_model` and the package's LICENSE;
2. dequantize every weight exactly as tfjs' `io.decodeWeights` does (uint8/uint16:
   float32(float64(q) * scale + min); float16: the half float) and load them into
   `idd_tf.method.landmark_nets.face_api_68_net` by layer name;
3. `npm install` face-api and the pure-JS @tensorflow/tfjs and run the ORIGINAL model under node
   (tools/face_api_landmarks.cjs, CPU backend) on fixed inputs: face crops of scikit-image's
   astronaut and camera photos, an FFHQ-aligned astronaut, toy-world renders, synthetic images;
   the weights tfjs decoded must equal ours bit for bit, the outputs to 1e-4;
4. write stylegan_weights/landmarks_face_api_68/: face_api_68.weights.h5, face_api_68.json,
   golden.npz (inputs uint8 + the original's outputs), LICENSE, MODEL_CARD.md (parity and the NME
   against dlib's 68 landmarks measured here).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from idd_tf.method import landmark_nets as ln  # noqa: E402

PACKAGE = "@vladmandic/face-api"
VERSION = "1.7.15"
TFJS_VERSION = "4.22.0"
MODEL = "face_landmark_68_model"
NODE_SCRIPT = ROOT / "tools" / "face_api_landmarks.cjs"
PARITY_TOL = 1e-4


def run(cmd, cwd):
    print("+", " ".join(map(str, cmd)), flush=True)
    return subprocess.run(list(map(str, cmd)), cwd=cwd, check=True, capture_output=True, text=True)


def npm_pack(tmp: Path) -> Path:
    """The extracted npm package folder (`package/`)."""
    out = run(["npm", "pack", f"{PACKAGE}@{VERSION}"], tmp)
    tgz = tmp / out.stdout.strip().splitlines()[-1]
    with tarfile.open(tgz) as tar:
        tar.extractall(tmp / "pack", filter="data")
    return tmp / "pack" / "package"


def npm_install(folder: Path) -> Path:
    """A folder whose node_modules runs tools/face_api_landmarks.cjs (face-api + pure-JS tfjs)."""
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "package.json").exists():
        (folder / "package.json").write_text('{"private": true}\n')
    run(["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts",
         f"{PACKAGE}@{VERSION}", f"@tensorflow/tfjs@{TFJS_VERSION}"], folder)
    return folder


def node_ready(folder: Path) -> bool:
    return (folder / "node_modules" / "@vladmandic" / "face-api").is_dir() and \
        (folder / "node_modules" / "@tensorflow" / "tfjs").is_dir()


def read_manifest(model_dir: Path) -> list[dict]:
    return json.loads((model_dir / f"{MODEL}-weights_manifest.json").read_text())


def dequantize(model_dir: Path) -> dict[str, np.ndarray]:
    """{name: float32 array} as tfjs' io.decodeWeights returns them (manifest order)."""
    manifest = read_manifest(model_dir)
    data = b"".join((model_dir / p).read_bytes() for g in manifest for p in g["paths"])
    out, offset = {}, 0
    for group in manifest:
        for spec in group["weights"]:
            if spec["dtype"] != "float32":
                raise ValueError(f"{spec['name']}: dtype {spec['dtype']} not handled")
            n = int(np.prod(spec["shape"])) if spec["shape"] else 1
            q = spec.get("quantization")
            if q is None:
                values, size = np.frombuffer(data, "<f4", n, offset), 4 * n
            elif q["dtype"] in ("uint8", "uint16"):
                dt = "<u1" if q["dtype"] == "uint8" else "<u2"
                raw = np.frombuffer(data, dt, n, offset)
                # tfjs: values[i] = v * scale + min, in JS doubles, stored in a Float32Array
                values, size = (raw.astype(np.float64) * q["scale"] + q["min"]).astype(np.float32), raw.nbytes
            elif q["dtype"] == "float16":
                raw = np.frombuffer(data, "<f2", n, offset)
                values, size = raw.astype(np.float32), raw.nbytes
            else:
                raise ValueError(f"{spec['name']}: quantization {q['dtype']} not handled")
            out[spec["name"]] = np.asarray(values, np.float32).reshape(spec["shape"])
            offset += size
    if offset != len(data):
        raise ValueError(f"the manifest covers {offset} bytes of {len(data)}")
    return out


def keras_weights(model, weights: dict[str, np.ndarray]) -> None:
    """Put face-api's weights into the Keras model by layer name; every weight used exactly once."""
    used = set()
    for layer in model.layers:
        if not layer.weights:
            continue
        prefix = layer.name.replace("_", "/") if layer.name != "fc" else "fc"
        if layer.name == "dense0_conv0":
            names = ["filters", "bias"]
        elif layer.name == "fc":
            names = ["weights", "bias"]
        else:
            names = ["depthwise_filter", "pointwise_filter", "bias"]
        values = [weights[f"{prefix}/{n}"] for n in names]
        if [v.shape for v in values] != [tuple(w.shape) for w in layer.weights]:
            raise ValueError(f"{layer.name}: shapes {[v.shape for v in values]} vs {[w.shape for w in layer.weights]}")
        layer.set_weights(values)
        used |= {f"{prefix}/{n}" for n in names}
    if used != set(weights):
        raise ValueError(f"weights not used: {sorted(set(weights) - used)}; missing: {sorted(used - set(weights))}")


# ----------------------------------------------------------------------------------------------
# Inputs.

def _square_crop(img, box, scale=1.0, shift=(0.0, 0.0), size=112):
    from PIL import Image
    l, t, r, b = box
    cx, cy = (l + r) / 2 + shift[0] * (r - l), (t + b) / 2 + shift[1] * (b - t)
    half = max(r - l, b - t) * scale / 2
    crop = Image.fromarray(img).crop((int(round(cx - half)), int(round(cy - half)),
                                      int(round(cx + half)), int(round(cy + half))))
    return np.asarray(crop.resize((size, size), Image.BILINEAR), np.uint8)


def _rgb(img):
    return np.ascontiguousarray(np.stack([img] * 3, -1) if img.ndim == 2 else img[..., :3]).astype(np.uint8)


# MTCNN boxes (left, top, right, bottom) of the faces in scikit-image's photos (idd_tf.method.faces
# .detect_faces, fixed here so the inputs do not depend on a detector version).
ASTRONAUT_BOX = (182, 64, 265, 171)
CAMERA_BOX = (197, 116, 255, 197)


def toy_image(i, size=112):
    """A toy-world render (128 px, the renderer wants a power of two) resized to `size` (Lanczos)."""
    from PIL import Image

    from idd_tf.toy import world
    img = world.example(i, resolution=128)["image"]
    u8 = np.asarray(img)
    if u8.dtype != np.uint8:
        u8 = np.clip(np.round((np.asarray(u8, np.float64) + 1.0) * 127.5), 0, 255).astype(np.uint8) \
            if u8.min() < 0 else np.clip(np.round(u8 * 255.0 if u8.max() <= 1.0 else u8), 0, 255).astype(np.uint8)
    return np.asarray(Image.fromarray(u8).resize((size, size), Image.LANCZOS), np.uint8)


def golden_inputs() -> tuple[np.ndarray, list[str]]:
    import skimage.data

    from idd_tf.method import faces
    astronaut, camera = _rgb(skimage.data.astronaut()), _rgb(skimage.data.camera())
    images, labels = [], []

    def add(img, label):
        images.append(img)
        labels.append(label)

    add(_square_crop(astronaut, ASTRONAUT_BOX), "astronaut face box")
    add(_square_crop(astronaut, ASTRONAUT_BOX, scale=1.4), "astronaut face box x1.4")
    add(_square_crop(astronaut, ASTRONAUT_BOX, scale=1.1, shift=(0.1, -0.08)), "astronaut face box x1.1 shifted")
    add(_square_crop(camera, CAMERA_BOX, scale=1.2), "camera face box x1.2")
    add(faces.align_face(astronaut, 112), "astronaut FFHQ-aligned")
    for i in range(3):
        add(toy_image(i), f"toy world example {i} (128 px -> 112)")
    rng = np.random.RandomState(0)
    add(rng.randint(0, 256, (112, 112, 3)).astype(np.uint8), "uniform noise")
    yy, xx = np.mgrid[0:112, 0:112]
    add(np.stack([xx * 255 // 111, yy * 255 // 111, (xx + yy) * 255 // 222], -1).astype(np.uint8), "colour ramps")
    add(np.full((112, 112, 3), 128, np.uint8), "flat grey")
    return np.stack(images), labels


# ----------------------------------------------------------------------------------------------
# The original under node.

def run_original(node_dir: Path, model_dir: Path, images_u8: np.ndarray, tmp: Path) -> dict:
    """face-api's FaceLandmark68Net under node/tfjs-cpu: {"landmarks" [N, 68, 2], "weights" flat
    float32 (tfjs-decoded, manifest order), "info"}."""
    work = Path(tempfile.mkdtemp(dir=tmp))
    np.asarray(images_u8, "<f4").tofile(work / "inputs.f32")
    script = node_dir / NODE_SCRIPT.name
    shutil.copyfile(NODE_SCRIPT, script)
    run(["node", script, model_dir, work / "inputs.f32", len(images_u8), work], node_dir)
    info = json.loads((work / "info.json").read_text())
    return {"landmarks": np.fromfile(work / "landmarks.f32", "<f4").reshape(len(images_u8), 68, 2),
            "weights": np.fromfile(work / "weights.f32", "<f4"), "info": info}


# ----------------------------------------------------------------------------------------------
# NME against dlib.

def aligned_real_faces(size=256) -> tuple[np.ndarray, list[str]]:
    """FFHQ-aligned crops of the two scikit-image photos with a face (astronaut, camera), each also
    mirrored and rotated by +-8 degrees before alignment: 12 aligned images (2 people)."""
    import skimage.data
    from PIL import Image

    from idd_tf.method import faces
    out, labels = [], []
    for name, img in (("astronaut", _rgb(skimage.data.astronaut())), ("camera", _rgb(skimage.data.camera()))):
        for flip in (False, True):
            for angle in (-8, 0, 8):
                src = img[:, ::-1] if flip else img
                src = np.asarray(Image.fromarray(np.ascontiguousarray(src)).rotate(angle, Image.BILINEAR), np.uint8)
                out.append(faces.align_face(src, size))
                labels.append(f"{name}{' mirrored' if flip else ''} rot {angle}")
    return np.stack(out), labels


def predict_in_box(net, images_u8, box=(0.0, 0.0, 1.0, 1.0)):
    """The net on the part `box` (left, top, right, bottom; fractions of the side) of each image,
    resized to 112 (bilinear), landmarks mapped back to [0, 1] units of the whole image."""
    import tensorflow as tf
    s = images_u8.shape[1]
    l, t, r, b = (int(round(v * s)) for v in box)
    x = tf.image.resize(ln.uint8_to_raw(images_u8[:, t:b, l:r]), [112, 112], method="bilinear")
    pts = net(x, training=False).numpy()
    return (np.array([l, t]) + pts * np.array([r - l, b - t])) / s


def nme_report(net, n_toy=32) -> dict:
    """NME (inter-ocular, metrics.nme) of the ported net against dlib's 68 points (aligned=True:
    dlib's box is the FFHQ canonical face box) on aligned real faces and on toy renders, and on the
    toy renders also against the toy world's true landmarks. "whole": the net sees the whole image
    resized to 112, as E_lnd does; "face_box": only faces.FFHQ_FACE_BOX (the box dlib is given),
    closer to the detector crops it was trained on. "mean_shape": the baseline of answering the
    reference's mean shape for every image. Landmarks in [0, 1] units (pixels / side)."""
    from idd_tf.method import faces, metrics
    from idd_tf.toy import world

    def score(images, ref, groups):
        out = {}
        for view, box in (("whole", (0.0, 0.0, 1.0, 1.0)), ("face_box", faces.FFHQ_FACE_BOX)):
            per = metrics.nme(predict_in_box(net, images, box), ref, per_image=True)
            out[view] = {"nme": float(per.mean()), "nme_median": float(np.median(per)),
                         **{g: float(per[idx].mean()) for g, idx in groups.items()}}
        out["mean_shape"] = {"nme": metrics.nme(np.broadcast_to(ref.mean(0), ref.shape), ref)}
        return out

    def dlib(images):
        return np.stack([faces.dlib_landmarks(im, aligned=True) for im in images]) / images.shape[1]

    real, labels = aligned_real_faces(256)
    groups = {name: [i for i, lab in enumerate(labels) if lab.startswith(name)] for name in ("astronaut", "camera")}
    report = {"aligned_real": {"n": len(real), "resolution": int(real.shape[1]),
                               "vs_dlib": score(real, dlib(real), groups)}}
    examples = [world.example(i, resolution=128) for i in range(n_toy)]
    toys = np.stack([np.asarray(e["image"], np.uint8) for e in examples])
    truth = np.stack([e["landmarks"] for e in examples]) / 128.0
    report["toy"] = {"n": len(toys), "resolution": 128, "vs_dlib": score(toys, dlib(toys), {}),
                     "vs_truth": score(toys, truth, {}), "dlib_vs_truth": metrics.nme(dlib(toys), truth)}
    # Does the net follow what L_lnd must see change? Correlation over the toy renders with the truth
    # of the inner-lip gap (points 62-66: mouth opening) and of the nose tip's x (point 30: yaw).
    for view, box in (("whole", (0.0, 0.0, 1.0, 1.0)), ("face_box", faces.FFHQ_FACE_BOX)):
        pred = predict_in_box(net, toys, box)
        gap = [np.linalg.norm(q[:, 62] - q[:, 66], axis=-1) for q in (pred, truth)]
        report["toy"]["vs_truth"][view]["corr_mouth_gap"] = float(np.corrcoef(*gap)[0, 1])
        report["toy"]["vs_truth"][view]["corr_nose_x"] = float(np.corrcoef(pred[:, 30, 0], truth[:, 30, 0])[0, 1])
    return report


# ----------------------------------------------------------------------------------------------

def model_card(meta: dict) -> str:
    par, nme = meta["parity"], meta["nme"]
    real, toy = nme["aligned_real"], nme["toy"]
    rd, td, tt = real["vs_dlib"], toy["vs_dlib"], toy["vs_truth"]

    def row(label, n, r):
        return (f"  | {label} | {n} | {r['whole']['nme']:.4f} | {r['face_box']['nme']:.4f} "
                f"| {r['mean_shape']['nme']:.4f} |")

    def part(label, n, r, key):
        return f"  | {label} | {n} | {r['whole'][key]:.4f} | {r['face_box'][key]:.4f} | |"

    rows = "\n".join([
        row(f"FFHQ-aligned real faces ({real['resolution']} px) vs dlib", real["n"], rd),
        part("- astronaut (frontal)", real["n"] // 2, rd, "astronaut"),
        part("- camera (3/4 profile, looking down, a camera in front)", real["n"] // 2, rd, "camera"),
        row("toy-world renders (128 px) vs dlib", toy["n"], td),
        row("toy-world renders (128 px) vs the true toy landmarks", toy["n"], tt),
        f"  | dlib itself vs the true toy landmarks | {toy['n']} | {toy['dlib_vs_truth']:.4f} | | |"])
    corr = (f"  Correlation with the toy truth over the {toy['n']} renders (whole / face box): inner-lip gap "
            f"(points 62-66) {tt['whole']['corr_mouth_gap']:.2f} / {tt['face_box']['corr_mouth_gap']:.2f}, "
            f"nose tip x (point 30) {tt['whole']['corr_nose_x']:.2f} / {tt['face_box']['corr_nose_x']:.2f}.")
    return f"""# face-api 68-point landmark net (Keras port) — model card

- **Source**: npm package `{PACKAGE}` version {VERSION}, files `model/{MODEL}-weights_manifest.json`
  and `model/{MODEL}.bin` (tfjs weights, uint8-quantized; npm tarball sha1 `{meta['npm_shasum']}`).
  Upstream: <https://github.com/vladmandic/face-api>, a maintained fork of Vincent Mühler's
  face-api.js (<https://github.com/justadudewhohacks/face-api.js>).
- **Licence**: MIT (`LICENSE` here, copied from the package).
- **Architecture**: FaceLandmark68Net — four dense blocks of depthwise-separable 3x3 convolutions
  (32, 64, 128, 256 channels), 7x7 average pool, dense 256 -> 136. {meta['params']:,} parameters.
  Keras: `idd_tf.method.landmark_nets.face_api_68_net`; E_lnd: `LandmarkConfig(arch="face_api_68")`.
- **Trained on** (the package's TUTORIAL.md, "68 Point Face Landmark Detection Models", as
  face-api.js' README): "a dataset of ~35k face images labeled with 68 face landmark points"; the
  dataset is not published. The points follow the iBUG 300-W 68-point order (face-api's
  FaceLandmarks68: jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth 48-67). Its inputs in
  face-api are face-detector boxes (SSD MobileNet V1 / Tiny Face Detector), not FFHQ-aligned images.
- **Input**: 112 x 112 RGB face box; face-api feeds 0..255 pixels minus the mean RGB
  (122.782, 117.001, 104.298), divided by 255. The Keras port takes the method's raw [-1, 1] images
  and does this itself. Non-square inputs are zero-padded to a square by face-api; E_lnd's inputs
  are square, so the port has no padding step.
- **Output**: [B, 68, 2] (x, y) relative to the input box (0..1, not clipped), iBUG-68 order (the
  order of dlib's predictor and of L_lnd's 51 inner points 17..67).
- **Parity with the original** (face-api {par['face_api']} on @tensorflow/tfjs {par['tfjs']}, backend
  `{par['backend']}`, under node {par['node']}): the weights tfjs decodes equal the converted ones bit for
  bit; on the {par['n']} stored inputs (`golden.npz`: face crops of scikit-image's astronaut and
  camera, an FFHQ-aligned astronaut, toy renders, noise, ramps, flat grey) the largest difference of
  a coordinate is {par['max_abs']:.2e} (mean {par['mean_abs']:.2e}) in units of the input side
  (tolerance {PARITY_TOL:g}); in 112-px pixels {par['max_abs'] * 112:.2e}.
- **Accuracy against dlib's 68 points** (NME: mean point error / outer-eye-corner distance,
  `idd_tf.method.metrics.nme`; dlib with `aligned=True`, i.e. given the FFHQ face box). "whole":
  the net sees the whole aligned image resized to 112 (what E_lnd does); "face box": only the FFHQ
  face box (0.22, 0.30, 0.78, 0.86 of the side), closer to the detector crops it was trained on;
  the baseline answers the reference's mean shape for every image.

  | images | n | NME whole | NME face box | mean-shape baseline |
  |---|---|---|---|---|
{rows}

  Real faces: scikit-image's astronaut and camera photos, each also mirrored and rotated by +-8
  degrees before `faces.align_face` — 12 images of only 2 people: a smoke test, not a benchmark.
  On the camera photo dlib's own points are doubtful too (NME compares two estimates).
{corr}
  See docs/landmark_net.md for what these numbers mean for L_lnd.
- **Rebuild**: `python tools/convert_landmark_net.py` (needs node + npm and registry access; writes
  everything in this folder); `python tools/convert_landmark_net.py --check` re-runs the original
  and compares.
"""


ACCURACY_START, ACCURACY_END = "- **Accuracy against dlib's 68 points**", "- **Rebuild**"


def keep_accuracy_section(card: str, old_path: Path) -> str:
    """`card` with its accuracy section replaced by the one of the card at `old_path`, if that
    card has one: the broader measurement of tools/measure_landmark_nme.py (160 real faces) is
    written there by hand and is kept over this tool's 12-image smoke test."""
    if not old_path.is_file():
        return card
    old = old_path.read_text()
    if ACCURACY_START not in old or ACCURACY_END not in old:
        return card
    keep = old[old.index(ACCURACY_START):old.index(ACCURACY_END)]
    return card[:card.index(ACCURACY_START)] + keep + card[card.index(ACCURACY_END):]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ln.WEIGHTS_DIR))
    p.add_argument("--node_dir", default=None, help="npm folder with face-api + tfjs installed (default: a temp one)")
    p.add_argument("--check", action="store_true", help="compare the shipped files to the original only")
    p.add_argument("--n_toy", type=int, default=32)
    args = p.parse_args(argv)
    out = Path(args.out)
    with tempfile.TemporaryDirectory(prefix="convert_landmark_net_") as tmp:
        tmp = Path(tmp)
        package = npm_pack(tmp)
        model_dir = package / "model"
        node_dir = Path(args.node_dir) if args.node_dir else tmp / "node"
        if not node_ready(node_dir):
            npm_install(node_dir)
        weights = dequantize(model_dir)
        if args.check:
            net = ln.face_api_68_net(out / "face_api_68.weights.h5")
            fresh = ln.face_api_68_net(weights=None)
            keras_weights(fresh, weights)
            if not all(np.array_equal(a, b) for a, b in zip(net.get_weights(), fresh.get_weights())):
                raise SystemExit("the shipped weights differ from the package's (dequantized)")
            gold = ln.read_golden(out / ln.GOLDEN_NAME)
            images = gold["inputs"]
        else:
            net = ln.face_api_68_net(weights=None)
            keras_weights(net, weights)
            images, labels = golden_inputs()
        orig = run_original(node_dir, model_dir, images, tmp)
        ours_flat = np.concatenate([weights[n].ravel() for n in orig["info"]["weights"]])
        if not np.array_equal(ours_flat.view(np.uint32), orig["weights"].view(np.uint32)):
            raise SystemExit("the dequantized weights differ from tfjs' decodeWeights")
        mine = net(ln.uint8_to_raw(images), training=False).numpy()
        diff = np.abs(mine - orig["landmarks"])
        node_version = run(["node", "--version"], tmp).stdout.strip()
        parity = {"n": len(images), "max_abs": float(diff.max()), "mean_abs": float(diff.mean()),
                  "face_api": orig["info"]["face_api"], "tfjs": orig["info"]["tfjs"],
                  "backend": orig["info"]["backend"], "node": node_version}
        print(json.dumps(parity, indent=1))
        if diff.max() > PARITY_TOL:
            raise SystemExit(f"parity failed: {diff.max():.3g} > {PARITY_TOL}")
        if args.check:
            gdiff = np.abs(orig["landmarks"] - gold["landmarks"]).max()
            print(f"original now vs stored golden outputs: max {gdiff:.3g}")
            return
        out.mkdir(parents=True, exist_ok=True)
        net.save_weights(out / "face_api_68.weights.h5")
        shasum = run(["npm", "view", f"{PACKAGE}@{VERSION}", "dist.shasum"], tmp).stdout.strip()
        nme = nme_report(net, args.n_toy)
        print(json.dumps(nme, indent=1))
        meta = {"arch": ln.FACE_API_68, "input_size": ln.FACE_API_INPUT_SIZE, "mean_rgb": list(ln.FACE_API_MEAN_RGB),
                "output": "[B, 68, 2] (x, y) relative to the input box, iBUG-68 order",
                "source": {"npm": PACKAGE, "version": VERSION, "model": MODEL, "npm_shasum": shasum},
                "params": int(net.count_params()), "npm_shasum": shasum, "parity": parity, "nme": nme,
                "rebuild": "python tools/convert_landmark_net.py"}
        (out / ln.CONFIG_NAME).write_text(json.dumps(meta, indent=1) + "\n")
        np.savez_compressed(out / ln.GOLDEN_NAME, inputs=images, landmarks=orig["landmarks"],
                            labels=np.array(labels))
        shutil.copyfile(package / "LICENSE", out / "LICENSE")
        (out / "MODEL_CARD.md").write_text(keep_accuracy_section(model_card(meta), out / "MODEL_CARD.md"))
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
