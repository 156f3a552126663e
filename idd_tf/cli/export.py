"""Export a trained run as TF SavedModels that run without idd_tf (TF Serving, tf.saved_model.load).

    python scripts/export.py --run runs/00000-toy --out export/toy
    python scripts/export.py --run RUN --checkpoint RUN/checkpoints/ckpt-200 --out export/x --overwrite

OUT holds three SavedModels and export.json (source run, checkpoint, sizes). R is the StyleGAN
resolution, L its num_layers, D its dlatent size; images are uint8 NHWC RGB [B, R, R, 3], already
FFHQ-aligned (no alignment inside); the batch size B is free:

    OUT/disentangle  serving_default(id_images, attr_images) -> {"images"}: IDDModel.call, i.e.
                     G.synthesis(M(E_id(I_id), E_attr(I_attr)), noise_mode="const"), as uint8
                     (NVIDIA's clip(round(x * 127.5 + 127.5)), idd_tf.stylegan.to_uint8)
    OUT/synthesis    serving_default(ws float32 [B, L, D]) -> {"images"} (const noise); one w
                     [B, D] for every layer: tile it to [B, L, D] first
    OUT/encode       serving_default(images) -> {"id", "attr", "ws"}: E_id(I), E_attr(I) and
                     M(id, attr) (the reconstruction's ws); mapping(id, attr) -> {"ws"}: M on codes
                     of different images, so synthesis(mapping(encode(A).id, encode(B).attr))
                     is disentangle(A, B)

    import tensorflow as tf
    out = tf.saved_model.load("OUT/disentangle").signatures["serving_default"](
        id_images=ids, attr_images=attrs)["images"]

The directory is built beside OUT and renamed into place; an existing OUT is refused without
--overwrite (then replaced: the old one is moved aside, the new one renamed in, the old deleted).
"""

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from absl import flags

import idd_tf.cli as cli
from idd_tf.utils.errors import UserError

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("run", None, "training run directory (toy: the shipped toy run)", required=True)
    flags.DEFINE_string("checkpoint", None, "a checkpoint prefix, or a folder of them such as "
                        "RUN/checkpoints/best_id (its latest); default: the run's latest")
    flags.DEFINE_string("out", None, "output directory (refused if it exists, unless --overwrite)", required=True)
    flags.DEFINE_bool("overwrite", False, "replace an existing OUT")
    flags.DEFINE_bool("tflite", False, "also OUT/synthesis.tflite, with its measured size and speed")


def modules(net):
    """{name: (tf.Module, signatures)}. Each module tracks the tf.Variables of the networks its
    functions use: not the Keras objects (SynthesisNetwork's int-keyed ToRGB dict cannot be saved),
    nor Keras variable wrappers (TFLite's from_saved_model then reads garbage weights)."""
    import tensorflow as tf

    from idd_tf.stylegan.networks import from_uint8, to_uint8
    G = net.stylegan
    r, L, D = G.resolution, G.num_layers, G.dlatent_size

    def image(name):
        return tf.TensorSpec([None, r, r, G.config.num_channels], tf.uint8, name=name)

    def code(name, size):
        return tf.TensorSpec([None, size], tf.float32, name=name)

    def module(name, *networks):
        m = tf.Module(name=name)
        m.network_variables = [v.value for n in networks for v in n.variables]
        return m

    # autograph=False: no tensor-dependent Python control flow; converting every layer is slow
    @tf.function(input_signature=[image("id_images"), image("attr_images")], autograph=False)
    def disentangle(id_images, attr_images):
        return {"images": to_uint8(net(from_uint8(id_images), from_uint8(attr_images))["images"])}

    @tf.function(input_signature=[tf.TensorSpec([None, L, D], tf.float32, name="ws")], autograph=False)
    def synthesis(ws):
        return {"images": to_uint8(G.synthesis(ws, noise_mode="const"))}

    @tf.function(input_signature=[image("images")], autograph=False)
    def encode(images):
        x = from_uint8(images)
        return net.encode(x, x)

    @tf.function(input_signature=[code("id", net.e_id.embedding_size),
                                  code("attr", net.e_attr.embedding_size)], autograph=False)
    def mapping(id, attr):  # noqa: A002 (the signature's input name)
        return {"ws": net.mapping(tf.concat([id, attr], axis=-1))}

    front = (net.e_id, net.e_attr, net.mapping)  # image -> ws
    return {"disentangle": (module("disentangle", *front, G.synthesis),
                            {"serving_default": disentangle}),
            "synthesis": (module("synthesis", G.synthesis), {"serving_default": synthesis}),
            "encode": (module("encode", *front), {"serving_default": encode, "mapping": mapping})}


def describe(fn) -> dict:
    """{"inputs": {name: "dtype [shape]"}, "outputs": {...}} of a signature function."""
    f = fn.get_concrete_function()

    def spec(t):
        return f"{t.dtype.name} [{', '.join('B' if d is None else str(d) for d in t.shape)}]"
    return {"inputs": {s.name: spec(s) for s in f.structured_input_signature[0]},
            "outputs": {k: spec(t) for k, t in f.structured_outputs.items()}}


def tflite(saved_dir: Path, path: Path, ws_shape, repeats: int = 20) -> dict:
    """Convert the synthesis SavedModel to TFLite: its size, batch-1 speed and agreement."""
    import numpy as np
    import tensorflow as tf
    blob = tf.lite.TFLiteConverter.from_saved_model(str(saved_dir)).convert()
    path.write_bytes(blob)
    ws = np.random.RandomState(0).randn(1, *ws_shape).astype(np.float32)
    runners = {"tflite": tf.lite.Interpreter(model_content=blob).get_signature_runner(),
               "saved_model": tf.saved_model.load(str(saved_dir)).signatures["serving_default"]}
    outputs, ms = {}, {}
    for name, run in runners.items():
        run(ws=ws)  # warm-up
        t = time.perf_counter()
        for _ in range(repeats):
            outputs[name] = np.asarray(run(ws=ws)["images"]).astype(int)
        ms[name] = 1000 * (time.perf_counter() - t) / repeats
    return {"file": path.name, "bytes": len(blob), "ms_per_image_b1": ms["tflite"],
            "saved_model_ms_per_image_b1": ms["saved_model"],
            "max_level_diff_vs_saved_model": int(np.abs(outputs["tflite"] - outputs["saved_model"]).max())}


def write_atomically(out: Path, fill):
    """fill(tmp_dir) into a temporary sibling of `out`, then rename it into place; fill's result."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    old = None
    try:
        result = fill(tmp)
        if out.exists() and not (out.is_dir() and not any(out.iterdir())):  # checked: --overwrite
            old = out.with_name(f"{tmp.name}.old")
            os.replace(out, old)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not out.exists():
            os.replace(old, out)
        raise
    if old is not None and old.is_dir():
        shutil.rmtree(old)
    elif old is not None:
        old.unlink()
    return result


def app_main(argv):
    import tensorflow as tf

    from idd_tf.method import model, presets
    from idd_tf.utils import fileio
    del argv
    t0 = time.perf_counter()
    out = Path(FLAGS.out)
    try:
        fileio.check_output(out, FLAGS.overwrite, is_dir=True)
        run = model.load_run(FLAGS.run, FLAGS.checkpoint)
    except ValueError as e:   # StyleGANFormatError and ConfigError are UserErrors already
        raise UserError(e) from e
    net, G = run["model"], run["stylegan"]
    parts = modules(net)

    def fill(tmp):
        for name, (module, signatures) in parts.items():
            tf.saved_model.save(module, str(tmp / name), signatures=signatures)
        info = {"run": str(presets.resolve_run_dir(FLAGS.run).resolve()), "checkpoint": str(run["checkpoint"]),
                "resolution": G.resolution, "num_layers": G.num_layers, "dlatent_size": G.dlatent_size,
                "id_size": net.e_id.embedding_size, "attr_size": net.e_attr.embedding_size,
                "image": "uint8 NHWC RGB, FFHQ-aligned", "noise_mode": "const",
                "signatures": {name: {k: describe(fn) for k, fn in sigs.items()}
                               for name, (_, sigs) in parts.items()}}
        if FLAGS.tflite:
            info["tflite"] = tflite(tmp / "synthesis", tmp / "synthesis.tflite", (G.num_layers, G.dlatent_size))
        (tmp / "export.json").write_text(json.dumps(info, indent=2) + "\n")
        return info

    info = write_atomically(out, fill)
    lite = info.get("tflite")
    extra = (f", synthesis.tflite {lite['bytes'] / 1e6:.1f} MB at {lite['ms_per_image_b1']:.1f} ms/image "
             f"(SavedModel {lite['saved_model_ms_per_image_b1']:.1f})" if lite else "")
    print(f"wrote {out}: disentangle, synthesis, encode SavedModels{extra} ({G.resolution} px, "
          f"checkpoint {run['checkpoint']}) in {time.perf_counter() - t0:.0f} s")


def main(argv=None):
    """`idd-export` and `python scripts/export.py`."""
    cli.run(app_main, define_flags, argv)


if __name__ == "__main__":
    main()
