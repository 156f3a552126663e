"""Grids and contact sheets that explain themselves (idd_tf.annotate, combine_grid.py --annotate,
evaluate.py's best_worst.png)."""

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import run_script_here

from idd_tf.method import annotate, presets, protocol
from idd_tf.utils import image_files

SHIPPED = Path(presets.TOY_WEIGHTS_DIR)
needs_evaluator = pytest.mark.skipif(not (SHIPPED / "toy_evaluator.weights.h5").is_file(),
                                     reason="shipped evaluator absent")


def test_best_worst_ranks_both_ways_and_leaves_out_nan():
    ident = np.array([0.5, np.nan, 0.9, 0.1, 0.9, 0.3])
    lnd = np.array([0.02, 0.01, np.nan, 0.05, 0.03, 0.04])
    p = annotate.best_worst(ident, lnd, k=2)
    assert p["best identity"].tolist() == [2, 4] and p["worst identity"].tolist() == [3, 5]   # ties: pair order
    assert p["best landmarks"].tolist() == [1, 0] and p["worst landmarks"].tolist() == [3, 5]
    assert annotate.best_worst([np.nan], [np.nan], 4)["best identity"].size == 0


def test_kept_images_of_a_stream_are_those_of_the_final_extremes():
    rng = np.random.default_rng(0)
    ident = np.round(rng.uniform(0, 1, 60), 1)          # many ties
    lnd = rng.uniform(0, 0.1, 60)
    ident[rng.choice(60, 10, replace=False)] = np.nan   # unscored pairs
    per_pair = {"identity": [], "identity_arcface": [], "expression": [], "images": {}}
    for i, (a, b) in enumerate(zip(ident, lnd)):
        row = {} if np.isnan(a) else {"identity": a, "expression": b}
        protocol.keep_extremes(per_pair, 3, row, ("id", "attr", i), arcface=False)
        assert len(per_pair["images"]) <= 12
    final = annotate.best_worst(per_pair["identity"], per_pair["expression"], 3)
    assert set(per_pair["images"]) == {int(i) for idx in final.values() for i in idx}
    assert all(v[2] == i for i, v in per_pair["images"].items())


def test_captions_name_what_is_missing():
    assert annotate.caption(0.87312, 0.03421) == ["id 0.873", "lnd 0.0342"]
    assert annotate.caption(np.nan, np.nan, "no face") == ["no face", ""]
    assert annotate.caption(np.nan, 0.01, "no face in I_id") == ["id: no face in I_id", "lnd 0.0100"]
    assert annotate.scale_factor(32) == 4 and annotate.scale_factor(64) == 2 and annotate.scale_factor(256) == 1


@needs_evaluator
def test_toy_scores_of_a_grid_whose_cells_copy_an_input():
    from idd_tf.method import model
    from idd_tf.toy import nets as toynets
    from idd_tf.toy import world as toyworld
    r = 64
    ids = np.stack([toyworld.example(i, seed=11, resolution=r)["image"] for i in range(3)])
    attrs = np.stack([toyworld.example(20 + i, seed=11, resolution=r)["image"] for i in range(2)])
    # row 0: every cell is its I_id; row 1: every cell is its I_attr
    truth = np.stack([ids, np.repeat(attrs[1:2], 3, axis=0)])
    grid = model.swap_grid(None, ids, attrs, truth=truth)
    cells = annotate.grid_cells(grid, r)
    assert np.array_equal(cells["out"], truth) and np.array_equal(cells["id"], ids)
    from idd_tf.toy import evaluation as toy_evaluation
    scorer = toy_evaluation.ToyScorer(toynets.load_net(SHIPPED, "evaluator"))
    s = annotate.score_grid(scorer, grid, r)
    assert s["identity"].shape == (2, 3) and (s["note"] == "").all()
    np.testing.assert_allclose(s["identity"][0], 1.0, atol=1e-5)     # I_out == I_id
    np.testing.assert_allclose(s["landmarks"][1], 0.0, atol=1e-7)    # I_out == I_attr
    assert (s["identity"][1] < 0.99).all() and (s["landmarks"][0] > 0).all()
    assert annotate.caption(s["identity"][0, 0], s["landmarks"][0, 0])[0] == "id 1.000"
    out = annotate.annotate_grid(grid, r, s, scorer.legend(), ["a", "b", "c"], ["x", "y"])
    f = annotate.scale_factor(r)
    assert out.dtype == np.uint8 and out.shape[1] == grid.shape[1] * f and out.shape[0] > grid.shape[0] * f
    big = annotate.upscale(grid, f)
    cell = r * f
    assert np.array_equal(out[:cell, cell:], big[:cell, cell:])       # the images are untouched
    assert not np.array_equal(out[:cell, :cell], big[:cell, :cell])   # the corner explains the layout
    # a contact sheet of these pairs: one tile per pick, bigger than its images
    outs = cells["out"].reshape(-1, r, r, 3)   # pair i: identity i % 3, attributes i // 3
    sheet = annotate.best_worst_sheet(lambda i: (ids[i % 3], attrs[i // 3], outs[i]),
                                      s["identity"].ravel(), s["landmarks"].ravel(), scorer.legend(), r, k=2,
                                      title="t", extra=["more"] * 6)
    assert sheet.dtype == np.uint8 and sheet.shape[1] >= 2 * 3 * cell and sheet.shape[0] > 4 * cell


def test_face_scorer_same_face_and_no_face(astronaut):
    from idd_tf.method import faces
    face = faces.align_face(astronaut, 128)
    blank = np.full_like(face, 128)
    scorer = annotate.FaceScorer()
    s = scorer.score(np.stack([face, face, blank]), np.stack([face, blank, face]), np.stack([face, face, blank]))
    assert s["identity"][0] == pytest.approx(1.0, abs=1e-9) and s["landmarks"][0] == 0
    assert s["note"].tolist() == ["", "no face in I_attr", "no face"]
    assert np.isnan(s["landmarks"][1]) and s["identity"][1] == pytest.approx(1.0, abs=1e-9)
    assert np.isnan(s["identity"][2]) and np.isnan(s["landmarks"][2])
    assert any("dlib" in line for line in scorer.legend())
    # evaluate.py's per-pair record (metrics, real mode): scores per pair, images of the extremes only
    pairs = [("a", face, "a_flip", np.ascontiguousarray(face[:, ::-1])), ("a", face, "blank", blank),
             ("blank", blank, "a", face)]
    r = protocol.evaluate_pairs(lambda i, a: i.copy(), pairs, progress=False, keep_pairs=1)
    pp = r["_per_pair"]
    assert pp["identity"][0] == pytest.approx(1.0, abs=1e-9) and np.isnan(pp["identity"][1:]).all()
    assert list(pp["images"]) == [0] and np.array_equal(pp["images"][0][2], face)
    sheet = annotate.best_worst_sheet(lambda i: pp["images"][i], pp["identity"], pp["expression"],
                                      annotate.legend("face", no_face=False), 128, k=1)
    assert sheet.shape[1] >= 3 * 128 and sheet.shape[0] > 4 * 128   # 4 sections of one pair
    assert "_per_pair" not in protocol.evaluate_pairs(lambda i, a: i.copy(), pairs[:1], progress=False)


def test_combine_grid_annotate_on_a_random_tiny_run(default_run, tmp_path):
    run = default_run["run"]
    out = tmp_path / "annotated.png"
    proc = run_script_here("scripts/combine_grid.py", "--run", run, "--id_seeds", "0-2", "--attr_seeds", "10-11",
                           "--annotate", "--out", out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "annotated (scorer: dlib" in proc.stdout
    assert re.search(r"no face in I_out of \d of 6 cells", proc.stdout)   # random faces: mostly none
    img = image_files.load_image(out)
    f = annotate.scale_factor(32)   # the tiny run's 32 px cells, enlarged for the text
    assert img.shape[1] == 4 * 32 * f and img.shape[0] > 3 * 32 * f   # + caption strips and legend
    proc = run_script_here("scripts/combine_grid.py", "--run", run, "--pairs", "--annotate", "--id", tmp_path,
                           "--attr", tmp_path, "--outdir", tmp_path / "pairs")
    assert proc.returncode == 1 and "--annotate" in proc.stderr and "Traceback" not in proc.stderr
