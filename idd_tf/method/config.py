"""The method's configs (Nitzan et al. 2020, Section 3): E_id, E_attr, E_lnd, M, D_W, losses,
optimisers and the training run, each field with its rule. Named presets: `presets.py`."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from idd_tf.method import registry
from idd_tf.stylegan.config import StyleGANConfig
from idd_tf.utils.configs import ConfigError, RunConfig, field


@dataclasses.dataclass(frozen=True)
class IdEncoderConfig:
    """E_id: ResNet-50 trained on VGGFace2 (frozen). `width` < 1 narrows it (tiny runs only).

    Preprocessing as the official code (model/id_encoder.py `preprocess`): cut `crop_border` of
    the side off every edge ([int(0.1 R):int(0.9 R)], a loose face crop instead of VGGFace2's
    detector), resize to `resize_to` (256), centre crop `input_size` (224). `crop_border=0` and
    `resize_to=224`: the plain resize + crop used before.
    """
    # "resnet50_vggface2" (the paper's E_id), "dlib_resnet" (dlib's face-recognition ResNet, built in:
    # the fixed dlib chip of the aligned image, 128-d; `weights` default: the .dat installed by
    # face-recognition-models; input_size/resize_to/crop_border/width/projection unused; see
    # docs/dlib_resnet.md) or "toy" (the toy world's ToyIdentityNet: `weights` is its
    # toy_id.weights.h5, with toy_id.json beside it; takes raw images, no VGGFace2 preprocessing)
    arch: str = field("resnet50_vggface2", check=registry.check_id_encoder_arch)
    input_size: int = field(224, low=1)          # centre crop fed to the network
    resize_to: int = field(256, low=1)           # the (border-cropped) image is resized to this, then centre-cropped
    crop_border: float = field(0.1, low=0, high=0.5)       # fraction of the side cut off each edge first
    width: float = field(1.0, low=0, low_inclusive=False)
    projection: bool = True        # 512-d `dim_proj` layer (WeidiXie weights); False: 2048-d pool
    weights: str | None = None     # Keras VGGFace2 ResNet-50 .h5 (WeidiXie or keras-vggface notop)


@dataclasses.dataclass(frozen=True)
class AttrEncoderConfig:
    """E_attr: InceptionV3 without top, average pooled (2048-d); `arch="tiny"` for test-size runs;
    `arch="small"` (strided convs to 4x4, flattened, a dense code) for the toy world."""
    arch: str = field("inception_v3", choices=("inception_v3", "tiny", "small"))     # "inception_v3" | "tiny" | "small"
    input_size: int = field(299, low=1)
    weights: str | None = None     # ImageNet InceptionV3 notop .h5
    # arch="small": conv widths (stride 2 down to 4x4)
    small_widths: tuple[int, ...] = field((32, 64, 128, 128), low=1)
    small_code: int = field(256, low=1)                      # arch="small": size of the attribute code
    # arch="inception_v3" without ImageNet weights, on purpose: trained from scratch (the paper
    # fine-tunes an ImageNet one); the run then does not ask for --inception
    from_scratch: bool = False

    def __post_init__(self):
        if self.from_scratch and self.weights:
            raise ConfigError(f"attr_encoder.from_scratch=true and attr_encoder.weights={self.weights!r}: "
                              "choose one")


@dataclasses.dataclass(frozen=True)
class LandmarkConfig:
    """E_lnd: CNN regressing 68 landmarks in [0, 1] image coordinates; 51 inner points enter L_lnd.

    `arch`: "cnn" (`encoders.landmark_net`, trained by train_landmarks.py or a user network) or
    "face_api_68" (face-api's pretrained FaceLandmark68Net ported to Keras, `landmark_nets.py`;
    112 px input, so `input_size` and `base_filters` are unused; `weights` default: the shipped
    stylegan_weights/landmarks_face_api_68/face_api_68.weights.h5; docs/landmark_net.md).
    """
    input_size: int = field(128, low=1)
    base_filters: int = field(32, low=1)
    weights: str | None = None     # .weights.h5 from train_landmarks.py, or a user SavedModel/.keras
    arch: str = field("cnn", choices=("cnn", "face_api_68"))     # "cnn" | "face_api_68"
    # The net sees only this box of the image (left, top, right, bottom as fractions of the side;
    # its points are mapped back to the whole image), e.g. the FFHQ face box for a net trained on
    # face-detector crops such as face-api's; None: the whole image
    face_box: tuple[float, float, float, float] | None = field(None, low=0, high=1)

    def __post_init__(self):
        b = self.face_box
        if isinstance(b, tuple) and len(b) == 4 and not (b[0] < b[2] and b[1] < b[3]):   # types: validate()
            raise ConfigError(f"landmarks.face_box={b}: left < right and top < bottom are needed")


@dataclasses.dataclass(frozen=True)
class MappingConfig:
    """M: concat(z_id, z_attr) -> w. Hidden sizes after the input (2560 -> 2048 -> 1024 -> 512 -> 512).

    Init as the official model/latent_mapping.py: the last `he_init_layers` dense layers use
    VarianceScaling(2 / (1 + 0.2^2)) (fan_in, truncated normal: utils/general_utils.get_weights),
    the earlier ones Keras' default glorot-uniform; biases zero.
    `out_bias_init`: "zero" (official) or "w_avg": the output bias starts at G's dlatent_avg, so M
    starts at the centre of W instead of at w = 0 (not official; see the toy preset).
    """
    hidden: tuple[int, ...] = field((2048, 1024, 512), low=1)
    he_init_layers: int = field(2, low=0)
    w_plus: bool = False           # one w per synthesis layer (experiment) instead of one shared w
    out_bias_init: str = field("zero", choices=("zero", "w_avg"))    # "zero" (official latent_mapping.py) | "w_avg"


@dataclasses.dataclass(frozen=True)
class DiscriminatorConfig:
    """D_W: MLP 512 -> 256 -> 128 -> 64 -> 1 with LeakyReLU(0.2), logit output. Every layer
    VarianceScaling(2 / (1 + 0.2^2)) as the official model/discriminator.py (see MappingConfig)."""
    hidden: tuple[int, ...] = field((256, 128, 64), low=1)
    he_init_layers: int = field(4, low=0)
    r1_gamma: float = field(10.0, low=0)


@dataclasses.dataclass(frozen=True)
class LossWeights:
    """Weights and forms of the losses, as the official trainer.py (lambdas at its l.49-60)."""
    id: float = field(1.0, low=0)
    adv: float = field(1.0, low=0)
    lnd: float = field(0.001, low=0)
    rec: float = field(0.02, low=0)
    rec_ssim: float = field(0.84, low=0, high=1)         # L_rec = rec_ssim * (1 - MS-SSIM) + (1 - rec_ssim) * L1
    # L_lnd: official = mean of squared differences over points and coordinates, landmarks in the
    # 160-px units of its landmark net (trainer.py l.182, landmarks.py lazy_postprocess).
    # The paper's ||.||_2^2 in output pixels: lnd_sum=true, lnd_scale=<resolution>.
    lnd_scale: float = field(160.0, low=0, low_inclusive=False)
    lnd_sum: bool = False
    # L1 of L_rec: official = per-pixel L1 weighted by an inverse-Gaussian mask (sigma
    # int(80 R / 256), sums to 1 per image) and summed over the batch (Keras SUM reduction;
    # trainer.py l.33-44, 190). rec_mask="uniform" + rec_l1_batch_sum=false: the plain mean.
    rec_mask: str = field("gaussian", choices=("gaussian", "uniform"))     # "gaussian" | "uniform"
    rec_mask_sigma: float = field(80.0, low=0, low_inclusive=False)   # at 256 px; scales with the resolution
    rec_l1_batch_sum: bool = True


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    """Adam learning rates of the three updates (betas 0.9, 0.999, Keras' epsilon 1e-7).

    Official trainer.py l.23-27: lr = 5e-5 at 256, 1e-5 at 1024; adversarial 0.1 lr, D_W 0.4 lr.
    """
    lr_nonadv: float = field(5e-5, low=0)        # E_attr + M on the non-adversarial loss
    lr_adv: float = field(5e-6, low=0)           # E_attr + M on the adversarial loss
    lr_disc: float = field(2e-5, low=0)          # D_W
    beta1: float = field(0.9, low=0, high=1)
    beta2: float = field(0.999, low=0, high=1)



@dataclasses.dataclass(frozen=True)
class TrainConfig(RunConfig):
    """Everything a training run needs; `scripts/train.py` writes it to the run's config.json."""
    resume_fixed: ClassVar[tuple[str, ...]] = (
        "stylegan", "stylegan_weights", "id_encoder", "attr_encoder", "landmarks", "mapping",
        "discriminator.hidden", "dataset", "dataset_size", "shard_size", "truncation_psi",
        "truncation_cutoff", "validation_dataset")

    stylegan: StyleGANConfig = StyleGANConfig()
    stylegan_weights: str | None = None      # NVIDIA pickle or converted dir; None: random (tiny)
    dataset: str | None = None               # generated dataset dir (made if missing)
    id_encoder: IdEncoderConfig = IdEncoderConfig()
    attr_encoder: AttrEncoderConfig = AttrEncoderConfig()
    landmarks: LandmarkConfig = LandmarkConfig()
    mapping: MappingConfig = MappingConfig()
    discriminator: DiscriminatorConfig = DiscriminatorConfig()
    loss: LossWeights = LossWeights()
    optim: OptimConfig = OptimConfig()
    batch_size: int = field(6, low=1)
    steps: int = field(200_000, low=0)
    # I_id != I_attr on every `cross_every`-th step, I_id == I_attr otherwise
    cross_every: int = field(3, low=1)
    # Adversarial (E_attr + M) and D_W updates on steps with step % adv_every == 0 only (official
    # trainer.py l.109-117: W_D on even steps); the non-adversarial update runs every step.
    adv_every: int = field(2, low=1)
    # Not official (the official code feeds clean samples): photo-like degradations (method/augment.py)
    # of the encoders' inputs I_id and I_attr in training; L_id, L_lnd and L_rec keep clean targets
    augment: bool = False
    truncation_psi: float = field(0.7, low=0)    # dataset generation
    truncation_cutoff: int = field(8, low=0)
    dataset_size: int = field(70_000, low=1)
    shard_size: int = field(1000, low=1)
    seed: int = 0
    shuffle_buffer: int = field(256, low=0)      # records; the buffer is part of every checkpoint
    deterministic: bool = True     # deterministic TF ops: a resumed run repeats an uninterrupted one
    # Random-init pretrained networks (StyleGAN without stylegan_weights; E_id, E_lnd and an
    # InceptionV3 E_attr without weights) are allowed: test presets only. False: scripts/train.py
    # refuses to start until every weight file is given (--allow_random_encoders overrides).
    allow_random_encoders: bool = False
    log_every: int = field(100, low=1)
    image_every: int = field(1000, low=0)
    checkpoint_every: int = field(1000, low=1)
    max_checkpoints: int = field(3, low=1)
    # Validation on held-out images, as the official trainer.py test() (l.80, 264-390): every
    # `validate_every` steps (--test_frequency 1000; 0: never) over `validate_batches` batches of
    # (I_id, I_attr) pairs (--test_size 50); the best checkpoints by identity and by landmarks are
    # kept in checkpoints/best_id, checkpoints/best_lnd. Held-out set: `validation_size` images
    # generated with seed + validation_seed_offset into `validation_dataset` (default <dataset>-val).
    validate_every: int = field(1000, low=0)
    validate_batches: int = field(50, low=1)
    validation_size: int = field(1000, low=1)
    validation_seed_offset: int = 1
    validation_dataset: str | None = None
    # Toy-world runs (toy E_id) only: at the end of training, scripts/train.py scores the run with
    # the toy protocol on this many pairs per source (`toy_protocol.write_evaluation`, RUN/eval/;
    # the same as scripts/evaluate.py); 0: no evaluation.
    eval_pairs: int = field(0, low=0)



    @classmethod
    def locate_run_dir(cls, run_dir):
        from idd_tf.method import presets
        return presets.resolve_run_dir(run_dir)

    @classmethod
    def from_run_dir(cls, run_dir):
        from idd_tf.method import presets
        path = cls.locate_run_dir(run_dir)
        if not (path / "config.json").is_file() and path.resolve() == presets.shipped_run_dir().resolve():
            raise FileNotFoundError(f"the shipped toy run ({path}) is not there: build it with "
                                    "python scripts/build_toy_world.py (its last step)")
        return super().from_run_dir(run_dir)
