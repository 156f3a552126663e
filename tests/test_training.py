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
    # D_W learns to separate real w from the mapped w on the fixed batch
    d_first = np.mean([float(h["loss_d"]) for h in hist[:5]])
    d_last = np.mean([float(h["loss_d"]) for h in hist[-5:]])
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
