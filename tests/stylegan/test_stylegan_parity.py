"""Golden parity with NVIDIA's own StyleGAN v1 code (tests/fixtures/stylegan_official_128)."""

import numpy as np
import pytest
from conftest import FIXTURE_PKL, run_script_here

from idd_tf.stylegan import legacy
from idd_tf.stylegan import networks as stylegan

TOL = dict(rtol=1e-4, atol=1e-4)


def nchw(x):
    return np.transpose(np.asarray(x), (0, 3, 1, 2))


def nhwc(x):
    return np.transpose(np.asarray(x), (0, 2, 3, 1))


def rel_err(port, ref):
    return np.abs(np.asarray(port) - ref).max() / np.abs(ref).max()


def check_generator(Gs, G, ref, fixture_meta):
    tol = fixture_meta["tolerances"]["recommended_for_float32_port"]
    dl = Gs.mapping(ref["z"]).numpy()
    assert dl.shape == ref["dlatents"].shape
    assert rel_err(dl, ref["dlatents"]) <= tol["dlatents"]
    for t in fixture_meta["truncations"]:
        wt = Gs.truncate(dl, t["psi"], t["cutoff"])
        assert rel_err(wt, ref[t["dlatents_key"]]) <= tol["dlatents"], t
        img = nchw(Gs.synthesis(ref[t["dlatents_key"]], noise_mode="const"))
        assert img.shape == ref[t["images_key"]].shape
        assert np.allclose(img, ref[t["images_key"]], **TOL), (t, rel_err(img, ref[t["images_key"]]))
        assert rel_err(img, ref[t["images_key"]]) <= tol["images"]
        # End to end through G_style (mapping -> truncation -> synthesis).
        e2e = nchw(Gs(ref["z"], truncation_psi=t["psi"], truncation_cutoff=t["cutoff"]))
        assert np.allclose(e2e, ref[t["images_key"]], **TOL)
    img = nchw(Gs.synthesis(ref["dlatents"]))
    assert np.allclose(img, ref["images_notrunc"], **TOL)
    assert np.allclose(nchw(Gs(ref["z"], truncation_psi=1.0)), ref["images_notrunc"], **TOL)
    for m in fixture_meta["style_mixing"]:
        mixed = Gs.synthesis(ref[m["dlatents_key"]])
        assert np.allclose(nchw(mixed), ref[m["images_key"]], **TOL), m
    # Style mixing built from our own dlatents gives the same per-layer input.
    k = fixture_meta["style_mixing"][0]["k"]
    own = Gs.truncate(Gs.mapping(ref["z"]), 0.7, 8).numpy()
    own_mix = Gs.truncate(Gs.mapping(ref["z_mix"]), 0.7, 8).numpy()
    own[:, k:] = own_mix[:, k:]
    assert rel_err(own, ref[f"dlatents_mixed_k{k}"]) <= tol["dlatents"]
    # Non-EMA generator G has its own weights and dlatent_avg.
    assert rel_err(G.mapping(ref["z"]), ref["G_dlatents"]) <= tol["dlatents"]
    g_img = nchw(G(ref["z"]))  # G_style defaults psi=0.7, cutoff=8
    assert np.allclose(g_img, ref["G_images_trunc_psi0p7_cut8"], **TOL)
    assert not np.allclose(g_img, ref["images_trunc_psi0p7_cut8"], **TOL)


def check_discriminator(D, ref, fixture_meta):
    tol = fixture_meta["tolerances"]["recommended_for_float32_port"]["D_scores"]
    x = nhwc(ref["images_trunc_psi0p7_cut8"])
    s4 = D(x).numpy()
    assert s4.shape == (4, 1)
    assert np.allclose(s4, ref["D_scores_batch4"], **TOL) and rel_err(s4, ref["D_scores_batch4"]) <= tol
    s1 = np.concatenate([D(x[i:i + 1]).numpy() for i in range(4)])
    assert np.allclose(s1, ref["D_scores_batch1"], **TOL)
    x8 = np.concatenate([x, nhwc(ref["images_mixed_k4"])])
    s8 = D(x8).numpy()
    assert np.allclose(s8, ref["D_scores_batch8"], **TOL)
    # Minibatch stddev matters: batch-of-4 scores differ from batch-of-1 scores.
    assert not np.allclose(s4, s1, rtol=0, atol=1e-6)


def test_inferred_config_matches_fixture(official_networks, fixture_meta):
    c = official_networks["config"]
    fc = fixture_meta["config"]
    assert (c.resolution, c.num_layers, c.latent_size, c.dlatent_size) == (
        fc["resolution"], fc["num_layers"], fc["latent_size"], fc["dlatent_size"])
    assert (c.fmap_base, c.fmap_max, c.mapping_fmaps) == (
        fc["G_args"]["fmap_base"], fc["G_args"]["fmap_max"], fc["G_args"]["mapping_fmaps"])


def test_generator_parity(official_networks, reference, fixture_meta):
    check_generator(official_networks["Gs"], official_networks["G"], reference, fixture_meta)


def test_discriminator_parity(official_networks, reference, fixture_meta):
    check_discriminator(official_networks["D"], reference, fixture_meta)


def test_tf_function_parity(official_networks, reference):
    Gs = official_networks["Gs"]
    synth = __import__("tensorflow").function(lambda w: Gs.synthesis(w, noise_mode="const"))
    img = nchw(synth(reference["dlatents_trunc_psi0p7_cut8"]))
    assert np.allclose(img, reference["images_trunc_psi0p7_cut8"], **TOL)


def test_dlatent_avg_and_noise_buffers_loaded(official_networks, reference):
    Gs = official_networks["Gs"]
    # truncation with psi=0 on every layer yields exactly dlatent_avg (cutoff None would disable
    # truncation, as in NVIDIA's G_style)
    w = Gs.truncate(reference["dlatents"], 0.0, Gs.num_layers).numpy()
    assert np.allclose(w, np.broadcast_to(Gs.dlatent_avg.numpy(), w.shape))
    assert np.abs(Gs.dlatent_avg.numpy()).max() > 0
    # stored noise is what NVIDIA used: 'random' noise gives a different image
    a = Gs.synthesis(reference["dlatents"][:1], noise_mode="random")
    assert not np.allclose(nchw(a), reference["images_notrunc"][:1], **TOL)


def test_round_trip_through_convert_script(tmp_path, reference, fixture_meta):
    out = tmp_path / "converted"
    proc = run_script_here("scripts/convert_stylegan.py", FIXTURE_PKL, "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "D.weights.h5", "G.weights.h5", "Gs.weights.h5", "stylegan.json"]
    nets = legacy.load_networks(out)
    check_generator(nets["Gs"], nets["G"], reference, fixture_meta)
    check_discriminator(nets["D"], reference, fixture_meta)
    # Refuses to overwrite what exists.
    again = run_script_here("scripts/convert_stylegan.py", FIXTURE_PKL, "--out", out)
    assert again.returncode != 0 and "exists" in again.stderr
    assert "Traceback" not in again.stderr


def test_public_api_and_image_layouts(reference):
    import idd_tf
    Gs = idd_tf.load_stylegan(FIXTURE_PKL)
    assert (Gs.num_layers, Gs.resolution) == (12, 128)
    assert tuple(Gs.dlatent_avg.shape) == (512,)
    raw = Gs.synthesis(reference["dlatents_trunc_psi0p7_cut8"][:2])
    assert tuple(raw.shape) == (2, 128, 128, 3)
    assert np.allclose(np.asarray(stylegan.to_nchw(raw)), reference["images_trunc_psi0p7_cut8"][:2], **TOL)
    unit = np.asarray(stylegan.to_unit_range(raw))
    assert unit.min() >= 0 and unit.max() <= 1
    u8 = np.asarray(stylegan.to_uint8(raw))
    expect = np.clip(np.round(nhwc(reference["images_trunc_psi0p7_cut8"][:2]) * 127.5 + 127.5), 0, 255)
    assert u8.dtype == np.uint8 and np.abs(u8.astype(int) - expect).max() <= 1
    with pytest.raises(ValueError, match="'G' or 'Gs'"):
        idd_tf.load_stylegan(FIXTURE_PKL, which="D")
