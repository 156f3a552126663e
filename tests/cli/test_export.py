"""scripts/export.py: SavedModels that run with TensorFlow alone (idd_tf and Keras not importable)
compute what the Keras model computes."""

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from conftest import run_script

EXPORT = "scripts/export.py"

# Runs in a fresh interpreter that cannot import idd_tf (nor Keras): loads every exported model
# and writes what it computes on the inputs of in.npz to out.npz.
LOADER = """
import sys
for name in ("idd_tf", "keras"):
    try:
        __import__(name)
    except ImportError:
        pass
    else:
        raise SystemExit(name + " must not be importable here")
import numpy as np
import tensorflow as tf

export, io = sys.argv[1], sys.argv[2]
x = np.load(io + "/in.npz")
dis = tf.saved_model.load(export + "/disentangle").signatures["serving_default"]
syn = tf.saved_model.load(export + "/synthesis").signatures["serving_default"]
enc = tf.saved_model.load(export + "/encode").signatures
out = {"disentangle": dis(id_images=x["ids"], attr_images=x["attrs"])["images"],
       "synthesis": syn(ws=x["ws"])["images"]}
codes = enc["serving_default"](images=x["ids"])
out.update({"encode_" + k: v for k, v in codes.items()})
ws = enc["mapping"](id=codes["id"], attr=enc["serving_default"](images=x["attrs"])["attr"])["ws"]
out.update(mapping=ws, chain=syn(ws=ws)["images"])
lite = tf.lite.Interpreter(model_path=export + "/synthesis.tflite").get_signature_runner()
out["tflite"] = lite(ws=x["ws"])["images"]
assert not [m for m in sys.modules if m.split(".")[0] in ("idd_tf", "keras")]
np.savez(io + "/out.npz", **{k: np.asarray(v) for k, v in out.items()})
"""


@pytest.fixture(scope="module")
def exported(default_run, tmp_path_factory):
    """The default run exported (with --tflite) over an earlier, non-empty OUT (--overwrite)."""
    out = tmp_path_factory.mktemp("export") / "tiny"
    out.mkdir()
    (out / "stale.txt").write_text("an earlier export")
    proc = run_script(EXPORT, "--run", default_run["run"], "--out", out, "--tflite", "--overwrite")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"out": out, "proc": proc}


def test_export_replaces_earlier_out_with_overwrite(exported):
    out = exported["out"]
    assert sorted(p.name for p in out.iterdir()) == [
        "disentangle", "encode", "export.json", "synthesis", "synthesis.tflite"]
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp dirs left
    last = exported["proc"].stdout.strip().splitlines()[-1]
    assert last.startswith(f"wrote {out}: disentangle, synthesis, encode SavedModels") and " s" in last


def test_exported_models_match_keras_without_idd_tf(exported, default_run, tmp_path):
    from idd_tf.method import model
    from idd_tf.stylegan import networks as stylegan
    run = model.load_run(default_run["run"])
    net, G, cfg = run["model"], run["stylegan"], run["config"]
    ids = model.input_faces(None, "0-2", G, cfg)["images"]
    attrs = model.input_faces(None, "3-5", G, cfg)["images"]
    raw_ids, raw_attrs = stylegan.from_uint8(ids), stylegan.from_uint8(attrs)
    cross = net.encode(raw_ids, raw_attrs)
    recon = net.encode(raw_ids, raw_ids)
    image = stylegan.to_uint8(net(raw_ids, raw_attrs)["images"]).numpy()
    np.savez(tmp_path / "in.npz", ids=ids, attrs=attrs, ws=cross["ws"].numpy())

    block = tmp_path / "block"   # first on sys.path: shadows the editable install
    block.mkdir()
    for name in ("idd_tf", "keras"):
        (block / f"{name}.py").write_text(f"raise ImportError('{name} is blocked in this test')\n")
    (tmp_path / "loader.py").write_text(LOADER)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "loader.py", str(exported["out"]), str(tmp_path)],
                          cwd=tmp_path, env={**env, "PYTHONPATH": str(block), "TF_CPP_MIN_LOG_LEVEL": "2"},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = dict(np.load(tmp_path / "out.npz"))

    def near_uint8(a, b):
        assert a.dtype == np.uint8 and a.shape == b.shape == (3, G.resolution, G.resolution, 3)
        diff = np.abs(a.astype(int) - b.astype(int))
        assert diff.max() <= 1 and (diff > 0).mean() <= 1e-3, (diff.max(), (diff > 0).mean())

    for key in ("disentangle", "synthesis", "chain", "tflite"):  # chain: synthesis(mapping(encode))
        near_uint8(got[key], image)
    for key, ref in (("encode_id", cross["id"]), ("encode_attr", recon["attr"]),
                     ("encode_ws", recon["ws"]), ("mapping", cross["ws"])):
        np.testing.assert_allclose(got[key], np.asarray(ref), rtol=1e-5, atol=1e-5, err_msg=key)


def test_export_refuses_and_explains(exported, default_run, tmp_path):
    """Existing OUT without --overwrite, a directory that is no run, a missing checkpoint: exit 1
    with one error line each, and OUT untouched."""
    out = exported["out"]
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    cases = {"exists": ["--run", default_run["run"], "--out", out],
             "no_run": ["--run", tmp_path, "--out", tmp_path / "out"],
             "no_checkpoint": ["--run", default_run["run"], "--checkpoint", tmp_path / "ckpt-7",
                               "--out", tmp_path / "out"]}
    with ThreadPoolExecutor(len(cases)) as pool:   # three TF start-ups at once
        procs = dict(zip(cases, pool.map(lambda args: run_script(EXPORT, *args), cases.values())))
    expected = {"exists": f"{out}: directory is not empty; choose another output or pass --overwrite",
                "no_run": f"{tmp_path} is not a run directory: no config.json there",
                "no_checkpoint": f"checkpoint not found: {tmp_path / 'ckpt-7'}"}
    for name, proc in procs.items():
        assert proc.returncode == 1, (name, proc.stderr[-2000:])
        errors = [line for line in proc.stderr.splitlines() if line.startswith("E") and "export.py" in line]
        assert len(errors) == 1 and expected[name] in errors[0], (name, proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    assert not (tmp_path / "out").exists()
