"""One StyleGAN training step equals NVIDIA's own (../shared/fixtures/stylegan_train_official_32).

The fixture is one iteration of NVIDIA's unmodified training graph at 32 px, batch 4 (its README):
given z and reals, stored noise buffers, no style mixing, R1 gamma 10, Adam from a fresh state,
one Gs EMA update. The trainer is driven through its public `run_step` with the same inputs and
every forward tensor, loss, R1, gradient, Adam step, Gs and dlatent_avg is compared. The same
comparison run on a trainer with one of NVIDIA's details changed must fail: that is shown here
too, for R1 taken on the mean score, gamma halved and the loss summed instead of averaged.
"""

import os
import re
from pathlib import Path

import numpy as np
import pytest

from idd_tf.stylegan import legacy
from idd_tf.stylegan import training as gt
from idd_tf.stylegan.config import GANTrainConfig

FIXTURE = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "stylegan_train_official_32"
LR = 0.001
GRAD_TOL = 1e-4     # max|port - ref| / max|ref| per array (the fixture's recommendation)

if not (FIXTURE / "reference.npz").is_file() and os.environ.get("CI") != "true":   # CI has it: fail there
    pytest.skip(f"NVIDIA's training-step fixture is not at {FIXTURE}", allow_module_level=True)


@pytest.fixture(scope="module")
def ref():
    with np.load(FIXTURE / "reference.npz") as f:
        return dict(f)


def _nhwc(x):
    return np.transpose(x, (0, 2, 3, 1))


def _keras(prefix: str, ref: dict, kind: str) -> dict:
    """Arrays of the fixture stored under `prefix`/<TF variable name> -> {Keras weight key: array}
    (NVIDIA's layouts turned into the port's by the loader's own name table)."""
    tf_names = {}
    for key, value in ref.items():
        if key.startswith(prefix + "/"):
            name = key[len(prefix) + 1:]
            name = re.sub(r"^G_(synthesis|mapping)/", r"\1/", name)
            tf_names[name] = value
    return legacy.translate(tf_names, kind)


def _err(port, want) -> float:
    port, want = np.asarray(port, np.float64), np.asarray(want, np.float64)
    scale = np.abs(want).max()
    return float(np.abs(port - want).max() / (scale if scale > 0 else 1.0))


def one_step(ref, d_lr=LR, r1_gamma=10.0, monkeypatch=None, mutation=None):
    """Load the fixture's networks, run one step with its inputs; returns (nets, details)."""
    nets = legacy.load_pickle(FIXTURE / "network.pkl")
    config = GANTrainConfig(stylegan=nets["config"], batch_size=4, g_lr=LR, d_lr=d_lr, r1_gamma=r1_gamma,
                            r1_interval=1, g_smoothing_kimg=10.0, dlatent_avg_beta=0.995)
    trainer = gt.GANTrainer(nets["G"], nets["D"], nets["Gs"], config)
    if mutation == "r1 on the mean score":   # d(mean D)/dx = d(sum D)/dx / N
        penalty = gt.r1_penalty
        monkeypatch.setattr(gt, "r1_penalty", lambda g: penalty(g / config.batch_size))
    elif mutation == "summed loss":
        monkeypatch.setattr(gt.GANTrainer, "_mean", lambda self, loss: gt.tf.reduce_sum(loss))
    reals = _nhwc(ref["reals"])
    details = trainer.run_step(reals, ref["z"], ref["z"], noise_mode="const", style_mixing=False, details=True)
    return nets, trainer, details


def differences(ref, nets, trainer, details, check_g=True, check_d=True) -> dict:
    """{what: error} of everything that misses its tolerance."""
    bad = {}

    def check(name, port, want, tol, absolute=False):
        want = np.reshape(want, np.shape(port))   # NVIDIA keeps [N, 1] scores and losses
        err = float(np.abs(np.asarray(port, np.float64) - want).max()) if absolute else _err(port, want)
        if not err <= tol:
            bad[name] = err

    check("dlatents", details["dlatents"], ref["dlatents"], 1e-5)
    check("fake_images", details["fakes"], _nhwc(ref["fake_images"]), 1e-4)
    for name, key in (("D_scores_real", "real_scores"), ("D_scores_fake", "fake_scores"),
                      ("D_loss", "d_loss_per_sample")):
        check(name, details[key], ref[name], 2e-5, absolute=True)
    if check_g:   # G's part is against the D of this step's update: the pickled D only when d_lr = 0
        check("G_loss", details["g_loss_per_sample"], ref["G_loss"], 2e-5, absolute=True)
    check("R1_penalty", details["r1_per_sample"], ref["R1_penalty"], 1e-4)
    check("R1_real_grads", details["r1_real_grads"], _nhwc(ref["R1_real_grads"]), 1e-4)
    for kind, net, grads, after in (("D", nets["D"], details["grads_D"], "D_after_adam"),
                                    ("G", nets["G"], details["grads_G"], "G_after_adam")):
        if not (check_d if kind == "D" else check_g):
            continue
        want = _keras(f"grad_{kind}", ref, kind)
        now = legacy.keras_weights(net)
        for key, value in want.items():
            got = grads.get(key)
            if got is None:   # not on the lod-0 path: NVIDIA's gradient is exactly 0
                if np.any(value != 0):
                    bad[f"grad_{kind}/{key} (missing)"] = 1.0
                continue
            check(f"grad_{kind}/{key}", got, value, GRAD_TOL)
        for key, value in _keras(after, ref, kind).items():   # the Adam step, in units of lr
            check(f"{after}/{key}", now[key].numpy(), value, 0.1 * LR, absolute=True)
    # Gs: an EMA of G's trainables, G's non-trainables copied from before this step's forward passes
    gs = legacy.keras_weights(nets["Gs"])
    for key, value in _keras("Gs_after_ema", ref, "G").items():
        check(f"Gs_after_ema/{key}", gs[key].numpy(), value, 1e-6)
    # dlatent_avg: the fixture's value after the D part's forward pass, then the G part's (same z)
    beta, batch_avg = 0.995, ref["dlatents"][:, 0].mean(axis=0)
    want = batch_avg + (ref["G_dlatent_avg_after_update"] - batch_avg) * beta
    check("G_dlatent_avg", nets["G"].dlatent_avg.numpy(), want, 1e-5)
    check("Gs_beta", trainer.beta, float(ref["Gs_beta"]), 1e-6)
    return bad


def test_one_step_equals_nvidias(ref):
    """The D part, the Adam step of D, Gs and dlatent_avg from one step; the G part (gradients
    and Adam) from a step whose D learning rate is 0, since NVIDIA's fixture takes G's gradients
    at the pickled D while its loop (and this trainer) takes them after D's update."""
    nets, trainer, details = one_step(ref)
    assert differences(ref, nets, trainer, details, check_g=False) == {}
    nets, trainer, details = one_step(ref, d_lr=0.0)
    assert differences(ref, nets, trainer, details, check_d=False) == {}
    on_path = [k for k, v in ref.items() if k.startswith(("grad_G/", "grad_D/")) and np.any(v != 0)]
    assert len(details["grads_G"]) + len(details["grads_D"]) == len(on_path) == 78   # of 90 trainables


@pytest.mark.parametrize("mutation", ["r1 on the mean score", "gamma halved", "summed loss"])
def test_the_comparison_catches_each_deviation_from_nvidia(ref, monkeypatch, mutation):
    nets, trainer, details = one_step(ref, r1_gamma=5.0 if mutation == "gamma halved" else 10.0,
                                      monkeypatch=monkeypatch, mutation=mutation)
    bad = differences(ref, nets, trainer, details, check_g=False)
    assert bad, f"{mutation} went unnoticed"
    if mutation != "summed loss":   # R1 itself, or what it adds to the D loss
        assert {"R1_penalty", "D_loss"} & set(bad), bad
    else:   # the same losses, 4x the gradients
        assert any(k.startswith("grad_D/") for k in bad) and "D_loss" not in bad, bad
