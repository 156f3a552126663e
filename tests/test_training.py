"""Behaviour of the training step at tiny scale (in-process)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from idd_tf import config, data, model, stylegan, trainer

CFG = config.TRAIN_PRESETS["tiny"].replace(batch_size=4, log_every=1000, image_every=1000,
                                            checkpoint_every=1000)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    G = stylegan.random_stylegan(CFG.stylegan, seed=0)
    data.generate_dataset(G, root / "ds", 32, shard_size=8, seed=0, progress=False)
    return {"G": G, "ds": root / "ds", "root": root}


def make_trainer(setup, run_dir, seed=0):
    keras.utils.set_random_seed(seed)
    net = model.IDDModel(CFG, setup["G"])
    fn = trainer.dataset_fn_for(setup["ds"], CFG.batch_size, seed=0, shuffle_buffer=CFG.shuffle_buffer)
    return trainer.Trainer(net, fn, CFG, run_dir)


def snapshot(variables):
    return [v.numpy().copy() for v in variables]


def test_schedule_rec_and_frozen_weights(setup, tmp_path):
    tr = make_trainer(setup, tmp_path / "run")
    m = tr.model
    frozen = m.e_id.weights + m.e_lnd.weights + setup["G"].weights + [
        w for w in m.e_attr.weights if not w.trainable]  # incl. BatchNorm statistics
    trainable = {"E_attr": m.e_attr.trainable_variables, "M": m.mapping.trainable_variables,
                 "D_W": m.d_w.trainable_variables}
    assert frozen and all(trainable.values())
    before_frozen = snapshot(frozen)
    before_train = {k: snapshot(v) for k, v in trainable.items()}
    metrics = [tr.train_step(tr.next_batch()) for _ in range(7)]
    cross = [float(mt["cross_step"]) for mt in metrics]
    assert cross == [1, 0, 0, 1, 0, 0, 1]
    for mt in metrics:
        if mt["cross_step"]:
            assert float(mt["loss_rec"]) == 0.0
        else:
            assert float(mt["loss_rec"]) > 0.0
        assert all(np.isfinite(float(v)) for v in mt.values())
    for a, b in zip(before_frozen, snapshot(frozen)):
        np.testing.assert_array_equal(a, b)
    for name, vars_ in trainable.items():
        changed = [not np.array_equal(a, b) for a, b in zip(before_train[name], snapshot(vars_))]
        assert all(changed), f"{name}: some trainable weights did not change"
    assert int(tr.step.numpy()) == 7


def test_losses_fall_on_a_fixed_batch(setup, tmp_path):
    tr = make_trainer(setup, tmp_path / "run")
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


def test_checkpoint_resume_reproduces_next_steps(setup, tmp_path):
    run = tmp_path / "run"
    a = make_trainer(setup, run)
    a.run(4)  # saves ckpt-4
    expected = [a.train_step(a.next_batch()) for _ in range(3)]  # steps 5..7, not saved
    b = make_trainer(setup, run)
    assert b.restore() == 4
    got = [b.train_step(b.next_batch()) for _ in range(3)]
    for e, g in zip(expected, got):
        for k in e:
            np.testing.assert_allclose(float(g[k]), float(e[k]), rtol=1e-5, atol=1e-7, err_msg=k)


def test_update_schedule_over_four_steps(setup, tmp_path):
    """Official trainer.py: the non-adversarial update every step; the adversarial (E_attr + M)
    and D_W updates on even steps only."""
    tr = make_trainer(setup, tmp_path / "run")
    m = tr.model
    groups = {"E_attr": m.e_attr.trainable_variables, "M": m.mapping.trainable_variables,
              "D_W": m.d_w.trainable_variables}
    opts = {"opt_nonadv": tr.opt_nonadv, "opt_adv": tr.opt_adv, "opt_d": tr.opt_d}
    changed, keys = [], []
    for _ in range(4):
        before = {k: snapshot(v) for k, v in groups.items()}
        its = {k: int(o.iterations.numpy()) for k, o in opts.items()}
        metrics = tr.train_step(tr.next_batch())
        now = {k for k, v in groups.items()
               if any(not np.array_equal(a, b) for a, b in zip(before[k], snapshot(v)))}
        now |= {k for k, o in opts.items() if int(o.iterations.numpy()) == its[k] + 1}
        changed.append(now)
        keys.append({"loss_adv", "loss_d", "r1"} <= set(metrics))
    everything = {"E_attr", "M", "D_W", "opt_nonadv", "opt_adv", "opt_d"}
    non_adv = {"E_attr", "M", "opt_nonadv"}
    assert changed == [everything, non_adv, everything, non_adv]
    assert keys == [True, False, True, False]


def test_one_forward_pass_per_step(setup, tmp_path, monkeypatch):
    """One E_attr forward (the expensive InceptionV3) per step, shared by all three updates."""
    from idd_tf import encoders
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


def test_official_loss_forms_in_the_step(setup, tmp_path):
    """The step uses the config's L_rec mask (inverse Gaussian at the StyleGAN's resolution)."""
    from idd_tf import losses
    tr = make_trainer(setup, tmp_path / "run")
    np.testing.assert_allclose(tr.rec_mask.numpy(), losses.pixel_mask(CFG.stylegan.resolution))
    assert tr.rec_mask.numpy()[16, 16] < tr.rec_mask.numpy()[0, 0]
    # each update's optimizer has its own learning rate (official: lr, 0.1 lr, 0.4 lr)
    for opt, lr in ((tr.opt_nonadv, CFG.optim.lr_nonadv), (tr.opt_adv, CFG.optim.lr_adv),
                    (tr.opt_d, CFG.optim.lr_disc)):
        np.testing.assert_allclose(float(keras.ops.convert_to_numpy(opt.learning_rate)), lr, rtol=1e-6)
    tr.train_step(tr.next_batch())  # step 0: a cross step (L_rec off)
    batch = tr.next_batch()  # step 1: I_attr == I_id
    m, img = tr.model, batch["image"]
    out = m.stylegan.synthesis(m.mapping(tf.concat([m.e_id(img), m.e_attr(img)], -1)), noise_mode="const")
    # hand-computed official forms at the pre-update weights: L_lnd = mean over 51 inner points
    # and x/y of squared differences in 160-px units; L1 of L_rec masked and summed over the batch
    d = (m.e_lnd(img).numpy() - m.e_lnd(out).numpy())[:, 17:] * 160.0
    want_lnd = float(np.mean(d ** 2))
    per_pixel = np.mean(np.abs(img.numpy() - out.numpy()), axis=-1) * 0.5  # [0, 1] units
    l1 = float(np.sum(per_pixel * losses.pixel_mask(CFG.stylegan.resolution)[None]))  # sum over batch
    ssim = float(np.mean(1.0 - losses.ms_ssim(img, out).numpy()))
    got = tr.train_step(batch)
    assert float(got["cross_step"]) == 0.0
    np.testing.assert_allclose(float(got["loss_lnd"]), want_lnd, rtol=1e-4)
    np.testing.assert_allclose(float(got["loss_rec"]), 0.84 * ssim + 0.16 * l1, rtol=1e-4)


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


def test_validation_metrics_and_best_checkpoints(setup, tmp_path):
    cfg = CFG.replace(validate_every=2, validate_batches=2)
    keras.utils.set_random_seed(0)
    net = model.IDDModel(cfg, setup["G"])
    fn = trainer.dataset_fn_for(setup["ds"], cfg.batch_size, seed=0, shuffle_buffer=cfg.shuffle_buffer)
    val = trainer.validation_data_for(setup["ds"], cfg.batch_size, cfg.validate_batches)
    rec = _Recorder()
    run = tmp_path / "run"
    tr = trainer.Trainer(net, fn, cfg, run, rec, validation_data=val)
    tr.run(4)
    assert [s for s, _, _ in rec.validations] == [2, 4]
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
    again = trainer.Trainer(model.IDDModel(cfg, setup["G"]), fn, cfg, run, validation_data=val)
    assert again.restore() == 4
    assert float(again.best["lnd_dist"].numpy()) == float(tr.best["lnd_dist"].numpy())
    # the pure step: identical inputs are identical identities
    img = next(iter(val()))["id"]
    same = trainer.validation_metrics(net, img, img)
    np.testing.assert_allclose(float(same["id_to_attr"]), 1.0, rtol=1e-5)


def test_monitor_writes_validation_scalars(tmp_path):
    from idd_tf.monitor import Monitor
    lines = []
    mon = Monitor(tmp_path, printer=lines.append)
    mon.validation(7, {"id_to_out": 0.5, "lnd_dist": 2.0}, ["lnd_dist"])
    mon.close()
    tags = {v.tag for f in (tmp_path / "logs").glob("events.out.tfevents.*")
            for ev in tf.compat.v1.train.summary_iterator(str(f)) for v in ev.summary.value}
    assert {"val/id_to_out", "val/lnd_dist"} <= tags
    assert lines == ["validation at step 7: id_to_out=0.5 lnd_dist=2  new best: lnd_dist"]
