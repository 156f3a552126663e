"""The toy world's pretrained networks (idd_tf.toynets, idd_tf.toynet_training) and scripts/train_toy_nets.py."""

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import ROOT, run_script, run_script_here

from idd_tf.method import config, encoders, presets
from idd_tf.toy import net_training as toynet_training
from idd_tf.toy import nets as toynets
from idd_tf.toy import world as toyworld

SMALL = {"id": {"widths": [8, 8, 8, 8], "embedding_dim": 16}, "lnd": {"base_filters": 4},
         "evaluator": {"widths": [8, 8, 8, 8], "hidden": 16, "embedding_dim": 16, "head_hidden": 8}}
SHIPPED = ROOT / "stylegan_weights" / "toy"


@pytest.fixture(scope="module")
def small_nets():
    tf.keras.utils.set_random_seed(0)
    return {n: toynets.build_net(n, **SMALL[n]) for n in toynets.NETS}


@pytest.mark.parametrize("size", [32, 64, 128])
def test_nets_take_any_size(small_nets, size):
    x = tf.random.uniform([3, size, size, 3], -1.0, 1.0, seed=size)
    emb = small_nets["id"](x).numpy()
    assert emb.shape == (3, 16)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    lnd = small_nets["lnd"](x).numpy()
    assert lnd.shape == (3, 68, 2) and lnd.min() >= 0.0 and lnd.max() <= 1.0
    out = small_nets["evaluator"](x)
    assert out["embedding"].shape == (3, 16)
    np.testing.assert_allclose(np.linalg.norm(out["embedding"].numpy(), axis=1), 1.0, atol=1e-5)
    assert out["continuous"].shape == (3, len(toynets.CONTINUOUS) + len(toynets.CIRCULAR_FACTORS))
    fac = small_nets["evaluator"].predict_factors(x)
    assert set(fac) == set(toyworld.FACTOR_NAMES)
    assert all(v.shape == (3,) for v in fac.values())
    assert small_nets["evaluator"].embed(x).shape == (3, 16)


def test_save_load_round_trip(small_nets, tmp_path):
    x = tf.random.uniform([2, 64, 64, 3], -1.0, 1.0, seed=1)
    for net, model in small_nets.items():
        files = toynets.save_net(model, tmp_path)
        assert files["weights"].name == f"toy_{net}.weights.h5"
        assert json.loads(files["config"].read_text())["config"] == {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in
            toynets.net_config(model)["config"].items()}
    loaded = toynets.load_toy_networks(tmp_path)
    for net, model in small_nets.items():
        a, b = model(x), loaded[net](x)
        for k in (a if isinstance(a, dict) else {"out": None}):
            va = (a[k] if isinstance(a, dict) else a).numpy()
            vb = (b[k] if isinstance(b, dict) else b).numpy()
            np.testing.assert_array_equal(va, vb)
    # the landmark weights are the project's E_lnd: encoders.LandmarkEncoder loads them as is
    info = json.loads((tmp_path / "toy_lnd.json").read_text())["landmark_encoder"]
    enc = encoders.LandmarkEncoder(config.LandmarkConfig(weights=str(tmp_path / "toy_lnd.weights.h5"), **info))
    np.testing.assert_allclose(enc(x).numpy(), small_nets["lnd"](x).numpy(), atol=1e-6)
    # ... and the toy E_id is the model's E_id with arch "toy" (file or directory)
    for weights in (tmp_path / "toy_id.weights.h5", tmp_path):
        e_id = encoders.IdentityEncoder(config.IdEncoderConfig(arch="toy", weights=str(weights)))
        assert e_id.embedding_size == 16 and not e_id.trainable_weights
        np.testing.assert_array_equal(e_id(x).numpy(), small_nets["id"](x).numpy())
    (tmp_path / "renamed.weights.h5").write_bytes((tmp_path / "toy_id.weights.h5").read_bytes())
    with pytest.raises(ValueError, match="toy_id.weights.h5"):
        encoders.IdentityEncoder(config.IdEncoderConfig(arch="toy", weights=str(tmp_path / "renamed.weights.h5")))
    with pytest.raises(ValueError, match="id_encoder.arch=.resnet18. is not allowed"):
        encoders.IdentityEncoder(config.IdEncoderConfig(arch="resnet18"))
    (tmp_path / "toy_evaluator.weights.h5").unlink()
    with pytest.raises(FileNotFoundError, match="toy_evaluator.weights.h5"):
        toynets.load_toy_networks(tmp_path)
    with pytest.raises(FileNotFoundError, match="toy_id.json"):
        toynets.load_net(tmp_path / "nowhere", "id")


def test_nets_of_another_world_version_are_refused(small_nets, tmp_path):
    """A net records the world it was trained on; one from another world (or from before versions
    were recorded: world 1) is refused with a clear message, since its numbers would not hold."""
    toynets.save_net(small_nets["id"], tmp_path)
    cfg = json.loads((tmp_path / "toy_id.json").read_text())
    assert cfg["world"] == toyworld.WORLD_VERSION
    toynets.load_net(tmp_path, "id")
    for old in ({**cfg, "world": toyworld.WORLD_VERSION - 1}, {k: v for k, v in cfg.items() if k != "world"}):
        (tmp_path / "toy_id.json").write_text(json.dumps(old))
        with pytest.raises(ValueError, match=f"toy world v1, but this code renders world v{toyworld.WORLD_VERSION}"):
            toynets.load_net(tmp_path, "id")


def test_the_models_toy_landmark_encoder_checks_the_world_too(tmp_path):
    """The method's E_lnd reads toy_lnd.weights.h5 directly (not through load_net): with
    toy_lnd.json beside it, a net from another world is refused there too; a landmark file
    without the json (scripts/train_landmarks.py's) loads as before."""
    for name in ("toy_lnd.weights.h5", "toy_lnd.json"):
        shutil.copy(Path(presets.TOY_WEIGHTS_DIR) / name, tmp_path / name)
    cfg = presets.TRAIN_PRESETS["toy"].landmarks
    lnd = dataclasses.replace(cfg, weights=str(tmp_path / "toy_lnd.weights.h5"))
    encoders.LandmarkEncoder(lnd)   # this world's: loads
    info = json.loads((tmp_path / "toy_lnd.json").read_text())
    (tmp_path / "toy_lnd.json").write_text(json.dumps({**info, "world": toyworld.WORLD_VERSION - 1}))
    with pytest.raises(ValueError, match="trained on toy world v1"):
        encoders.LandmarkEncoder(lnd)
    other = tmp_path / "mine"
    other.mkdir()
    shutil.copy(tmp_path / "toy_lnd.weights.h5", other / "landmarks.weights.h5")
    encoders.LandmarkEncoder(dataclasses.replace(cfg, weights=str(other / "landmarks.weights.h5")))


def test_evaluator_stem_stride_one(tmp_path):
    """stem_stride=1: a stride-1 stem then a 2x2 max-pool (every pixel phase seen) -- the same
    parameters and outputs as the stride-2 stem, kept through save/load; other strides refused;
    configs saved before the option (no "stem_stride") load as stride 2."""
    tiny = {"widths": [8, 8, 8, 8], "hidden": 16, "embedding_dim": 16, "head_hidden": 8}
    one, two = toynets.build_net("evaluator", stem_stride=1, **tiny), toynets.build_net("evaluator", **tiny)
    x = tf.random.uniform([2, 64, 64, 3], -1.0, 1.0, seed=2)
    a, b = one(x), two(x)
    assert one.count_params() == two.count_params() and a["continuous"].shape == b["continuous"].shape
    assert one.backbone.get_layer("stem").strides == (1, 1) and one.backbone.get_layer("stem_pool")
    toynets.save_net(one, tmp_path)
    loaded = toynets.load_net(tmp_path, "evaluator")
    assert loaded.stem_stride == 1
    np.testing.assert_array_equal(loaded(x)["continuous"].numpy(), a["continuous"].numpy())
    cfg = json.loads((tmp_path / "toy_evaluator.json").read_text())
    del cfg["config"]["stem_stride"]
    (tmp_path / "toy_evaluator.json").write_text(json.dumps(cfg))
    assert toynets.load_net(tmp_path, "evaluator").backbone.get_layer("stem").strides == (2, 2)
    with pytest.raises(ValueError, match="stem_stride"):
        toynets.build_net("evaluator", stem_stride=3, **tiny)


def test_learning_rate_warms_up_then_decays_to_two_percent():
    """The schedule train_toy_nets.py and probe_factors.py share: linear warm-up over 5% of the
    steps to the peak, cosine decay to 2% of it at the last step, monotone in between."""
    steps, peak = 2000, 2e-3
    lr = [toynet_training.learning_rate(i, steps, peak) for i in range(steps)]
    assert lr[0] == pytest.approx(peak / 100) and lr[99] == pytest.approx(peak)
    assert np.all(np.diff(lr[:100]) > 0) and np.all(np.diff(lr[100:]) <= 0)
    assert lr[-1] == pytest.approx(0.02 * peak, rel=1e-4)
    assert toynet_training.learning_rate(steps + 50, steps, peak) == pytest.approx(0.02 * peak)
    assert toynet_training.learning_rate(1050, steps, peak) == pytest.approx(peak * 0.51)   # halfway through the decay


def test_landmark_report_on_hand_made_points():
    ref = np.zeros((2, 68, 2))
    ref[:, :, 0] = np.linspace(0.2, 0.8, 68)
    ref[:, 36], ref[:, 45] = (0.3, 0.4), (0.7, 0.4)   # inter-ocular distance 0.4
    assert toynet_training.landmark_report(ref, ref)["nme"] == 0.0
    rep = toynet_training.landmark_report(ref + [0.012, 0.016], ref)   # every point 0.02 off
    assert rep["nme"] == pytest.approx(0.05) and rep["nme_median"] == pytest.approx(0.05)
    assert rep["images"] == 2


def test_r2_and_factor_report():
    rng = np.random.default_rng(0)
    t = rng.uniform(0, 1, 500)
    assert toynet_training.r2_score(t, t) == 1.0
    assert toynet_training.r2_score(np.full_like(t, t.mean()), t) == pytest.approx(0.0)
    assert toynet_training.r2_score(t + 0.1, t) < 0.9
    # circular: 0.99 predicted for 0.01 is an error of 0.02, not 0.98
    hue = np.array([0.01, 0.25, 0.5, 0.75])
    assert toynet_training.r2_score(hue - 0.02, hue, circular=True) > 0.98
    assert toynet_training.r2_score((hue - 0.02) % 1.0, hue) < 0.9
    factors = np.stack([toyworld.factor_vector(toyworld.identity_from_seed(i), toyworld.attributes_from_seed(i))
                        for i in range(50)])
    perfect = {n: factors[:, j] for j, n in enumerate(toyworld.FACTOR_NAMES)}
    rep = toynet_training.factor_report(perfect, factors)
    assert rep["r2_min"] == pytest.approx(1.0) and rep["accuracy_min"] == 1.0
    wrong = dict(perfect, glasses=1 - perfect["glasses"])
    assert toynet_training.factor_report(wrong, factors)["accuracy"]["glasses"] == 0.0
    # with factor effects: R^2 also over the renders a factor shows in; the invisible ones counted
    effects = {n: {"pixels": np.r_[np.zeros(10, int), np.full(40, 7)], "landmark_shift": np.full(50, 1.5)}
               for n in toynets.CONTINUOUS}
    j = toyworld.FACTOR_NAMES.index("yaw")
    half = dict(perfect, yaw=np.r_[np.full(10, factors[:10, j].mean()), factors[10:, j]])   # right where visible
    rep = toynet_training.factor_report(half, factors, effects)
    e = rep["effects"]["yaw"]
    assert e["invisible"] == 10 and e["pixels_median"] == 7 and e["landmark_shift_median"] == 1.5
    assert e["r2_where_visible"] == pytest.approx(1.0) and rep["r2"]["yaw"] < 0.999
    # the evaluator's targets decode back to the factors
    tg = toynets.factor_targets(factors)
    dec = toynets.decode_factors({"continuous": tg["continuous"],
                                  **{n: np.eye(int(toynets._ALL_FACTORS[n].high))[tg[n]] for n in toynets.DISCRETE}})
    for j, n in enumerate(toyworld.FACTOR_NAMES):
        np.testing.assert_allclose(dec[n], factors[:, j], atol=1e-5, err_msg=n)


def test_identity_content_report():
    """Known answers: an embedding that is a linear mix of the identity factors carries all of them
    (R^2 ~ 1); one that holds only skin tone carries skin tone and nothing else; noise carries none."""
    rng = np.random.default_rng(0)
    factors = np.stack([toyworld.factor_vector(toyworld.identity_from_seed(i), toyworld.attributes_from_seed(i))
                        for i in range(800)])
    ident = factors[:, [toyworld.FACTOR_NAMES.index(n) for n in toynet_training.IDENTITY_CONTINUOUS]]
    mixed = ident @ rng.normal(size=(ident.shape[1], 32))
    rep = toynet_training.identity_content_report(mixed[:600], factors[:600], mixed[600:], factors[600:], ridge=1e-6)
    assert rep["mean_r2"] > 0.99 and rep["fit"] == 600 and rep["test"] == 200
    skin = np.c_[factors[:, toyworld.FACTOR_NAMES.index("skin_tone")], rng.normal(size=(800, 7))]
    rep = toynet_training.identity_content_report(skin[:600], factors[:600], skin[600:], factors[600:])
    assert rep["r2"]["skin_tone"] > 0.95 and rep["r2"]["head_width"] < 0.1 and rep["mean_r2"] < 0.2
    noise = rng.normal(size=(800, 16))
    report = toynet_training.identity_content_report(noise[:600], factors[:600], noise[600:], factors[600:])
    assert report["mean_r2"] < 0.05


def test_verification_report():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(20, 8))
    labels = np.repeat(np.arange(20), 3)
    good = centres[labels] + 0.05 * rng.normal(size=(60, 8))
    rep = toynet_training.verification_report(good[:30], labels[:30], good[30:], labels[30:])
    assert rep["accuracy"] == 1.0 and rep["same_pairs"] == 30 and rep["different_pairs"] == 405
    noise = rng.normal(size=(60, 8))
    assert toynet_training.verification_report(noise[:30], labels[:30], noise[30:], labels[30:])["accuracy"] < 0.8
    with pytest.raises(ValueError):
        toynet_training.verification_report(good[:5], np.arange(5), good[30:], labels[30:])


def test_render_stream_is_deterministic_and_labels_follow_pixel_centres():
    a = toynet_training.RenderStream(5, 10, batch_size=4, fresh=2, window=6)
    b = toynet_training.RenderStream(5, 10, batch_size=4, fresh=2, window=6, start_step=2)
    try:
        [a.batch(s) for s in range(2)]
        ba, bb = a.batch(2), b.batch(2)
    finally:
        a.close(), b.close()
    for k in ba:
        np.testing.assert_array_equal(ba[k], bb[k])
    p, v, labelled = a.item(7)
    assert labelled and bool(ba["labelled"].all())
    e = toyworld.person_example(p, v, seed=5)
    r = toynet_training.render_people([p], [v], 5)
    np.testing.assert_allclose(r["landmarks"][0] * 64, e["landmarks"] + 0.5, atol=1e-4)
    np.testing.assert_array_equal(r["images"][0], e["image"])


def test_render_stream_labelled_pool_mixes_labelled_and_diverse_people():
    s = toynet_training.RenderStream(7, 10_000, batch_size=4, fresh=2, window=4, labelled_persons=10)
    try:
        items = [s.item(i) for i in range(400)]
        batch = s.batch(0)
    finally:
        s.close()
    persons = np.array([p for p, _, _ in items])
    labelled = np.array([lab for _, _, lab in items])
    np.testing.assert_array_equal(labelled, persons < 10)        # labelled exactly when in the pool
    assert 0.4 < labelled.mean() < 0.6                            # about half from the pool
    assert len(set(persons[~labelled])) > 150                     # the rest: many different people
    np.testing.assert_array_equal(batch["labelled"], batch["person"] < 10)


def test_quick_training_script(tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    proc = run_script("scripts/train_toy_nets.py", "--quick", "--out", out, "--work_dir", work, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for net in toynets.NETS:
        for name in toynets.file_names(net).values():
            assert (out / name).is_file(), name
        rep = json.loads((out / f"toy_{net}_report.json").read_text())
        assert rep["steps"] == 6 and rep["images_seen"] == 48 and rep["train_wall_s"] > 0
        card = (out / f"MODEL_CARD_{net}.md").read_text()
        assert "train_toy_nets.py" in card and f"{rep['images_seen']}" in card
    assert 0 <= json.loads((out / "toy_lnd_report.json").read_text())["report"]["landmarks"]["nme"]
    toynets.load_toy_networks(out)
    before = (out / "toy_lnd.weights.h5").read_bytes()
    proc = run_script_here("scripts/train_toy_nets.py", "--quick", "--net", "lnd", "--out", out, "--work_dir", work)
    assert proc.returncode != 0 and "overwrite" in proc.stderr
    assert (out / "toy_lnd.weights.h5").read_bytes() == before
    # --evaluate_only: measured again, training history kept, weights untouched
    card_before = (out / "MODEL_CARD_evaluator.md").read_text()
    weights_before = (out / "toy_evaluator.weights.h5").read_bytes()
    proc = run_script_here("scripts/train_toy_nets.py", "--quick", "--net", "evaluator", "--out", out,
                           "--evaluate_only", "--overwrite")
    assert proc.returncode == 0, proc.stderr[-3000:]
    card = (out / "MODEL_CARD_evaluator.md").read_text()
    made = card_before[card_before.index("## How it was made"):card_before.index("## Held-out")].rstrip()
    assert made in card and "re-measured" in card and "--evaluate_only" in card
    assert "What each factor shows" in card and "landmark shift" in card
    rep = json.loads((out / "toy_evaluator_report.json").read_text())
    assert rep["steps"] == 6 and "--evaluate_only" in rep["remeasured_by"] and "--work_dir" in rep["command"]
    assert set(rep["report"]["factors"]["effects"]) == set(toynets.CONTINUOUS)
    assert (out / "toy_evaluator.weights.h5").read_bytes() == weights_before
    # --card_command: what build_toy_world.py passes, so cards name its step, not its machine's paths
    named = "python scripts/build_toy_world.py --out <out> --work <work> --quick (its step 1)"
    proc = run_script_here("scripts/train_toy_nets.py", "--quick", "--net", "evaluator", "--out", out,
                           "--evaluate_only", "--overwrite", "--card_command", named)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((out / "toy_evaluator_report.json").read_text())["remeasured_by"] == named
    assert f"`{named}`" in (out / "MODEL_CARD_evaluator.md").read_text()
    proc = run_script_here("scripts/train_toy_nets.py", "--quick", "--net", "evaluator", "--out", tmp_path / "none",
                           "--evaluate_only", "--overwrite")
    assert proc.returncode != 0 and "is missing" in proc.stderr


NEEDED = [SHIPPED / toynets.file_names(n)[k] for n in toynets.NETS for k in ("weights", "config", "report")]


@pytest.mark.skipif(not all(p.is_file() for p in NEEDED), reason="shipped toy nets not in stylegan_weights/toy")
def test_shipped_nets_reach_their_targets():
    """Inference only, on fresh held-out renders (seeds never trained on, other people than the
    report's): every number within sampling noise of the shipped report, and every target the
    report claims as met is met (allowances for the 500-render sample: 0.02 accuracy, 0.005 NME,
    0.03 R^2; R^2 within 0.1 of the report's: a 500-render sample moves R^2 by a few hundredths,
    most for factors some renders do not show, such as light azimuth under no light)."""
    nets = toynets.load_toy_networks(SHIPPED)
    total = sum(p.stat().st_size for p in SHIPPED.rglob("*") if p.is_file())   # every shipped toy part
    assert total <= 30e6, total
    for net in toynets.NETS:
        shipped = json.loads((SHIPPED / toynets.file_names(net)["report"]).read_text())
        assert not shipped["quick"]
        sets = toynet_training.heldout_sets(net, persons=25, views=4, images=500, first_person=1000)
        rep = toynet_training.evaluate_net(net, nets[net], sets)
        met = shipped["targets_met"]
        if "verification" in rep:
            acc = rep["verification"]["accuracy"]
            assert acc >= shipped["report"]["verification"]["accuracy"] - 0.05
            if met["verification_accuracy"]:
                assert acc >= toynet_training.TARGETS["verification_accuracy"] - 0.02
        if "identity_content" in shipped["report"]:
            assert rep["identity_content"]["mean_r2"] >= shipped["report"]["identity_content"]["mean_r2"] - 0.1
        if "landmarks" in rep:
            nme = rep["landmarks"]["nme"]
            assert nme <= shipped["report"]["landmarks"]["nme"] * 1.25
            if met["nme"]:
                assert nme <= toynet_training.TARGETS["nme"] + 0.005
        if "factors" in rep:
            for n, r2 in rep["factors"]["r2"].items():
                ref = shipped["report"]["factors"]["r2"][n]
                assert r2 >= ref - 0.1, n
                if ref >= toynet_training.TARGETS["r2"]:
                    assert r2 >= toynet_training.TARGETS["r2"] - 0.03, n
            for n, acc in rep["factors"]["accuracy"].items():
                ref = shipped["report"]["factors"]["accuracy"][n]
                assert acc >= ref - 0.03, n
                if ref >= toynet_training.TARGETS["discrete_accuracy"]:
                    assert acc >= toynet_training.TARGETS["discrete_accuracy"] - 0.02, n


@pytest.mark.skipif(not (SHIPPED / "stylegan_toy.pkl").is_file(), reason="toy StyleGAN not shipped")
def test_shipped_toy_stylegan():
    """The shipped toy StyleGAN reads through the NVIDIA-pickle loader, draws varied 64 px samples,
    and its card's measured quality is on record; all shipped toy parts stay <= 30 MB together."""
    import idd_tf
    from idd_tf.stylegan import legacy
    from idd_tf.stylegan import networks as stylegan
    nets = legacy.load_networks(SHIPPED / "stylegan_toy.pkl")
    assert set(nets) == {"config", "G", "D", "Gs"} and nets["Gs"].resolution == 64
    G = nets["Gs"]
    z = np.random.RandomState(0).randn(8, G.latent_size).astype(np.float32)
    imgs = stylegan.to_uint8(G(z, truncation_psi=0.7, truncation_cutoff=8)).numpy()
    assert imgs.shape == (8, 64, 64, 3)
    np.testing.assert_array_equal(imgs, stylegan.to_uint8(idd_tf.load_stylegan(SHIPPED / "stylegan_toy.pkl")(
        z, truncation_psi=0.7, truncation_cutoff=8)).numpy())
    diffs = [np.abs(imgs[i].astype(float) - imgs[j]).mean() for i in range(8) for j in range(i + 1, 8)]
    assert min(diffs) > 2.0  # no two samples alike (no mode collapse)
    report = json.loads((SHIPPED / "stylegan_quality.json").read_text())
    assert report["quality"]["n"] >= 5000 and report["quality"]["fid"] >= report["quality"]["fid_floor"]
    card = (SHIPPED / "MODEL_CARD_stylegan.md").read_text()
    assert f"{report['quality']['fid']:.2f}" in card and "python scripts/build_toy_world.py" in card
    total = sum(p.stat().st_size for p in SHIPPED.iterdir() if p.suffix in (".h5", ".pkl"))
    assert total <= 30e6


def test_probe_factors_script(tmp_path):
    """A focused probe trains, scores every named factor on held-out renders and records how; a
    factor it cannot regress (discrete, circular or unknown) is refused by name."""
    out = tmp_path / "probe.json"
    proc = run_script("scripts/probe_factors.py", "--factors", "jaw_width,skin_tone", "--steps", "6",
                      "--widths", "8,8,8,8", "--hidden", "16", "--heldout", "40", "--out", out, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    assert set(res["r2"]) == {"jaw_width", "skin_tone"} and res["steps"] == 6 and res["heldout"] == 40
    assert all(np.isfinite(v) and v <= 1.0 for v in res["r2"].values())
    assert "R^2 skin_tone" in proc.stdout and "--factors jaw_width,skin_tone" in res["command"]
    proc = run_script_here("scripts/probe_factors.py", "--factors", "glasses,bg_hue")
    assert proc.returncode != 0 and "glasses, bg_hue" in proc.stderr


@pytest.mark.skipif(not (SHIPPED / "stylegan_toy.pkl").is_file(), reason="toy StyleGAN not shipped")
def test_build_toy_world_quality_only(tmp_path):
    """--quality_only measures the built StyleGAN again with the evaluator beside it: the card's
    quality section and the report's numbers are replaced, how it was made is kept, nothing trains."""
    import shutil
    for name in ("stylegan_toy.pkl", "MODEL_CARD_stylegan.md", "stylegan_quality.json",
                 *(toynets.file_names("evaluator")[k] for k in ("weights", "config"))):
        shutil.copyfile(SHIPPED / name, tmp_path / name)
    before = (tmp_path / "MODEL_CARD_stylegan.md").read_text()
    proc = run_script("scripts/build_toy_world.py", "--quality_only", "--out", tmp_path, "--quality_samples", "100",
                      "--work", tmp_path / "never", timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    card = (tmp_path / "MODEL_CARD_stylegan.md").read_text()
    cut = before.index("## Quality (")
    assert card[:cut] == before[:cut] and "100 samples vs 100 renders" in card
    report = json.loads((tmp_path / "stylegan_quality.json").read_text())
    assert report["quality"]["n"] == 100 and f"| FID | {report['quality']['fid']:.2f} |" in card
    assert report["steps"] == json.loads((SHIPPED / "stylegan_quality.json").read_text())["steps"]
    assert not (tmp_path / "never").exists() and (tmp_path / "stylegan_coverage.png").is_file()
    (tmp_path / "stylegan_toy.pkl").unlink()
    proc = run_script_here("scripts/build_toy_world.py", "--quality_only", "--out", tmp_path)
    assert proc.returncode != 0 and "is missing" in proc.stderr


def test_build_toy_world_rescore_run(tmp_path):
    """--rescore_run scores the shipped run again with the evaluator beside it: eval/ and the card's
    evaluation section are replaced (here 6 pairs), how it was made is kept, nothing trains."""
    import shutil
    shutil.copytree(SHIPPED, tmp_path / "toy")
    out = tmp_path / "toy"
    before = (out / "run" / "MODEL_CARD.md").read_text()
    proc = run_script("scripts/build_toy_world.py", "--rescore_run", "--out", out, "--run_eval_pairs", "6",
                      "--work", tmp_path / "never", timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    card = (out / "run" / "MODEL_CARD.md").read_text()
    cut = before.index("## Evaluation (")
    assert card[:cut] == before[:cut] and "## Evaluation (`eval/eval.md`, 6 pairs per source" in card
    result = json.loads((out / "run" / "eval" / "eval.json").read_text())
    assert result["n"] == 6 and result["run"] == f"{tmp_path.name}/toy/run"
    assert (out / "run" / "eval" / "eval.md").read_text() in card and not (tmp_path / "never").exists()
    assert not any(p.name.startswith(".eval") for p in (out / "run").iterdir())
    assert str(tmp_path) not in (out / "run" / "eval" / "eval.md").read_text() + card
    shutil.rmtree(out / "run")
    proc = run_script_here("scripts/build_toy_world.py", "--rescore_run", "--out", out)
    assert proc.returncode != 0 and "is missing" in proc.stderr


def test_target_weights_line_up_with_the_target_columns():
    """A factor's loss weight lands on its own column(s) of factor_targets (a hue on both cos and
    sin); unknown or discrete names are refused."""
    f = np.stack([toyworld.factor_vector(toyworld.identity_from_seed(s), toyworld.attributes_from_seed(s))
                  for s in range(3)])
    cols = toynets.factor_targets(f)["continuous"].shape[1]
    w = toynets.target_weights({"eye_color": 3.0, "bg_hue": 2.0})
    assert w.shape == (cols,) and w.sum() == cols + 2.0 + 2 * 1.0

    def changed_columns(name, value):
        g = f.copy()
        g[:, toyworld.FACTOR_NAMES.index(name)] = value
        diff = toynets.factor_targets(g)["continuous"] != toynets.factor_targets(f)["continuous"]
        return set(np.flatnonzero(diff.any(0)))
    assert changed_columns("eye_color", 0.123) == set(np.flatnonzero(w == 3.0))
    assert changed_columns("bg_hue", 0.123) == set(np.flatnonzero(w == 2.0)) and (w == 2.0).sum() == 2
    with pytest.raises(ValueError, match="glasses"):
        toynets.target_weights({"glasses": 2.0})


def test_a_work_folder_refuses_a_run_with_other_settings(tmp_path):
    """The toy nets' and E_attr pretraining's work folders: the same settings (or a changed key that
    may change, e.g. more steps) resume; any other change is a user error naming settings.json."""
    from idd_tf.utils.errors import UserError
    work = tmp_path / "w"
    toynet_training.claim_work_dir(work, {"lr": 1e-3, "steps": 10}, may_change=("steps",))
    toynet_training.claim_work_dir(work, {"lr": 1e-3, "steps": 20}, may_change=("steps",))
    assert json.loads((work / "settings.json").read_text())["steps"] == 20
    with pytest.raises(UserError, match="settings.json"):
        toynet_training.claim_work_dir(work, {"lr": 2e-3, "steps": 20}, may_change=("steps",))
    with pytest.raises(UserError, match="other settings"):
        toynet_training.claim_work_dir(work, {"lr": 1e-3, "steps": 30})


def test_the_resumable_loop_continues_where_it_stopped(tmp_path):
    """train_resumable: a run stopped after 3 of 6 steps goes on from step 3 (the stream started
    there, the counters kept), and the two halves make the same variable as one run of 6 steps."""
    class Stream:
        def __init__(self, start):
            self.starts = start

        def batch(self, step):
            return {"x": float(step + 1)}

        def close(self):
            pass

    def run(work, steps, lines):
        v = tf.Variable(0.0)

        def step_fn(batch, step):
            v.assign_add(batch["x"])
            return {"v": v}
        out = toynet_training.train_resumable(work, {"v": v}, steps, Stream, step_fn, images_per_step=4,
                                              name="t", log=lines.append, log_every=1, checkpoint_every=2)
        return float(v.numpy()), out

    lines = []
    whole, _ = run(tmp_path / "whole", 6, lines)
    assert whole == 21.0 and "t step 6/6  v 21.0000" in lines[-1] and "ETA 0s" in lines[-1]
    run(tmp_path / "halves", 3, [])
    lines = []
    resumed, out = run(tmp_path / "halves", 6, lines)
    assert resumed == whole and out["resumed_from"] == 3 and out["steps"] == 6 and out["images_seen"] == 24
    assert lines[0].startswith("t: resuming from step 3") and out["wall_s"] > 0 and out["cpu_s"] >= 0
