"""Behaviour of the training step at tiny scale (in-process)."""

import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from idd_tf.method import data, model, presets, trainer
from idd_tf.stylegan import networks as stylegan

CFG = presets.TRAIN_PRESETS["tiny"].replace(batch_size=4, log_every=1000, image_every=1000,
                                            checkpoint_every=1000)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    G = stylegan.random_stylegan(CFG.stylegan, seed=0)
    data.generate_dataset(G, root / "ds", 32, shard_size=8, seed=0, progress=False)
    return {"G": G, "ds": root / "ds", "root": root}


def make_trainer(setup, run_dir, seed=0, cfg=CFG, **kwargs):
    keras.utils.set_random_seed(seed)
    net = model.IDDModel(cfg, setup["G"])
    fn = trainer.dataset_fn_for(setup["ds"], cfg.batch_size, seed=0, shuffle_buffer=cfg.shuffle_buffer)
    return trainer.Trainer(net, fn, cfg, run_dir, **kwargs)


class _Recorder:
    """Monitor stand-in: records validation calls."""

    def __init__(self):
        self.validations = []

    def start_timer(self, step):
        pass

    def scalars(self, step, values):
        pass

    def progress(self, step, total, values):
        pass

    def validation(self, step, metrics, improved):
        self.validations.append((step, metrics, improved))


# The shared trainer's config: validation every 2 steps (on 2 batches) when run() trains; every
# step logged, so run() uses the same traced step functions as train_step() (with norms).
VCFG = CFG.replace(validate_every=2, validate_batches=2, log_every=1)


def snapshot(variables):
    return [v.numpy().copy() for v in variables]


@pytest.fixture(scope="module")
def first_steps(setup, tmp_path_factory):
    """One trainer's first 7 steps, recorded: metrics, which weight groups and optimizers each step
    changed, the hand-computed official loss forms at step 1 (pre-update weights), and ckpt-4
    saved after step 4 (the step functions are traced once per trainer: one trainer serves
    several tests)."""
    from idd_tf.method import losses
    run = tmp_path_factory.mktemp("first_steps") / "run"
    monitor = _Recorder()
    val = trainer.validation_data_for(setup["ds"], VCFG.batch_size, VCFG.validate_batches)
    tr = make_trainer(setup, run, cfg=VCFG, monitor=monitor, validation_data=val)
    m = tr.model
    frozen = m.e_id.weights + m.e_lnd.weights + setup["G"].weights + [
        w for w in m.e_attr.weights if not w.trainable]  # incl. BatchNorm statistics
    groups = {"E_attr": m.e_attr.trainable_variables, "M": m.mapping.trainable_variables,
              "D_W": m.d_w.trainable_variables}
    opts = {"opt_nonadv": tr.opt_nonadv, "opt_adv": tr.opt_adv, "opt_d": tr.opt_d}
    rec = {"trainer": tr, "run": run, "monitor": monitor, "val": val, "groups": groups, "metrics": [],
           "changed": [],
           "frozen_before": snapshot(frozen), "groups_before": {k: snapshot(v) for k, v in groups.items()},
           "rec_mask": tr.rec_mask.numpy(),
           "lr": {k: float(keras.ops.convert_to_numpy(o.learning_rate)) for k, o in opts.items()}}
    for step in range(7):
        batch = tr.next_batch()
        before = {k: snapshot(v) for k, v in groups.items()}
        its = {k: int(o.iterations.numpy()) for k, o in opts.items()}
        if step == 1:  # I_attr == I_id: the official forms by hand at the pre-update weights
            img = batch["image"]
            out = m.stylegan.synthesis(m.mapping(tf.concat([m.e_id(img), m.e_attr(img)], -1)),
                                       noise_mode="const")
            # L_lnd = mean over 51 inner points and x/y of squared differences in 160-px units;
            # L1 of L_rec masked and summed over the batch
            d = (m.e_lnd(img).numpy() - m.e_lnd(out).numpy())[:, 17:] * 160.0
            per_pixel = np.mean(np.abs(img.numpy() - out.numpy()), axis=-1) * 0.5  # [0, 1] units
            rec["want_step1"] = {
                "loss_lnd": float(np.mean(d ** 2)),
                "l1": float(np.sum(per_pixel * losses.pixel_mask(CFG.stylegan.resolution)[None])),
                "ssim": float(np.mean(1.0 - losses.ms_ssim(img, out).numpy()))}
        rec["metrics"].append({k: float(v) for k, v in tr.train_step(batch).items()})
        now = {k for k, v in groups.items()
               if any(not np.array_equal(a, b) for a, b in zip(before[k], snapshot(v)))}
        now |= {k for k, o in opts.items() if int(o.iterations.numpy()) == its[k] + 1}
        rec["changed"].append(now)
        if step == 3:  # ckpt-4 (kept apart): steps 5..7 above are what a resumed run must reproduce
            tr.save()
            shutil.copytree(run / "checkpoints", run.with_name("run4") / "checkpoints")
    rec.update(step=int(tr.step.numpy()), frozen_after=snapshot(frozen),
               groups_after={k: snapshot(v) for k, v in groups.items()})
    return rec


def test_schedule_rec_and_frozen_weights(first_steps):
    rec = first_steps
    assert rec["frozen_before"] and all(rec["groups"].values())
    cross = [mt["cross_step"] for mt in rec["metrics"]]
    assert cross == [1, 0, 0, 1, 0, 0, 1]
    for mt in rec["metrics"]:
        if mt["cross_step"]:
            assert mt["loss_rec"] == 0.0
        else:
            assert mt["loss_rec"] > 0.0
        assert all(np.isfinite(v) for v in mt.values())
    for a, b in zip(rec["frozen_before"], rec["frozen_after"]):
        np.testing.assert_array_equal(a, b)
    for name, before in rec["groups_before"].items():
        changed = [not np.array_equal(a, b) for a, b in zip(before, rec["groups_after"][name])]
        assert all(changed), f"{name}: some trainable weights did not change"
    assert rec["step"] == 7


def test_losses_fall_on_a_fixed_batch(first_steps):
    tr = first_steps["trainer"]  # (after its first 7 steps; re-tracing a new trainer costs more)
    batch = tr.next_batch()
    hist = [tr.train_step(batch) for _ in range(90)]
    same = [h for h in hist if not h["cross_step"]]
    first = {k: np.mean([float(h[k]) for h in same[:4]]) for k in ("loss_nonadv", "loss_rec", "loss_id")}
    last = {k: np.mean([float(h[k]) for h in same[-4:]]) for k in first}
    for k in first:
        assert last[k] < first[k], (k, first[k], last[k])
    # D_W learns to separate real w from the mapped w on the fixed batch (even steps only)
    d = [float(h["loss_d"]) for h in hist if "loss_d" in h]
    d_first, d_last = np.mean(d[:5]), np.mean(d[-5:])
    assert d_last < d_first


def test_checkpoint_resume_reproduces_next_steps(setup, first_steps):
    expected = first_steps["metrics"][4:7]  # steps 5..7 of the trainer that saved ckpt-4
    b = make_trainer(setup, first_steps["run"].with_name("run4"))
    assert b.restore() == 4
    got = [b.train_step(b.next_batch()) for _ in range(3)]
    for e, g in zip(expected, got):
        assert set(g) == set(e)
        for k in e:
            np.testing.assert_allclose(float(g[k]), e[k], rtol=1e-5, atol=1e-7, err_msg=k)


def test_update_schedule_over_four_steps(first_steps):
    """Official trainer.py: the non-adversarial update every step; the adversarial (E_attr + M)
    and D_W updates on even steps only."""
    everything = {"E_attr", "M", "D_W", "opt_nonadv", "opt_adv", "opt_d"}
    non_adv = {"E_attr", "M", "opt_nonadv"}
    assert first_steps["changed"][:4] == [everything, non_adv, everything, non_adv]
    keys = [{"loss_adv", "loss_d", "r1"} <= set(mt) for mt in first_steps["metrics"][:4]]
    assert keys == [True, False, True, False]


def test_one_forward_pass_per_step(setup, tmp_path, monkeypatch):
    """One E_attr forward (the expensive InceptionV3) per step, shared by all three updates."""
    from idd_tf.method import encoders
    calls = {"E_attr": 0, "E_id": 0}

    def counting(name, call):
        def wrapped(self, *args, **kwargs):
            calls[name] += 1
            return call(self, *args, **kwargs)
        return wrapped

    monkeypatch.setattr(encoders.AttributeEncoder, "call",
                        counting("E_attr", encoders.AttributeEncoder.call))
    monkeypatch.setattr(encoders.IdentityEncoder, "call", counting("E_id", encoders.IdentityEncoder.call))
    tr = make_trainer(setup, tmp_path / "run")
    tr._distributed_step(tr.next_batch(), False, True)  # eager: each call runs once
    assert calls == {"E_attr": 1, "E_id": 2}  # E_id on I_id and on I_out


def test_augment_degrades_only_what_the_encoders_see(setup, tmp_path, monkeypatch):
    """`augment`: E_attr gets a degraded I_attr and M a code of a degraded I_id (E_id runs once more),
    while L_id's target and the images the losses compare stay clean; off by default (official)."""
    from idd_tf.method import augment, encoders
    assert not CFG.augment
    seen = {"E_attr": [], "E_id": []}

    def recording(name, call):
        def wrapped(self, images, *args, **kwargs):
            seen[name].append(np.asarray(images))
            return call(self, images, *args, **kwargs)
        return wrapped

    monkeypatch.setattr(encoders.AttributeEncoder, "call", recording("E_attr", encoders.AttributeEncoder.call))
    monkeypatch.setattr(encoders.IdentityEncoder, "call", recording("E_id", encoders.IdentityEncoder.call))
    tr = make_trainer(setup, tmp_path / "run", cfg=CFG.replace(augment=True))
    batch = tr.next_batch()
    tr.step.assign(1)   # an I_id == I_attr step
    out = tr._distributed_step(batch, False, False)   # eager
    image = np.asarray(batch["image"])
    assert len(seen["E_id"]) == 3 and len(seen["E_attr"]) == 1   # I_id, degraded I_id, I_out
    np.testing.assert_array_equal(seen["E_id"][0], image)
    want = augment.degrade(image, tf.stack([tf.constant(1), tf.constant(CFG.seed * 1024)])).numpy()
    np.testing.assert_allclose(seen["E_id"][1], want, atol=1e-6)
    assert np.abs(seen["E_attr"][0] - image).mean() > 1e-3   # E_attr's input is degraded ...
    assert np.isfinite(float(out["loss_rec"])) and float(out["loss_rec"]) > 0   # ... L_rec's target is not


def test_official_loss_forms_in_the_step(first_steps):
    """The step uses the config's L_rec mask (inverse Gaussian at the StyleGAN's resolution)."""
    from idd_tf.method import losses
    np.testing.assert_allclose(first_steps["rec_mask"], losses.pixel_mask(CFG.stylegan.resolution))
    assert first_steps["rec_mask"][16, 16] < first_steps["rec_mask"][0, 0]
    # each update's optimizer has its own learning rate (official: lr, 0.1 lr, 0.4 lr)
    assert first_steps["lr"] == pytest.approx({"opt_nonadv": CFG.optim.lr_nonadv, "opt_adv": CFG.optim.lr_adv,
                                               "opt_d": CFG.optim.lr_disc}, rel=1e-6)
    # step 0 is a cross step (L_rec off); at step 1 (I_attr == I_id) the step's losses equal the
    # official forms computed by hand at the pre-update weights (see first_steps)
    got, want = first_steps["metrics"][1], first_steps["want_step1"]
    assert got["cross_step"] == 0.0
    np.testing.assert_allclose(got["loss_lnd"], want["loss_lnd"], rtol=1e-4)
    np.testing.assert_allclose(got["loss_rec"], 0.84 * want["ssim"] + 0.16 * want["l1"], rtol=1e-4)


def test_validation_metrics_and_best_checkpoints(setup, first_steps):
    # the shared trainer (its step functions already traced), 4 more steps: no validation has run
    # on it yet, so the first one is the best so far
    tr, rec, run, val = first_steps["trainer"], first_steps["monitor"], first_steps["run"], first_steps["val"]
    start = int(tr.step.numpy())
    tr.run(start + 4)
    assert [s for s, _, _ in rec.validations] == [s for s in range(start + 1, start + 5) if s % 2 == 0]
    step2 = rec.validations[0][1]
    assert set(step2) == {"id_to_out", "attr_to_out", "id_to_attr", "lnd_dist", "rec_mse", "rec_psnr",
                          "rec_id"}
    assert all(-1 <= step2[k] <= 1 for k in ("id_to_out", "attr_to_out", "id_to_attr", "rec_id"))
    assert step2["rec_mse"] > 0 and step2["rec_psnr"] > 0 and step2["lnd_dist"] > 0
    assert rec.validations[0][2] == ["id_to_out", "lnd_dist"]  # the first is always the best so far
    for name, d in (("id_to_out", "best_id"), ("lnd_dist", "best_lnd")):
        best_step = max((s for s, _, imp in rec.validations if name in imp))
        assert tf.train.latest_checkpoint(str(run / "checkpoints" / d)).endswith(f"ckpt-{best_step}")
        want = (max if name == "id_to_out" else min)(m[name] for _, m, _ in rec.validations)
        np.testing.assert_allclose(float(tr.best[name].numpy()), want, rtol=1e-6)
    # the best values are part of the checkpoint: a resumed run compares against them
    again = make_trainer(setup, run, cfg=VCFG, validation_data=val)
    assert again.restore() == start + 4
    assert float(again.best["lnd_dist"].numpy()) == float(tr.best["lnd_dist"].numpy())
    # the pure step: identical inputs are identical identities
    img = next(iter(val()))["id"]
    same = trainer.validation_metrics(tr.model, img, img)
    np.testing.assert_allclose(float(same["id_to_attr"]), 1.0, rtol=1e-5)


def test_monitor_writes_validation_scalars(tmp_path):
    from idd_tf.utils.monitor import Monitor
    lines = []
    mon = Monitor(tmp_path, printer=lines.append)
    mon.validation(7, {"id_to_out": 0.5, "lnd_dist": 2.0}, ["lnd_dist"])
    mon.close()
    tags = {v.tag for f in (tmp_path / "logs").glob("events.out.tfevents.*")
            for ev in tf.compat.v1.train.summary_iterator(str(f)) for v in ev.summary.value}
    assert {"val/id_to_out", "val/lnd_dist"} <= tags
    assert lines == ["validation at step 7: id_to_out=0.5 lnd_dist=2  new best: lnd_dist"]
