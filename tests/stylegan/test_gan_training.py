"""StyleGAN v1 training (NVIDIA's recipe) and NVIDIA-format pickle writing."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from conftest import FIXTURE_PKL, ROOT, run_script

from idd_tf.stylegan import config as sg_config
from idd_tf.stylegan import legacy
from idd_tf.stylegan import networks as stylegan
from idd_tf.stylegan import training as gt
from idd_tf.toy import world as toyworld
from idd_tf.utils import configs
from idd_tf.utils.checkpoints import named_weights

# 32 px, a few channels, batch 4: a training step takes well under a second.
TINY = sg_config.GAN_PRESETS["quick"].replace(batch_size=4, checkpoint_every=2, log_every=1,
                                         sample_every=1000, snapshot_every=1000)


def _values(model):
    return {k: v.numpy().copy() for k, v in legacy.keras_weights(model).items()}


def _random_reals(n, r, seed=0):
    return np.random.RandomState(seed).randint(0, 256, (n, r, r, 3)).astype(np.uint8)


# -- NVIDIA format ------------------------------------------------------------------------------

def test_variable_names_and_order_match_nvidia(official_networks):
    """The writer's names, in order, equal those in the pickle NVIDIA's own code wrote."""
    names = legacy.nvidia_variable_names(official_networks["config"])
    G, D, Gs = legacy.read_pickle(FIXTURE_PKL)
    for net in (G, Gs):
        assert [n for n, _ in net.state["variables"]] == names["G"]
        comps = net.state["components"]
        assert [n for n, _ in comps["mapping"].state["variables"]] == names["G/mapping"]
        assert [n for n, _ in comps["synthesis"].state["variables"]] == names["G/synthesis"]
    assert [n for n, _ in D.state["variables"]] == names["D"]


def test_official_pickle_round_trip_is_bit_exact(official_networks, tmp_path):
    """load(NVIDIA) -> save_pickle -> the same variables, byte for byte, in NVIDIA's layout."""
    out = legacy.save_pickle(official_networks, tmp_path / "rt.pkl")
    for src, new in zip(legacy.read_pickle(FIXTURE_PKL), legacy.read_pickle(out)):
        assert new.state["name"] == src.state["name"]
        assert new.state["build_func_name"] == src.state["build_func_name"]
        a, _ = legacy.flatten_network(src, "src")
        b, _ = legacy.flatten_network(new, "new")
        assert a.keys() == b.keys()
        for k in a:
            assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k
    with pytest.raises(FileExistsError):
        legacy.save_pickle(official_networks, out)


@pytest.fixture(scope="module")
def one_step():
    """Networks (seed 0) and their trainer after one training step, with every weight before and
    after it; read-only for the tests below (one traced step serves three tests)."""
    nets = gt.build_networks(TINY, seed=0)
    trainer = gt.GANTrainer(nets["G"], nets["D"], nets["Gs"], TINY)
    before = {kind: _values(nets[kind]) for kind in ("G", "D", "Gs")}
    metrics = trainer.train_step(_random_reals(4, 32))
    after = {kind: _values(nets[kind]) for kind in ("G", "D", "Gs")}
    return {"nets": nets, "trainer": trainer, "before": before, "after": after, "metrics": metrics}


def test_trained_networks_round_trip_draw_the_same(one_step, tmp_path):
    """write -> load -> same images (G and Gs) and same D scores; config recovered from the pickle."""
    nets = one_step["nets"]  # trained one step: Gs != G, dlatent_avg != 0
    path = legacy.save_pickle(nets, tmp_path / "net.pkl")
    loaded = legacy.load_pickle(path)
    assert loaded["config"] == TINY.stylegan
    z = np.random.RandomState(1).randn(3, TINY.stylegan.latent_size).astype(np.float32)
    for kind in ("G", "Gs"):
        a = nets[kind](z, truncation_psi=0.7, truncation_cutoff=2)
        b = loaded[kind](z, truncation_psi=0.7, truncation_cutoff=2)
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    x = stylegan.from_uint8(_random_reals(4, 32, seed=2))
    np.testing.assert_array_equal(nets["D"](x).numpy(), loaded["D"](x).numpy())
    assert not np.array_equal(loaded["G"].dlatent_avg.numpy(), np.zeros(TINY.stylegan.dlatent_size))


# -- The training step ---------------------------------------------------------------------------

def test_step_updates_g_and_d_and_keeps_gs_the_ema(one_step):
    Gs, trainer, m = one_step["nets"]["Gs"], one_step["trainer"], one_step["metrics"]
    g0, d0, gs0 = (one_step["before"][k] for k in ("G", "D", "Gs"))
    for k in g0:
        np.testing.assert_array_equal(g0[k], gs0[k])  # Gs starts as a copy of G
    assert set(m) >= {"loss_g", "loss_d", "r1", "gs_beta"} and m["r1"] > 0
    g1, d1, gs1 = (one_step["after"][k] for k in ("G", "D", "Gs"))
    beta = gt.gs_beta(4, TINY.g_smoothing_kimg)
    assert beta == pytest.approx(0.5 ** (4 / 10_000))
    changed_g = [k for k in g1 if not np.array_equal(g0[k], g1[k])]
    changed_d = [k for k in d1 if not np.array_equal(d0[k], d1[k])]
    assert any("mapping/Dense0" in k for k in changed_g) and any("ToRGB_lod0" in k for k in changed_g)
    assert any("FromRGB_lod0" in k for k in changed_d) and any("4x4_Dense1" in k for k in changed_d)
    for k, var in legacy.keras_weights(Gs).items():
        if var.trainable:  # NVIDIA: Gs = lerp(G, Gs, beta) with G before its own step
            np.testing.assert_allclose(gs1[k], g0[k] + (gs0[k] - g0[k]) * beta, rtol=0, atol=1e-7)
    # G's dlatent_avg moved towards the batch mean of w (beta 0.995); Gs copied it (non-trainable)
    # before this step's forward passes, as in NVIDIA's fixture (its loop leaves the order open).
    assert np.abs(g1["dlatent_avg"]).max() > 0 and not np.array_equal(g1["dlatent_avg"], g0["dlatent_avg"])
    np.testing.assert_array_equal(gs1["dlatent_avg"], g0["dlatent_avg"])
    assert int(trainer.step.numpy()) == 1 and int(trainer.nimg.numpy()) == 4


def test_style_mixing_and_lazy_r1_follow_the_config():
    c = TINY.replace(r1_interval=2)
    nets = gt.build_networks(c, seed=0)
    trainer = gt.GANTrainer(nets["G"], nets["D"], nets["Gs"], c)
    r1 = [trainer.train_step(_random_reals(4, 32, seed=s))["r1"] for s in range(4)]
    assert r1[0] > 0 and r1[2] > 0 and r1[0] != r1[2]
    assert r1[1] == r1[0] and r1[3] == r1[2]  # lazy steps report the latest R1 (not 0)
    assert [int(v.numpy()) for v in trainer.d_opt.variables[:1]] == [4]  # D stepped every time
    # Style mixing: with prob 1 the image depends on the second latent (drawn from the run's seed);
    # with prob 0 it does not. The same first latent z, the same stored noise, fresh equal networks.
    z = np.random.default_rng(3).standard_normal((4, c.stylegan.latent_size)).astype(np.float32)
    outs = {}
    for prob in (0.0, 1.0):
        fakes = []
        for seed in (0, 1):
            cs = c.replace(style_mixing_prob=prob, dlatent_avg_beta=1.0, seed=seed)
            n = gt.build_networks(cs, seed=0)
            t = gt.GANTrainer(n["G"], n["D"], n["Gs"], cs)
            fakes.append(t.run_step(_random_reals(4, 32, seed=0), z, noise_mode="const", details=True)["fakes"])
        outs[prob] = float(np.abs(fakes[0] - fakes[1]).max())
    assert outs[0.0] == 0.0 and outs[1.0] > 1e-3


def test_r1_gamma_schedule_switches_by_image_count():
    """gamma is r1_gamma until r1_late_kimg thousand images, then r1_gamma_late (a function of the
    image counter, so resumes switch at the same step); the gamma in use changes D's update."""
    c = TINY.replace(r1_gamma=0.0, r1_gamma_late=5.0, r1_late_kimg=0.008)   # batch 4: from step 2
    assert [gt.r1_gamma_at(c, k) for k in (0.0, 0.004, 0.008, 1.0)] == [0.0, 0.0, 5.0, 5.0]
    assert gt.r1_gamma_at(TINY, 1e6) == TINY.r1_gamma and TINY.r1_gamma_late is None
    nets = gt.build_networks(c, seed=0)
    trainer = gt.GANTrainer(nets["G"], nets["D"], nets["Gs"], c)
    logs = [trainer.train_step(_random_reals(4, 32, seed=s)) for s in range(3)]
    assert [m["r1_gamma"] for m in logs] == [0.0, 0.0, 5.0]
    assert logs[2]["r1"] > 0
    d_after = {}
    for gamma in (1.0, 100.0):
        nets = gt.build_networks(c, seed=0)
        t = gt.GANTrainer(nets["G"], nets["D"], nets["Gs"], c.replace(r1_gamma=gamma, r1_gamma_late=None))
        t.train_step(_random_reals(4, 32, seed=9))
        d_after[gamma] = _values(nets["D"])
    assert any(not np.allclose(d_after[1.0][k], d_after[100.0][k]) for k in d_after[1.0])
    with pytest.raises(configs.ConfigError):
        TINY.replace(r1_gamma_late=-1.0)


def test_checkpoint_restores_every_variable(one_step, tmp_path):
    """G, D and Gs (which no optimizer references), noise buffers and dlatent_avg included."""
    nets_a, a = one_step["nets"], one_step["trainer"]  # after one step
    path = a.checkpoint.save(str(tmp_path / "ckpt"))
    nets_b = gt.build_networks(TINY, seed=1)  # different initial values everywhere
    b = gt.GANTrainer(nets_b["G"], nets_b["D"], nets_b["Gs"], TINY)
    assert not np.array_equal(_values(nets_b["G"])["dlatent_avg"], _values(nets_a["G"])["dlatent_avg"])
    b.checkpoint.restore(path).assert_consumed()
    for kind in ("G", "D", "Gs"):
        va, vb = _values(nets_a[kind]), _values(nets_b[kind])
        for k in va:
            np.testing.assert_array_equal(va[k], vb[k], err_msg=f"{kind}/{k}")
    assert int(b.step.numpy()) == 1 and int(b.nimg.numpy()) == 4


def test_resume_equals_uninterrupted_run(tmp_path):
    """In-process: equal up to float reduction order (this process does not enable TF op
    determinism); the script test below (slow), which does, demands bit equality."""
    source = toyworld.image_source(32, seed=0)

    def fresh():
        nets = gt.build_networks(TINY, seed=0)
        return nets, gt.GANTrainer(nets["G"], nets["D"], nets["Gs"], TINY)

    nets_a, a = fresh()
    gt.train(a, source, tmp_path / "b", total_steps=2)   # "killed" after the step-2 checkpoint
    # uninterrupted: the same objects go on (a directory without checkpoints: nothing restored)
    gt.train(a, source, tmp_path / "a", total_steps=4)
    assert int(a.step.numpy()) == 4 and not (tmp_path / "a" / "checkpoints" / "ckpt-2.index").exists()
    nets_c, c = fresh()                                    # a new process: new objects, restore
    result = gt.train(c, source, tmp_path / "b", total_steps=4)
    assert result["step"] == 4 and result["nimg"] == 16
    for kind in ("G", "D", "Gs"):
        va, vc = _values(nets_a[kind]), _values(nets_c[kind])
        for k in va:
            np.testing.assert_allclose(va[k], vc[k], rtol=1e-5, atol=1e-6, err_msg=f"{kind}/{k}")
    for opt in ("g_opt", "d_opt"):
        wa = [v.numpy() for v in getattr(a, opt).variables]
        wc = [v.numpy() for v in getattr(c, opt).variables]
        assert len(wa) == len(wc) > 0
        for x, y in zip(wa, wc):
            np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-7)


def test_divergence_stops_without_checkpointing_nan(tmp_path):
    c = TINY.replace(g_lr=1e12, d_lr=1e12, checkpoint_every=1)
    nets = gt.build_networks(c, seed=0)
    trainer = gt.GANTrainer(nets["G"], nets["D"], nets["Gs"], c)
    with pytest.raises(FloatingPointError, match=r"diverged at step \d+"):
        gt.train(trainer, toyworld.image_source(32), tmp_path, total_steps=50)
    latest = tf.train.latest_checkpoint(str(tmp_path / "checkpoints"))
    if latest is not None:  # every checkpoint written holds finite values only
        reader = tf.train.load_checkpoint(latest)
        for name in reader.get_variable_to_shape_map():
            value = reader.get_tensor(name)
            if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                assert np.isfinite(value).all(), name


def test_folder_source_is_deterministic_and_cycles(tmp_path):
    from idd_tf.toy import world as toyworld
    from idd_tf.utils import fileio
    for i in range(3):
        fileio.save_image(tmp_path / f"{i}.png", toyworld.example(i, resolution=64)["image"])
    src = gt.folder_source(tmp_path, 32, seed=1)
    a, b = src(0, 6), src(0, 6)
    assert a.shape == (6, 32, 32, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    firsts = {x.tobytes() for x in a[:3]}
    assert len(firsts) == 3 and {x.tobytes() for x in a[3:]} == firsts  # each epoch = every image once
    with pytest.raises(FileNotFoundError, match="no images"):
        gt.folder_source(tmp_path / "empty", 32)


@pytest.mark.slow
def test_script_resumes_after_kill_9(tmp_path):
    """train_stylegan.py killed with SIGKILL mid-run, rerun: the final pickle equals an
    uninterrupted run's. Slow (three processes); the default run keeps the in-process
    test_resume_equals_uninterrupted_run and test_checkpoint_restores_every_variable."""
    args = ["scripts/train_stylegan.py", "--preset", "quick", "--kimg", "0.08",
            "--set", "batch_size=4", "--set", "checkpoint_every=5", "--set", "snapshot_every=1000"]
    full = run_script(*args, "--run_dir", tmp_path / "full")
    assert full.returncode == 0, full.stderr[-2000:]
    assert "ETA" in full.stdout + full.stderr
    run = tmp_path / "killed"
    env = dict(__import__("os").environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.Popen([sys.executable, *args, "--run_dir", str(run)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and not (run / "checkpoints" / "ckpt-10.index").exists():
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "network-final.pkl").exists()
    again = run_script(*args, "--run_dir", run)
    assert again.returncode == 0, again.stderr[-2000:]
    a = legacy.read_pickle(tmp_path / "full" / "network-final.pkl")
    b = legacy.read_pickle(run / "network-final.pkl")
    for x, y in zip(a, b):
        fx, _ = legacy.flatten_network(x, "x")
        fy, _ = legacy.flatten_network(y, "y")
        for k in fx:
            np.testing.assert_array_equal(fx[k], fy[k], err_msg=k)
    loaded = legacy.load_pickle(run / "network-final.pkl")  # through the real loader
    assert loaded["config"].resolution == 32
    info = json.loads((run / "network-final.json").read_text())   # what made the final pickle
    assert (info["step"], info["nimg"], info["config"]["total_kimg"]) == (20, 80, 0.08)
    # --init: a new run that starts from a pickle's G, D and Gs (fine-tuning; the toy StyleGAN's
    # card may name it), at full resolution, with the pickle's architecture whatever the preset
    tuned = tmp_path / "tuned"
    init = run_script("scripts/train_stylegan.py", "--preset", "toy", "--init", run / "network-final.pkl",
                      "--kimg", "0.008", "--set", "batch_size=4", "--set", "snapshot_every=1000",
                      "--set", "r1_gamma=0.5", "--run_dir", tuned)
    assert init.returncode == 0, init.stderr[-2000:]
    recorded = json.loads((tuned / "config.json").read_text())
    assert recorded["stylegan"]["resolution"] == 32 and recorded["lod_initial_resolution"] == 0
    assert recorded["r1_gamma"] == 0.5
    c = legacy.load_pickle(tuned / "network-final.pkl")
    assert json.loads((tuned / "network-final.json").read_text())["step"] == 2
    for name in ("G", "D", "Gs"):   # two steps moved every net a little away from the pickle
        before = {k: v.numpy() for k, v in named_weights(loaded[name]).items()}
        after = {k: v.numpy() for k, v in named_weights(c[name]).items()}
        assert before.keys() == after.keys(), name
        diffs = [np.abs(after[k] - before[k]).max() for k in before if before[k].dtype.kind == "f"]
        assert 0 < max(diffs) < 0.5, (name, max(diffs))


@pytest.mark.slow
def test_build_toy_world_quick(tmp_path):
    """The one rebuild command, in its minutes-long form: every part, the StyleGAN's NVIDIA pickle
    and its model card with measured numbers; a rerun skips what exists. Slow (three runs of the
    whole build); its parts are tested in the default run (tests/test_toynets.py
    test_quick_training_script, tests/test_toy_evaluation.py, the GAN training tests above)."""
    out, work = tmp_path / "toy", tmp_path / "work"
    args = ["scripts/build_toy_world.py", "--quick", "--out", out, "--work", work,
            "--stylegan_set", "total_kimg=0.06", "--stylegan_set", "batch_size=4", "--stylegan_more_kimg", "0.04"]
    proc = run_script(*args, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ("stylegan_toy.pkl", "MODEL_CARD_stylegan.md", "stylegan_quality.json",
                 "stylegan_samples.png", "stylegan_coverage.png", "toy_id.weights.h5",
                 "toy_lnd.weights.h5", "toy_evaluator.weights.h5", "toy_attr.weights.h5", "MODEL_CARD_attr.md"):
        assert (out / name).is_file(), name
    assert not (out / "work").exists()   # E_attr's pretraining checkpoints stay in --work
    G = legacy.load_stylegan(out / "stylegan_toy.pkl")
    assert G.resolution == 32
    report = __import__("json").loads((out / "stylegan_quality.json").read_text())
    # a first run of 15 steps of batch 4, then a second one from its pickle, 5 steps of the preset's batch 8
    assert report["steps"] == 15 + 5 and report["images_seen"] == 60 + 40
    assert [r["config"]["r1_gamma"] for r in report["runs"]] == [10.0, 1.0]
    assert (work / "stylegan_more" / "network-final.pkl").is_file()
    assert report["quality"]["fid"] > report["quality"]["fid_floor"] >= 0
    card = (out / "MODEL_CARD_stylegan.md").read_text()
    assert f"{report['quality']['fid']:.2f}" in card and "python scripts/build_toy_world.py --quick" in card
    assert "images/s over the whole run" in card and "--stylegan_set batch_size=4" in card
    assert "(0.06 + 0.04 kimg)" in card and "--stylegan_more_kimg 0.04" in card
    assert "--init <work>/stylegan/network-final.pkl --kimg 0.04" in card and "Then trained on" in card
    # the nets' cards name the build (its step 1), not this machine's temporary folders
    line = next(x for x in (out / "MODEL_CARD_id.md").read_text().splitlines() if x.startswith("- Command:"))
    assert "python scripts/build_toy_world.py --out <out> --work <work> --quick (its step 1:" in line, line
    assert str(tmp_path) not in line, line
    assert "scripts/train_toy_nets.py --net id --augment" in line, line   # E_id and E_lnd on degraded renders
    attr = next(x for x in (out / "MODEL_CARD_attr.md").read_text().splitlines() if x.startswith("- Command:"))
    assert "(its step 1: scripts/pretrain_toy_attr.py --out <out> --work <work>/attr --steps 20" in attr, attr
    again = run_script(*args, timeout=300)
    assert again.returncode == 0 and "exists" in again.stderr + again.stdout
    # a build killed while writing the card (it comes last) completes it on the next run
    (out / "MODEL_CARD_stylegan.md").unlink()
    (out / "MODEL_CARD_id.md").unlink()
    third = run_script(*args, timeout=600)
    assert third.returncode == 0, third.stderr[-3000:]
    assert (out / "MODEL_CARD_stylegan.md").read_text().split("## Quality")[0] == card.split("## Quality")[0]
    assert (out / "MODEL_CARD_id.md").is_file()


def test_training_without_noise_holds_every_noise_strength_at_zero():
    """noise=False (the toy preset): no noise in training and every noise_strength of G and Gs
    at 0, also when a restored run had learnt some, so the const noise buffers change nothing."""
    c = TINY.replace(noise=False)
    nets = gt.build_networks(c, seed=0)
    for net in (nets["G"], nets["Gs"]):   # as if restored from a run trained with noise
        for layer in net.synthesis.styled_layers:
            layer.noise_strength.assign(tf.fill(layer.noise_strength.shape, 0.3))
    trainer = gt.GANTrainer(nets["G"], nets["D"], nets["Gs"], c)
    before = _values(nets["G"])
    trainer.train_step(_random_reals(4, 32))
    after = _values(nets["G"])
    assert any(not np.array_equal(before[k], after[k]) for k in before)   # G did train
    for net in (nets["G"], nets["Gs"]):
        for layer in net.synthesis.styled_layers:
            np.testing.assert_array_equal(layer.noise_strength.numpy(), 0.0)
    z = tf.random.stateless_normal([2, c.stylegan.latent_size], seed=[0, 1])
    np.testing.assert_array_equal(nets["Gs"](z, noise_mode="const").numpy(),
                                  nets["Gs"](z, noise_mode="random").numpy())
