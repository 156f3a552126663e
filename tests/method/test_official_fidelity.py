"""Details that follow the authors' official code (YotamNitzan/ID-disentanglement): E_id
preprocessing, initialisation of M and D_W, preset numbers."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from idd_tf.method import encoders, networks, presets
from idd_tf.method.config import DiscriminatorConfig, IdEncoderConfig, MappingConfig
from idd_tf.utils import configs


def np_resize_bilinear(img, size):
    """tf.image.resize(..., "bilinear") of one HWC image: half-pixel centres, no antialias."""
    def axis(n_in):
        src = np.clip((np.arange(size) + 0.5) * n_in / size - 0.5, 0, n_in - 1)
        lo = np.floor(src).astype(int)
        return lo, np.minimum(lo + 1, n_in - 1), (src - lo).astype(np.float32)
    y0, y1, fy = axis(img.shape[0])
    x0, x1, fx = axis(img.shape[1])
    rows = img[y0] * (1 - fy)[:, None, None] + img[y1] * fy[:, None, None]
    return rows[:, x0] * (1 - fx)[None, :, None] + rows[:, x1] * fx[None, :, None]


def official_id_preprocess(img01, res):
    """model/id_encoder.py IDEncoder.preprocess of the official code, in numpy ([0, 1] HWC input)."""
    x = 255 * img01
    x = x[int(0.1 * res):int(0.9 * res), int(0.1 * res):int(0.9 * res)]
    x = np_resize_bilinear(x, 256)
    start = (256 - 224) // 2
    x = x[start:start + 224, start:start + 224]
    return x[:, :, ::-1] - np.array((91.4953, 103.8827, 131.0912), np.float32)


@pytest.fixture(scope="module")
def e_id():
    return encoders.IdentityEncoder(IdEncoderConfig(width=0.125))  # real preprocessing sizes


def test_id_encoder_crops_the_central_80_percent(e_id):
    res = 256
    rng = np.random.RandomState(0)
    img = rng.uniform(-1, 1, (1, res, res, 3)).astype(np.float32)
    ref = e_id.preprocess(img).numpy()
    assert ref.shape == (1, 224, 224, 3)
    np.testing.assert_allclose(ref[0], official_id_preprocess(img[0] * 0.5 + 0.5, res), rtol=1e-4,
                               atol=2e-3)
    border = img.copy()
    border[:, int(0.05 * res), :, :] = 1.0  # a marker row and column at 0.05 R: cut off
    border[:, :, int(0.05 * res), :] = 1.0
    np.testing.assert_array_equal(e_id.preprocess(border).numpy(), ref)
    centre = img.copy()
    centre[:, res // 2, res // 2, :] = 1.0  # the centre is kept
    assert np.abs(e_id.preprocess(centre).numpy() - ref).max() > 1.0


def test_id_encoder_preprocessing_at_other_sizes(e_id):
    for res in (32, 1024):
        img = np.random.RandomState(res).uniform(-1, 1, (1, res, res, 3)).astype(np.float32)
        np.testing.assert_allclose(e_id.preprocess(img).numpy()[0],
                                   official_id_preprocess(img[0] * 0.5 + 0.5, res), rtol=1e-4, atol=2e-3)


def _inits(mlp):
    dense = [layer for layer in mlp.mlp if isinstance(layer, keras.layers.Dense)]
    return [(type(d.kernel_initializer).__name__, d.kernel_initializer.get_config()) for d in dense]


def test_mapping_and_discriminator_initialisation():
    def is_lrelu_he(name, cfg):
        return (name == "VarianceScaling" and cfg["mode"] == "fan_in"
                and cfg["distribution"] == "truncated_normal" and cfg["scale"] == pytest.approx(2 / 1.04))

    inits = _inits(networks.LatentMapping(MappingConfig(), 2560, 512, 14))
    assert [name for name, _ in inits] == ["GlorotUniform", "GlorotUniform", "VarianceScaling", "VarianceScaling"]
    assert all(is_lrelu_he(*i) for i in inits[2:])
    d = networks.LatentDiscriminator(DiscriminatorConfig(), 512)
    d_inits = _inits(d)
    assert len(d_inits) == 4 and all(is_lrelu_he(*i) for i in d_inits)
    # the drawn weights have the He std sqrt(scale / fan_in) (Keras corrects for the truncation)
    k = d.mlp[0].kernel.numpy()
    assert k.std() == pytest.approx(np.sqrt(2 / 1.04 / 512), rel=0.05)
    assert all(np.all(layer.bias.numpy() == 0) for layer in d.mlp if hasattr(layer, "bias"))


@pytest.mark.parametrize("w_plus", [False, True])
def test_mapping_output_bias_starts_at_zero_or_at_w_avg(w_plus):
    """Official: M(0) = 0 (zero biases). out_bias_init="w_avg" (the toy preset): M(0) = G's
    dlatent_avg on every layer, and only the output bias differs from the official init."""
    from idd_tf.method import model
    from idd_tf.stylegan import networks as stylegan
    base = presets.TRAIN_PRESETS["tiny"]
    G = stylegan.random_stylegan(base.stylegan, seed=0)
    G.dlatent_avg.assign(tf.random.normal([G.dlatent_size], seed=1))
    nets = {}
    for init in ("zero", "w_avg"):
        keras.utils.set_random_seed(0)
        cfg = base.replace(**{"mapping.w_plus": w_plus, "mapping.out_bias_init": init})
        nets[init] = model.IDDModel(cfg, G).mapping
    zeros = tf.zeros([2, nets["zero"].in_dim])
    np.testing.assert_array_equal(nets["zero"](zeros).numpy(), 0)
    ws = nets["w_avg"](zeros).numpy()
    assert ws.shape == (2, G.num_layers, G.dlatent_size)
    np.testing.assert_allclose(ws, np.broadcast_to(G.dlatent_avg.numpy(), ws.shape), rtol=1e-6)
    a, b = nets["zero"].trainable_variables, nets["w_avg"].trainable_variables
    assert [np.array_equal(x.numpy(), y.numpy()) for x, y in zip(a, b)] == [True] * (len(a) - 1) + [False]
    with pytest.raises(configs.ConfigError, match="mapping.out_bias_init='mean'.*'zero', 'w_avg'"):
        base.replace(**{"mapping.out_bias_init": "mean"})


def test_presets_match_the_official_code():
    p256, p1024 = presets.TRAIN_PRESETS["ffhq256"], presets.TRAIN_PRESETS["ffhq1024"]
    assert (p256.optim.lr_nonadv, p256.optim.lr_adv, p256.optim.lr_disc) == (5e-5, 5e-6, 2e-5)
    assert (p1024.optim.lr_nonadv, p1024.optim.lr_adv, p1024.optim.lr_disc) == pytest.approx((1e-5, 1e-6, 4e-6))
    for p in (p256, p1024):
        assert (p.optim.beta1, p.optim.beta2) == (0.9, 0.999)
        assert (p.loss.id, p.loss.adv, p.loss.lnd, p.loss.rec, p.loss.rec_ssim) == (1, 1, 0.001, 0.02, 0.84)
        assert (p.loss.lnd_scale, p.loss.lnd_sum, p.loss.rec_mask, p.loss.rec_mask_sigma,
                p.loss.rec_l1_batch_sum) == (160, False, "gaussian", 80, True)
        assert (p.cross_every, p.adv_every, p.discriminator.r1_gamma) == (3, 2, 10)
        assert p.mapping.hidden == (2048, 1024, 512) and p.discriminator.hidden == (256, 128, 64)
        assert (p.mapping.he_init_layers, p.discriminator.he_init_layers) == (2, 4)
        assert p.mapping.out_bias_init == "zero"
        assert (p.truncation_psi, p.dataset_size) == (0.7, 70_000)
        assert (p.id_encoder.crop_border, p.id_encoder.resize_to, p.id_encoder.input_size) == (0.1, 256, 224)
    assert p256.batch_size == 6
