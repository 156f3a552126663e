"""Named training presets of the method (`--preset`), and where the shipped toy parts live.

Each non-official value carries one line of why; the measurements behind them: docs/decisions.md.
"""

from __future__ import annotations

from pathlib import Path

from idd_tf.method.config import (
    AttrEncoderConfig,
    DiscriminatorConfig,
    IdEncoderConfig,
    LandmarkConfig,
    LossWeights,
    MappingConfig,
    OptimConfig,
    TrainConfig,
)
from idd_tf.method.landmark_nets import FACE_API_FACE_BOX
from idd_tf.stylegan.config import STYLEGAN_PRESETS, StyleGANConfig

# The toy world's shipped parts (repository folder stylegan_weights/toy/, a model card beside each).
TOY_WEIGHTS_DIR = str(Path(__file__).resolve().parents[2] / "stylegan_weights" / "toy")
WEIGHT_FIELDS = ("stylegan_weights", "id_encoder.weights", "attr_encoder.weights", "landmarks.weights")


SHIPPED_RUN_NAME = "toy"   # `--run toy` of every inference script: the shipped toy run


def shipped_run_dir():
    """The shipped trained toy run's folder, `stylegan_weights/toy/run` (build_toy_world step 4)."""
    return Path(TOY_WEIGHTS_DIR) / "run"


def resolve_run_dir(run_dir):
    """A run directory as given on the command line, as a Path: `toy` (unless a folder of that
    name exists here) is the shipped trained toy run, `shipped_run_dir()`."""
    if str(run_dir) == SHIPPED_RUN_NAME and not Path(run_dir).exists():
        return shipped_run_dir()
    return Path(run_dir)


def relocate_toy_weights(config: "TrainConfig") -> "TrainConfig":
    """A run made in another clone of idd-tf (e.g. the shipped toy run) names the toy parts by
    that clone's absolute paths: each weight path that does not exist and points into some
    `stylegan_weights/toy/` is redirected to this clone's TOY_WEIGHTS_DIR when the file is there."""
    changes, d = {}, config.to_dict()
    for field in WEIGHT_FIELDS:
        value = d
        for part in field.split("."):
            value = value[part]
        if not value or Path(value).exists():
            continue
        p = Path(value)
        if p.parent.name == "toy" and p.parent.parent.name == "stylegan_weights" \
                and (Path(TOY_WEIGHTS_DIR) / p.name).exists():
            changes[field] = str(Path(TOY_WEIGHTS_DIR) / p.name)
    return config.replace(**changes) if changes else config


# not official (a third-party 160-px net nobody can download): face-api's, shipped, on the face box
# it reads best (docs/decisions.md#e_lnd-face-apis-net); the dlib-distilled net: --set landmarks.arch=cnn
FACE_API_LANDMARKS = LandmarkConfig(arch="face_api_68", face_box=FACE_API_FACE_BOX)

TRAIN_PRESETS: dict[str, TrainConfig] = {
    # The official setting at 256 (batch 6): every value is the official code's (docs/fidelity.md) but E_lnd.
    "ffhq256": TrainConfig(stylegan=STYLEGAN_PRESETS["ffhq256"], landmarks=FACE_API_LANDMARKS),
    # The official setting at 1024 (learning rates 1e-5 / 1e-6 / 4e-6, trainer.py l.23), but for the batch.
    "ffhq1024": TrainConfig(
        stylegan=STYLEGAN_PRESETS["ffhq1024"],
        landmarks=FACE_API_LANDMARKS,
        batch_size=2,  # not official (6): memory at 1024 px (docs/decisions.md#ffhq1024-batch-2)
        optim=OptimConfig(lr_nonadv=1e-5, lr_adv=1e-6, lr_disc=4e-6)),  # official
    # The official setting at 256 with the networks idd-tf has built in, so only the StyleGAN pickle
    # (and the ImageNet InceptionV3, or --set attr_encoder.from_scratch=true) is needed.
    "ffhq256_builtin": TrainConfig(
        stylegan=STYLEGAN_PRESETS["ffhq256"],
        # not official (VGGFace2 ResNet-50, 512-d): dlib's ResNet, 128-d, installed (docs/decisions.md#ffhq256_builtin)
        id_encoder=IdEncoderConfig(arch="dlib_resnet"),
        landmarks=FACE_API_LANDMARKS),
    # The default run (`python scripts/train.py`): the toy world, no downloads, every pretrained part trained
    # (the toy StyleGAN, E_id, E_lnd and E_attr's backbone), a 1,000-step CPU run (docs/toy_world.md).
    "toy": TrainConfig(
        stylegan=StyleGANConfig(resolution=64, latent_size=128, dlatent_size=128, mapping_fmaps=128,
                                fmap_base=1024, fmap_max=64),  # the toy StyleGAN (GAN_PRESETS["toy"])
        stylegan_weights=f"{TOY_WEIGHTS_DIR}/stylegan_toy.pkl",
        id_encoder=IdEncoderConfig(arch="toy", weights=f"{TOY_WEIGHTS_DIR}/toy_id.weights.h5"),
        # not official (InceptionV3): a small CNN that keeps positions (docs/decisions.md#toy-preset-e_attr-arch-small)
        attr_encoder=AttrEncoderConfig(arch="small", input_size=64,
                                       # its backbone pretrained on renders, as the official one on ImageNet
                                       # (docs/decisions.md#toy-preset-e_attr-pretrained-on-renders)
                                       weights=f"{TOY_WEIGHTS_DIR}/toy_attr.weights.h5"),
        landmarks=LandmarkConfig(input_size=64, base_filters=12,
                                 weights=f"{TOY_WEIGHTS_DIR}/toy_lnd.weights.h5"),
        # not official (0.02): at 0.02 M ignored E_attr (docs/decisions.md#toy-preset-l_rec-weight-02)
        loss=LossWeights(rec=0.2),
        mapping=MappingConfig(
            hidden=(512, 256, 128),  # not official: sized for the 128-d W
            # not official (zero): from w = 0 M stayed off W (docs/decisions.md#toy-preset-ms-output-bias-at-w_avg)
            out_bias_init="w_avg"),
        discriminator=DiscriminatorConfig(hidden=(64, 32, 16)),  # not official: sized for the 128-d W
        # not official (5e-5 at 256): 10x for a short run; adv 0.1x and D_W 0.4x as official
        optim=OptimConfig(lr_nonadv=5e-4, lr_adv=5e-5, lr_disc=2e-4),
        # not official (batch 6, 70,000 images): a short CPU run (docs/decisions.md#toy-preset-a-short-cpu-run)
        batch_size=16, steps=1000, dataset_size=5000, shard_size=1000, log_every=50,
        image_every=500, checkpoint_every=500, validate_every=500, validate_batches=8,
        validation_size=256, eval_pairs=100),
    # Small random networks (`--preset tiny`): the test suite's preset and a one-minute smoke run; not the
    # default run (that is `toy`).
    "tiny": TrainConfig(
        stylegan=STYLEGAN_PRESETS["tiny"],
        id_encoder=IdEncoderConfig(input_size=64, resize_to=64, width=0.125),
        attr_encoder=AttrEncoderConfig(arch="tiny", input_size=32),
        landmarks=LandmarkConfig(input_size=32, base_filters=8),
        mapping=MappingConfig(hidden=(256, 128, 64)),
        discriminator=DiscriminatorConfig(hidden=(32, 16, 8)),
        optim=OptimConfig(lr_nonadv=2e-4, lr_adv=2e-5, lr_disc=1e-4),
        batch_size=4, steps=200, dataset_size=256, shard_size=64,
        log_every=25, image_every=100, checkpoint_every=100, allow_random_encoders=True,
        validate_every=100, validate_batches=2, validation_size=32),
}
