"""Progressive growing: G and D at a level of detail match NVIDIA's 'linear' structure on
full-size images, the schedule is NVIDIA's TrainingSchedule, R1 matches the full-size penalty,
and training walks through the levels, resetting Adam where NVIDIA does."""

import numpy as np
import pytest
import tensorflow as tf

from idd_tf.stylegan import config as sg_config
from idd_tf.stylegan import networks as sg
from idd_tf.stylegan import training as gt
from idd_tf.stylegan import training as sg_training
from idd_tf.toy import world as toyworld
from idd_tf.utils import configs

# 32 px (lods 0..3), a few channels, batch 4.
TINY = sg_config.GAN_PRESETS["quick"].replace(batch_size=4, checkpoint_every=2, log_every=1,
                                         sample_every=1000, snapshot_every=1000)


def _clip(t):
    return float(np.clip(t, 0.0, 1.0))


def nvidia_linear_synthesis(S, ws, lod):
    """G_synthesis structure='linear' at full size, written from NVIDIA's code: every block runs,
    every ToRGB output is blended, `images_out = lerp_clip(img, upscale2d(images_out), lod_in - lod)`."""
    R = S.config.resolution_log2
    x = ws[:, 0]
    x = S.styled_layers[0](x, ws[:, 0], S.noise_buffers[0])
    x = S.styled_layers[1](x, ws[:, 1], S.noise_buffers[1])
    out = S.torgb[R - 2](x)
    for res in range(3, R + 1):
        i = 2 * (res - 2)
        x = S.styled_layers[i](x, ws[:, i], S.noise_buffers[i])
        x = S.styled_layers[i + 1](x, ws[:, i + 1], S.noise_buffers[i + 1])
        img = S.torgb[R - res](x)
        out = sg.upscale2d(out)
        out = img + (out - img) * _clip(lod - (R - res))
    return out


def nvidia_linear_discriminator(D, images, lod):
    """D_basic structure='linear' on full-size images, written from NVIDIA's code."""
    R = D.config.resolution_log2
    img = tf.convert_to_tensor(images)
    x = sg.lrelu(D.fromrgb[0](img))
    for i, (conv0, conv1) in enumerate(D.blocks):
        res = R - i
        x = sg.lrelu(conv0(x))
        x = sg.lrelu(conv1(sg.blur2d(x)))
        img = sg.downscale2d(img)
        y = sg.lrelu(D.fromrgb[R - res + 1](img))
        x = x + (y - x) * _clip(lod - (R - res))
    c = D.config
    x = sg.minibatch_stddev(x, c.mbstd_group_size, c.mbstd_num_features)
    x = sg.lrelu(D.conv4(x))
    x = tf.reshape(x, [-1, 16 * c.nf(1)])
    return D.dense1(sg.lrelu(D.dense0(x)))


@pytest.fixture(scope="module")
def nets():
    return gt.build_networks(TINY, seed=3)


@pytest.mark.parametrize("lod", [0.0, 0.5, 1.0, 1.25, 2.0, 2.75, 3.0])
def test_synthesis_at_a_lod_matches_nvidias_linear_structure(nets, lod):
    G = nets["G"]
    ws = G.mapping(tf.random.stateless_normal([2, G.latent_size], seed=[1, 2]))
    ours = G.synthesis(ws, lod=lod).numpy()
    ref = nvidia_linear_synthesis(G.synthesis, ws, lod).numpy()
    assert ours.shape == (2, 32, 32, 3)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)
    if lod >= 1:  # upscaled from the level's resolution: constant 2**floor(lod) blocks
        f = 2 ** int(lod)
        np.testing.assert_array_equal(ours[:, ::f, ::f], ours[:, f - 1::f, f - 1::f])


@pytest.mark.parametrize("lod", [0.0, 0.3, 1.0, 1.5, 2.0, 3.0])
def test_discriminator_at_a_lod_matches_nvidias_linear_structure(nets, lod):
    D = nets["D"]
    images = tf.random.stateless_uniform([4, 32, 32, 3], seed=[4, 5], minval=-1, maxval=1)
    np.testing.assert_allclose(D(images, lod=lod).numpy(),
                               nvidia_linear_discriminator(D, images, lod).numpy(), rtol=1e-5, atol=1e-5)


def test_schedule_is_nvidias_training_schedule():
    c = sg_config.GANTrainConfig(stylegan=sg_config.StyleGANConfig(resolution=1024), lod_initial_resolution=8)
    # 1024 px from 8 px: lod 7; 600 kimg training, then 600 kimg fading, per level
    expected = {0: 7.0, 599: 7.0, 600: 7.0, 900: 6.5, 1200: 6.0, 1500: 6.0, 2100: 5.5,
                7 * 1200: 0.0, 10000: 0.0}
    for kimg, lod in expected.items():
        assert gt.lod_at(c, kimg) == pytest.approx(lod), kimg
    assert gt.lod_at(c.replace(lod_initial_resolution=0), 0) == 0.0
    quick = c.replace(lod_initial_resolution=4, lod_training_kimg=1, lod_transition_kimg=2)
    assert gt.lod_at(quick, 0) == 8.0 and gt.lod_at(quick, 2) == pytest.approx(7.5)


def test_bad_initial_resolution_is_refused():
    for bad in (2, 6, 64):
        with pytest.raises(configs.ConfigError, match="lod_initial_resolution"):
            TINY.replace(lod_initial_resolution=bad)


def test_native_r1_equals_nvidias_full_size_penalty(nets):
    """R1 on the native-resolution reals / 4**level == R1 on NVIDIA's upscaled full-size reals."""
    D = nets["D"]
    level, fade = 2, 0.4
    native = tf.random.stateless_uniform([4, 8, 8, 3], seed=[6, 7], minval=-1, maxval=1)
    full = sg.upscale2d(native, 2 ** level)
    with tf.GradientTape() as tape:
        tape.watch(full)
        s = tf.reduce_sum(D(full, lod=level + fade))
    r1_full = gt.r1_penalty(tape.gradient(s, full)).numpy()
    with tf.GradientTape() as tape:
        tape.watch(native)
        s = tf.reduce_sum(D.grown(native, level, fade))
    r1_native = gt.r1_penalty(tape.gradient(s, native)).numpy()
    np.testing.assert_allclose(r1_native / 4.0 ** level, r1_full, rtol=1e-4)


def test_process_reals_is_nvidias():
    x = tf.random.stateless_uniform([2, 32, 32, 3], seed=[8, 9], minval=-1, maxval=1)
    out = gt.process_reals(x, 1, 0.25).numpy()
    half = x.numpy().reshape(2, 16, 2, 16, 2, 3).mean(axis=(2, 4))
    quarter = half.reshape(2, 8, 2, 8, 2, 3).mean(axis=(2, 4))
    coarse = quarter.repeat(2, axis=1).repeat(2, axis=2)
    np.testing.assert_allclose(out, half + (coarse - half) * 0.25, rtol=1e-5, atol=1e-6)


def test_adam_resets_where_floor_or_ceil_of_lod_changes():
    # 8 -> 32 px, steps of 4 images, 8 images per level and per fade: lods 2,2,2,1.5,1,1,1,0.5,0,0
    c = TINY.replace(lod_initial_resolution=8, lod_training_kimg=0.008, lod_transition_kimg=0.008)
    assert [gt.resets_adam(c, 4 * i) for i in range(10)] == [
        False, False, False, True, True, False, False, True, True, False]
    assert not any(gt.resets_adam(TINY, 4 * i) for i in range(10))   # no growing: never
    opt = tf.keras.optimizers.Adam(0.01)
    v = tf.Variable([1.0, 2.0])
    opt.apply_gradients([(tf.constant([0.5, -0.5]), v)])
    gt.reset_optimizer(opt)
    assert int(opt.iterations.numpy()) == 0 and float(opt.learning_rate.numpy()) == pytest.approx(0.01)
    assert all(not np.any(x.numpy()) for x in opt.variables if "learning_rate" not in x.path)


@pytest.mark.slow
def test_training_grows_through_the_levels_and_resets_adam():
    """Slow (two traced training steps, ~30 s idle); the fast tests above cover its parts."""
    # 16 px -> 32 px; 8 images per level and per fade: steps of 4 images. No R1 here (its
    # full-size scaling is tested above): two traced steps instead of four.
    c = TINY.replace(lod_initial_resolution=16, lod_training_kimg=0.008, lod_transition_kimg=0.008,
                     r1_gamma=0.0)
    nets = gt.build_networks(c, seed=0)
    trainer = gt.GANTrainer(nets["G"], nets["D"], nets["Gs"], c)
    reals = toyworld.image_source(32, seed=0)
    fine_torgb = nets["G"].synthesis.torgb[0].get_weights()[0].copy()
    lods, iterations = [], []
    for i in range(6):
        m = trainer.train_step(reals(4 * i, 4))
        lods.append(m["lod"])
        iterations.append(int(trainer.g_opt.iterations.numpy()))
        assert np.isfinite(m["loss_g"]) and np.isfinite(m["loss_d"])
        if i == 2:  # still at 16 px: the 32-px ToRGB has not been used
            np.testing.assert_array_equal(nets["G"].synthesis.torgb[0].get_weights()[0], fine_torgb)
    assert lods == pytest.approx([1, 1, 1, 0.5, 0, 0])
    assert not np.array_equal(nets["G"].synthesis.torgb[0].get_weights()[0], fine_torgb)
    # Adam restarts when the fade begins and when it ends (floor or ceil of lod changes)
    assert iterations == [1, 2, 3, 1, 1, 2]
    assert trainer.lod() == 0.0
    assert sg.to_uint8(nets["Gs"](tf.zeros([1, c.stylegan.latent_size]))).shape == (1, 32, 32, 3)
    grid = gt.sample_grid(nets["Gs"], gt.sample_latents(c), c.sample_grid, lod=0.5)
    assert grid.shape == (4 * 32, 4 * 32, 3)


def test_eta_weighs_the_remaining_steps_by_their_level():
    c = TINY.replace(lod_initial_resolution=8, lod_training_kimg=0.008, lod_transition_kimg=0.008)
    cost = sg_training.GROWING_STEP_COST
    # 10 steps of 4 images from 8 px: levels 2,2,2,1,1,1,1,0,0,0
    assert gt.work_left(c, 0, 10) == pytest.approx((3 * cost[2] + 4 * cost[1] + 3 * cost[0]) / cost[2])
    assert gt.work_left(c, 7, 10) == pytest.approx(3.0)
    assert gt.work_left(TINY, 3, 10) == 7.0   # no growing: plain steps
