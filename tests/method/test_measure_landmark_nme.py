"""tools/measure_landmark_nme.py: face-api's NME against dlib on a folder of photos (docs/landmark_net.md)."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("measure_landmark_nme", ROOT / "tools" / "measure_landmark_nme.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _one_error_line(capsys):
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("measure_landmark_nme.py: error: ")
    return err[0]


def test_bad_folders_fail_in_one_line(tool, tmp_path, capsys):
    assert tool.main([str(tmp_path / "missing")]) == 1
    assert "folder not found" in _one_error_line(capsys)
    (tmp_path / "file.jpg").write_bytes(b"")
    assert tool.main([str(tmp_path / "file.jpg")]) == 1
    assert "not a folder" in _one_error_line(capsys)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no photos here")
    assert tool.main([str(empty)]) == 1
    assert "no images" in _one_error_line(capsys)
    with pytest.raises(SystemExit):   # argparse: a malformed --box
        tool.main([str(empty), "--box", "tight=0.8,0.3,0.2,0.9"])


def test_helpers(tool):
    img = np.random.default_rng(0).integers(0, 255, (2, 16, 16, 3), dtype=np.uint8)
    moved = tool.shifted(img, 3, 2)   # content moves by (+3, +2): pixel (x, y) lands at (x + 3, y + 2)
    np.testing.assert_array_equal(moved[:, 2 + 5, 3 + 4], img[:, 5, 4])
    ref = np.random.default_rng(1).uniform(0.2, 0.8, (6, 68, 2))
    # a constant offset is what L_lnd cancels: removed exactly (leave-one-out of a constant is the constant)
    np.testing.assert_allclose(tool.debiased(ref + [0.03, -0.01], ref), ref, atol=1e-12)
    assert tool.square_box(0.68, 0.62) == (0.16, 0.28, 0.84, 0.96)
    assert tool.square_box(0.8, 0.64) == (0.1, 0.24, 0.9, 1.0)          # clipped at the bottom
    assert tool.square_box(0.8, 0.64, clip=False)[3] == pytest.approx(1.04)
    assert tool.pair_distances(ref).shape == (15,)
    assert tool.spearman(np.arange(5.0), np.arange(5.0) ** 2) == pytest.approx(1.0)


def test_measures_a_folder_of_photos(tool, tmp_path, capsys):
    """Three views of scikit-image's astronaut: every row of the table, the JSON per face. (The
    NASA patch on the suit is a weak dlib detection, 0.09-0.16: --min_score 0.5 keeps it out.)"""
    import skimage.data
    from PIL import Image
    photos = tmp_path / "photos" / "skimage"
    photos.mkdir(parents=True)
    img = Image.fromarray(skimage.data.astronaut())
    img.save(photos / "astronaut.png")
    img.transpose(Image.FLIP_LEFT_RIGHT).save(photos / "mirrored.jpg")
    img.rotate(8, Image.BILINEAR).save(photos / "rotated.jpg")
    md, js = tmp_path / "nme.md", tmp_path / "nme.json"
    assert tool.main([str(tmp_path / "photos"), "--box", "loose=0.16,0.28,0.84,0.96",
                      "--min_score", "0.5", "--markdown", str(md), "--json", str(js)]) == 0
    text = md.read_text()
    assert text == capsys.readouterr().out.rstrip("\n") + "\n"
    for name in ("face-api, whole image", "face-api, FFHQ face box", "face-api, loose", "mean-shape baseline",
                 "dlib (the reference), FFHQ box", "Faces per source folder: skimage 3"):
        assert name in text
    report = json.loads(js.read_text())
    assert report["n"] == 3 and report["counts"]["photos"] == 3 and report["people"] == 1
    rows = {r["name"]: r for r in report["rows"]}
    box = rows["face-api, FFHQ face box"]
    assert len(box["per_image"]) == 3 and 0 < box["nme"] < 0.15     # a frontal face: close to dlib
    assert box["consistency"]["shift"] < 0.05 and box["consistency"]["jpeg"] < 0.05
