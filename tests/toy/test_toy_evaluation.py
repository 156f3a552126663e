"""Scores against the toy world: KID, 1-D Wasserstein, factor coverage, StyleGAN quality."""

from pathlib import Path

import numpy as np
import pytest

from idd_tf.stylegan import config as sg_config
from idd_tf.stylegan import training as gt
from idd_tf.toy import evaluation as te
from idd_tf.toy import world as toyworld


def test_kid_is_zero_for_one_distribution_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(600, 8)), rng.normal(size=(600, 8))
    same = te.kid(a, b, subsets=5, subset_size=300)
    shifted = te.kid(a, b + 0.5, subsets=5, subset_size=300)
    assert abs(same["mean"]) < 0.01
    assert shifted["mean"] > 10 * abs(same["mean"]) and shifted["mean"] > 0.05


def test_wasserstein_1d_of_a_shift_is_the_shift():
    x = np.random.default_rng(1).normal(size=2000)
    assert te.wasserstein_1d(x, x) == 0.0
    assert te.wasserstein_1d(x, x + 0.3) == pytest.approx(0.3, abs=1e-9)
    assert te.wasserstein_1d(x, 2 * x) == pytest.approx(np.mean(np.abs(x)), rel=0.05)


def test_coverage_of_the_prior_itself_is_near_zero_and_a_collapse_is_not():
    ref = te.render_set(300, seed=5, resolution=32)
    other = te.render_set(300, seed=6, resolution=32)
    good = te.coverage(other["factors"], ref["factors"])
    collapsed = te.coverage({k: np.full_like(v, v[0]) for k, v in other["factors"].items()},
                            ref["factors"])
    assert set(good["per_factor"]) == set(toyworld.FACTOR_NAMES)
    assert good["mean_continuous"] < 0.2 and good["mean_discrete"] < 0.15
    assert collapsed["mean_continuous"] > 0.5 and collapsed["mean_discrete"] > 0.3


def test_stylegan_quality_and_plot(tmp_path):
    """End to end with a random StyleGAN and stand-in evaluator functions (pixel statistics)."""
    G = gt.build_networks(sg_config.GAN_PRESETS["quick"], seed=0)["Gs"]
    G.dlatent_avg.assign(G.mean_latent(64))

    def features(images):
        x = images.astype(np.float64) / 255.0
        return np.concatenate([x.mean((1, 2)), x.std((1, 2)), x[:, 8:24, 8:24].mean((1, 2))], 1)

    def factors(images):  # a crude "evaluator": background value from the corner pixel
        v = images[:, 0, 0].max(1) / 255.0
        return {"bg_value": v, "glasses": (images[:, 12, 12, 0] < 60).astype(int)}

    q = te.stylegan_quality(G, features, factors, n=120)
    assert q["fid"] > q["fid_floor"] >= 0            # random G is far from the renders
    assert q["kid"]["mean"] > q["kid_floor"]["mean"]
    assert q["coverage"]["per_factor"]["bg_value"]["w1_std"] > \
        q["coverage_floor"]["per_factor"]["bg_value"]["w1_std"]
    path = te.coverage_plot(q["_predicted"], q["_prior"], tmp_path / "cov.png", "test")
    assert path.stat().st_size > 5000


SHIPPED = Path(__file__).resolve().parents[2] / "stylegan_weights" / "toy"


@pytest.mark.skipif(not (SHIPPED / "toy_evaluator.weights.h5").is_file(), reason="shipped evaluator absent")
def test_disentanglement_scores_on_known_answers():
    """Copying I_attr has zero attribute error, copying I_id zero identity error (by construction);
    the truth (identity of I_id rendered with the attributes of I_attr) scores far better than
    either copy on the side it has to keep."""
    from idd_tf.toy import nets as toynets
    evaluator = toynets.load_net(SHIPPED, "evaluator")
    pairs = te.ground_truth_pairs(24, seed=5)
    ids, attrs, truth = pairs["id"], pairs["attr"], pairs["truth"]
    copy_attr = te.disentanglement_scores(evaluator, ids, attrs, attrs)
    copy_id = te.disentanglement_scores(evaluator, ids, attrs, ids)
    ideal = te.disentanglement_scores(evaluator, ids, attrs, truth)
    assert copy_attr["n"] == 24
    assert copy_attr["attr_factor_error"] == 0 and copy_attr["landmark_error"] == 0
    assert copy_attr["pose_error_deg"] == 0
    assert copy_id["id_factor_error"] == 0 and copy_id["id_discrete_error"] == 0
    np.testing.assert_allclose(copy_id["id_cosine"], 1.0, atol=1e-5)
    assert ideal["id_factor_error"] < 0.5 * copy_attr["id_factor_error"]
    assert ideal["attr_factor_error"] < 0.5 * copy_id["attr_factor_error"]
    assert ideal["id_cosine"] > copy_attr["id_cosine"] + 0.3
    assert ideal["pose_error_deg"] < 0.5 * copy_id["pose_error_deg"]
    assert set(ideal["id_per_factor"]) == set(te.IDENTITY_NAMES)
    assert ideal["per_pair"]["landmark_error"].shape == (24,)
    # the ground truth pairs: the truth is the render of (identity of I_id, attributes of I_attr)
    from idd_tf.toy import world as toyworld
    a = toyworld.person_example(0, 0, 5)
    np.testing.assert_array_equal(ids[0], a["image"])
    same = te.image_distances(truth, truth)
    assert same["l1"] == 0 and same["psnr"] >= 99 and abs(same["ms_ssim"] - 1) < 1e-5
    assert te.image_distances(attrs, truth)["psnr"] < 40


def test_factor_errors_units():
    pred = {"yaw": np.array([10.0, -30.0]), "bg_hue": np.array([0.95, 0.5]), "glasses": np.array([1, 0])}
    ref = {"yaw": np.array([0.0, -30.0]), "bg_hue": np.array([0.05, 0.5]), "glasses": np.array([1, 1])}
    got = te.factor_errors(pred, ref, ["yaw", "bg_hue", "glasses"])
    yaw_std = 60.0 / np.sqrt(12.0)
    np.testing.assert_allclose(got["per_factor"]["yaw"], 0.5 * 10.0 / yaw_std)
    np.testing.assert_allclose(got["per_factor"]["bg_hue"], 0.5 * 0.1 / (1 / np.sqrt(12.0)))  # wrapped
    assert got["per_factor"]["glasses"] == 0.5 and list(got["discrete"]) == [0.0, 1.0]


def test_factor_effects_see_what_a_factor_can_show():
    """Light azimuth shows nothing under no light and a lot under full light; colours move no
    landmark while jaw width moves the jaw contour (and only it, among the 68 points, by pixels);
    a hue (which wraps) is compared with its opposite, not with itself."""
    ident, att = toyworld.identity_from_seed(3), toyworld.attributes_from_seed(4)
    dark = toyworld.factor_vector(ident, dict(att, light_strength=0.0))
    lit = toyworld.factor_vector(ident, dict(att, light_strength=1.0))
    names = ["light_azimuth", "jaw_width", "skin_tone", "bg_hue"]
    eff = te.factor_effects(np.stack([dark, lit]), names)
    assert eff["light_azimuth"]["pixels"][0] == 0 and eff["light_azimuth"]["pixels"][1] > 200
    assert np.all(eff["skin_tone"]["landmark_shift"] == 0) and np.all(eff["skin_tone"]["pixels"] > 200)
    assert np.all(eff["bg_hue"]["pixels"] > 500)
    assert np.all(eff["jaw_width"]["landmark_shift"] > 2.0) and np.all(eff["jaw_width"]["pixels"] > 60)
    lo = toyworld.landmarks({**ident, "jaw_width": 0.62}, att)
    hi = toyworld.landmarks({**ident, "jaw_width": 1.0}, att)
    moved = np.flatnonzero(np.linalg.norm(hi - lo, axis=-1) > 1e-4)
    assert len(moved) and moved.max() <= 16   # dlib's jaw points 0-16


def test_jaw_width_and_chin_shape_move_different_parts_of_the_jaw():
    """Jaw width sets the jaw angle (the straight cheek above it tapers towards it); chin shape only
    bends the chin below it: the two read apart (in world v1 they bent the same curve)."""
    ident = dict(toyworld.identity_from_seed(5), jaw_width=0.8, chin_shape=2.2)
    att = dict(toyworld.NEUTRAL_ATTRIBUTES)

    def jaw(**change):
        return toyworld.landmarks({**ident, **change}, att, 64)[:17]

    by_width = np.abs(jaw(jaw_width=1.0)[:, 0] - jaw(jaw_width=0.62)[:, 0])
    by_chin = np.linalg.norm(jaw(chin_shape=3.0) - jaw(chin_shape=1.5), axis=-1)
    assert by_chin[[0, 1, 2, 14, 15, 16]].max() < 1e-3 and by_chin[[5, 6, 10, 11]].min() > 0.5
    assert by_width[[2, 3, 13, 14]].min() > 1.5 and by_width[8] < 1e-3   # the chin tip stays on the midline
