"""Bad input to the NVIDIA pickle reader gets a clear StyleGANFormatError, never code execution."""

import pickle

import numpy as np
import nvidia_pickle_tools as npt
import pytest
from conftest import FIXTURE_PKL, run_script_here

from idd_tf.stylegan import legacy
from idd_tf.stylegan.legacy import StyleGANFormatError


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os
        return (os.system, (f"touch {self.marker}",))


def test_os_system_payload_refused_before_running(tmp_path):
    marker = tmp_path / "pwned"
    bad = tmp_path / "evil.pkl"
    bad.write_bytes(pickle.dumps((_Evil(marker),), protocol=4))
    # Sanity: an ordinary unpickler would run it.
    assert b"system" in bad.read_bytes()
    with pytest.raises(StyleGANFormatError, match=r"refused to load global '(posix|os)\.system'"):
        legacy.load_stylegan(bad)
    assert not marker.exists()


def test_payload_hidden_inside_network_state_refused(tmp_path):
    marker = tmp_path / "pwned2"
    G, D, Gs = npt.read_states(FIXTURE_PKL)
    Gs._state["static_kwargs"] = {**Gs._state["static_kwargs"], "x": _Evil(marker)}
    path = npt.write((G, D, Gs), tmp_path / "evil2.pkl")
    with pytest.raises(StyleGANFormatError, match="refused"):
        legacy.load_stylegan(path)
    assert not marker.exists()


def test_stylegan2_pickle_is_named(tmp_path):
    def net(name, func, variables, components=None):
        return npt.Network({"version": 3, "name": name, "static_kwargs": {},
                            "components": components or {}, "build_module_src": "",
                            "build_func_name": func, "variables": variables})
    w = np.zeros((512, 512), np.float32)
    synth = net("G_synthesis", "G_synthesis_stylegan2", [("4x4/Conv/mod_weight", w)])
    mapping = net("G_mapping", "G_mapping", [("Dense0/weight", w)])
    Gs = net("Gs", "G_main", [("dlatent_avg", np.zeros(512, np.float32))],
             {"synthesis": synth, "mapping": mapping})
    D = net("D", "D_stylegan2", [("4x4/Conv/weight", w)])
    path = npt.write((Gs, D, Gs), tmp_path / "sg2.pkl")
    with pytest.raises(StyleGANFormatError, match="StyleGAN2"):
        legacy.load_stylegan(path)


def test_truncated_file(tmp_path):
    data = FIXTURE_PKL.read_bytes()
    path = tmp_path / "cut.pkl"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(StyleGANFormatError, match="truncated"):
        legacy.load_stylegan(path)


@pytest.mark.parametrize("content, match", [
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "not a pickle"),
    (b"hello, not a network\n", "not a pickle"),
    (b"PK\x03\x04" + b"\0" * 64, "zip archive"),
    (b"", "not a pickle"),
])
def test_non_pickle_files(tmp_path, content, match):
    path = tmp_path / "x.pkl"
    path.write_bytes(content)
    with pytest.raises(StyleGANFormatError, match=match):
        legacy.load_stylegan(path)


def test_foreign_pickle(tmp_path):
    path = tmp_path / "dict.pkl"
    path.write_bytes(pickle.dumps({"weights": [1, 2, 3]}, protocol=4))
    with pytest.raises(StyleGANFormatError, match="dnnlib Network"):
        legacy.load_stylegan(path)


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="not found"):
        legacy.load_stylegan("/nonexistent/ffhq.pkl")


def test_missing_variable_is_named(tmp_path):
    G, D, Gs = npt.read_states(FIXTURE_PKL)
    synth = Gs._state["components"]["synthesis"]
    synth._state["variables"] = [(n, v) for n, v in synth._state["variables"]
                                 if n != "16x16/Conv1/StyleMod/bias"]
    path = npt.write((G, D, Gs), tmp_path / "missing.pkl")
    missing = r"missing from the pickle: \['synthesis/16x16_Conv1/StyleMod/bias'\]"
    with pytest.raises(StyleGANFormatError, match=missing):
        legacy.load_stylegan(path)
    # The untouched networks of the same file still load.
    assert legacy.load_stylegan(path, which="G").resolution == 128


def test_unknown_variable_is_named(tmp_path):
    G, D, Gs = npt.read_states(FIXTURE_PKL)
    D._state["variables"] = D._state["variables"] + [("8x8/Extra/weight", np.zeros(3, np.float32))]
    path = npt.write((G, D, Gs), tmp_path / "extra.pkl")
    with pytest.raises(StyleGANFormatError, match=r"no Keras counterpart: \['8x8/Extra/weight'\]"):
        legacy.load_discriminator(path)


def test_wrong_shape_is_reported(tmp_path):
    G, D, Gs = npt.read_states(FIXTURE_PKL)
    mapping = Gs._state["components"]["mapping"]
    mapping._state["variables"] = [(n, v[:, :128] if n == "Dense3/weight" else v)
                                   for n, v in mapping._state["variables"]]
    path = npt.write((G, D, Gs), tmp_path / "shape.pkl")
    with pytest.raises(StyleGANFormatError, match="shape mismatch.*mapping/Dense3/weight"):
        legacy.load_stylegan(path)


def test_progressive_snapshot_refused(tmp_path):
    G, D, Gs = npt.read_states(FIXTURE_PKL)
    synth = Gs._state["components"]["synthesis"]
    synth._state["variables"] = [(n, np.float32(1.5) if n == "lod" else v)
                                 for n, v in synth._state["variables"]]
    path = npt.write((G, D, Gs), tmp_path / "lod.pkl")
    with pytest.raises(StyleGANFormatError, match="lod must be 0"):
        legacy.load_stylegan(path)


def test_unsupported_state_version(tmp_path):
    G, D, Gs = npt.read_states(FIXTURE_PKL)
    Gs._state["version"] = 7
    path = npt.write((G, D, Gs), tmp_path / "v7.pkl")
    with pytest.raises(StyleGANFormatError, match="state version 7"):
        legacy.load_stylegan(path)


def test_protocol5_and_partial_static_kwargs_load_identically(tmp_path, reference):
    """Re-pickled under NumPy 2 names / protocol 5, static_kwargs emptied: config inferred from shapes."""
    G, D, Gs = npt.read_states(FIXTURE_PKL)
    for net in (Gs, Gs._state["components"]["synthesis"], Gs._state["components"]["mapping"]):
        net._state["static_kwargs"] = {}
    path = npt.write((G, D, Gs), tmp_path / "p5.pkl", protocol=5)
    nets = legacy.load_pickle(path, ("Gs",))
    c = nets["config"]
    assert (c.resolution, c.fmap_base, c.fmap_max, c.mapping_fmaps) == (128, 1024, 64, 256)
    img = np.transpose(nets["Gs"].synthesis(reference["dlatents_trunc_psi0p7_cut8"]), (0, 3, 1, 2))
    assert np.allclose(img, reference["images_trunc_psi0p7_cut8"], rtol=1e-4, atol=1e-4)


def test_converted_dir_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(StyleGANFormatError, match="stylegan.json"):
        legacy.load_stylegan(tmp_path / "empty")


def test_convert_script_reports_cleanly(tmp_path):
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(b"garbage")
    proc = run_script_here("scripts/convert_stylegan.py", bad, "--out", tmp_path / "out")
    assert proc.returncode == 1
    assert "not a pickle" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()
