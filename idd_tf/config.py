"""Every number the project uses lives here: frozen dataclasses and named presets."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping


@dataclasses.dataclass(frozen=True)
class StyleGANConfig:
    """Architecture of a StyleGAN v1 generator/discriminator (NVIDIA `networks_stylegan.py` defaults).

    The defaults are the official FFHQ 1024 model. Only the fields a pickle can differ in
    are exposed; `from_dict` ignores unknown keys so NVIDIA `static_kwargs` can be passed.
    """

    resolution: int = 1024
    num_channels: int = 3
    latent_size: int = 512
    dlatent_size: int = 512
    label_size: int = 0
    mapping_layers: int = 8
    mapping_fmaps: int = 512
    mapping_lrmul: float = 0.01
    fmap_base: int = 8192
    fmap_decay: float = 1.0
    fmap_max: int = 512
    mbstd_group_size: int = 4
    mbstd_num_features: int = 1

    def __post_init__(self):
        log2 = math.log2(self.resolution) if self.resolution > 0 else -1
        if log2 != int(log2) or not 4 <= self.resolution <= 1024:
            raise ValueError(
                f"StyleGAN resolution must be a power of two in 4..1024, got {self.resolution}")
        if self.label_size != 0:
            raise ValueError("conditional StyleGAN (label_size > 0) is not supported")
        for name in ("num_channels", "latent_size", "dlatent_size", "mapping_layers",
                     "mapping_fmaps", "fmap_base", "fmap_max"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.nf(self.resolution_log2 - 1) < 1:
            raise ValueError(f"fmap_base={self.fmap_base} leaves no feature maps at "
                             f"{self.resolution}x{self.resolution}")

    @property
    def resolution_log2(self) -> int:
        return int(math.log2(self.resolution))

    @property
    def num_layers(self) -> int:
        """Number of synthesis layers = number of per-layer dlatents (18 at 1024)."""
        return self.resolution_log2 * 2 - 2

    def nf(self, stage: int) -> int:
        """Feature maps at a stage, exactly as NVIDIA's `nf()`."""
        return min(int(self.fmap_base / (2.0 ** (stage * self.fmap_decay))), self.fmap_max)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "StyleGANConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


# Generator/discriminator fused resampling switches on at this resolution (NVIDIA fused_scale='auto').
FUSED_SCALE_MIN_RES = 128
# Unfused upscale+conv layers at or above this output resolution run as an equivalent
# transposed conv (speed only: below it, upscale + 3x3 conv is faster on CPU).
SUBPIXEL_MIN_RES = 32
# Where the face sits in an FFHQ-aligned image (fractions of the side: left, top, right, bottom);
# used as dlib's face box when landmarking aligned/generated images without detection.
FFHQ_FACE_BOX = (0.22, 0.30, 0.78, 0.86)
# MTCNN detections below this confidence are ignored.
FACE_MIN_CONFIDENCE = 0.9
# ArcFace input: 112x112 face aligned by a similarity transform of 5 points (left eye, right eye,
# nose, left and right mouth corner) onto this template (insightface's standard), pixels
# normalised as (x - 127.5) / 128.
ARCFACE_SIZE = 112
ARCFACE_TEMPLATE = ((38.2946, 51.6963), (73.5318, 51.5014), (56.0252, 71.7366),
                    (41.5493, 92.3655), (70.7299, 92.2041))
# Official defaults of G_style used when a user does not choose.
DEFAULT_TRUNCATION_PSI = 0.7
DEFAULT_TRUNCATION_CUTOFF = 8
# Equalized learning rate: He gain for lrelu layers, slope of every LeakyReLU.
LRELU_GAIN = math.sqrt(2.0)
LRELU_SLOPE = 0.2
NORM_EPSILON = 1e-8
MBSTD_EPSILON = 1e-8
BLUR_FILTER = (1.0, 2.0, 1.0)

STYLEGAN_PRESETS: dict[str, StyleGANConfig] = {
    # Official NVIDIA FFHQ model (karras2019stylegan-ffhq-1024x1024.pkl).
    "ffhq1024": StyleGANConfig(resolution=1024),
    # Real-size networks at 256 (e.g. official LSUN/CelebA-HQ-style configs, used by the paper at 256).
    "ffhq256": StyleGANConfig(resolution=256),
    # Small random model used by tests and the zero-download default run.
    "tiny": StyleGANConfig(resolution=32, latent_size=64, dlatent_size=64, mapping_layers=4,
                           mapping_fmaps=64, fmap_base=256, fmap_max=32),
}


# ----------------------------------------------------------------------------------------------
# Identity-disentanglement model and training (Nitzan et al. 2020, Section 3).

@dataclasses.dataclass(frozen=True)
class IdEncoderConfig:
    """E_id: ResNet-50 trained on VGGFace2 (frozen). `width` < 1 narrows it (tiny runs only)."""
    input_size: int = 224          # centre crop fed to the network
    resize_to: int = 224           # square images are resized to this, then centre-cropped
    width: float = 1.0
    projection: bool = True        # 512-d `dim_proj` layer (WeidiXie weights); False: 2048-d pool
    weights: str | None = None     # Keras VGGFace2 ResNet-50 .h5 (WeidiXie or keras-vggface notop)


@dataclasses.dataclass(frozen=True)
class AttrEncoderConfig:
    """E_attr: InceptionV3 without top, average pooled (2048-d); `arch="tiny"` for test-size runs."""
    arch: str = "inception_v3"     # "inception_v3" | "tiny"
    input_size: int = 299
    weights: str | None = None     # ImageNet InceptionV3 notop .h5


@dataclasses.dataclass(frozen=True)
class LandmarkConfig:
    """E_lnd: CNN regressing 68 landmarks in [0, 1] image coordinates; 51 inner points enter L_lnd."""
    input_size: int = 128
    base_filters: int = 32
    weights: str | None = None     # .weights.h5 from train_landmarks.py, or a user SavedModel/.keras


@dataclasses.dataclass(frozen=True)
class MappingConfig:
    """M: concat(z_id, z_attr) -> w. Hidden sizes after the input (2560 -> 2048 -> 1024 -> 512 -> 512)."""
    hidden: tuple[int, ...] = (2048, 1024, 512)
    w_plus: bool = False           # one w per synthesis layer (experiment) instead of one shared w


@dataclasses.dataclass(frozen=True)
class DiscriminatorConfig:
    """D_W: MLP 512 -> 256 -> 128 -> 64 -> 1 with LeakyReLU(0.2), logit output."""
    hidden: tuple[int, ...] = (256, 128, 64)
    r1_gamma: float = 10.0


@dataclasses.dataclass(frozen=True)
class LossWeights:
    id: float = 1.0
    adv: float = 1.0
    lnd: float = 0.001
    rec: float = 0.02
    rec_ssim: float = 0.84         # L_rec = rec_ssim * (1 - MS-SSIM) + (1 - rec_ssim) * L1


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    """Adam learning rates of the three updates (betas 0.9, 0.999)."""
    lr_nonadv: float = 5e-5        # E_attr + M on the non-adversarial loss
    lr_adv: float = 5e-6           # E_attr + M on the adversarial loss
    lr_disc: float = 2e-5          # D_W
    beta1: float = 0.9
    beta2: float = 0.999


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs; `scripts/train.py` writes it to the run's config.json."""
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
    batch_size: int = 6
    steps: int = 200_000
    cross_every: int = 3           # I_id != I_attr on every `cross_every`-th step, I_id == I_attr otherwise
    truncation_psi: float = 0.7    # dataset generation
    truncation_cutoff: int = 8
    dataset_size: int = 70_000
    shard_size: int = 1000
    seed: int = 0
    shuffle_buffer: int = 256      # records; the buffer is part of every checkpoint
    deterministic: bool = True     # deterministic TF ops: a resumed run repeats an uninterrupted one
    log_every: int = 100
    image_every: int = 1000
    checkpoint_every: int = 1000
    max_checkpoints: int = 3

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TrainConfig":
        return _from_dict(cls, d)

    def replace(self, **changes) -> "TrainConfig":
        """Copy with changes; nested fields by dotted name, e.g. replace(**{"loss.id": 2.0})."""
        d = self.to_dict()
        for key, value in changes.items():
            node = d
            *path, last = key.split(".")
            for p in path:
                node = node[p]
            if last not in node:
                raise KeyError(f"unknown config field {key!r}")
            node[last] = value
        return TrainConfig.from_dict(d)


def _from_dict(cls, d: Mapping[str, Any]):
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in d:
            continue
        value = d[f.name]
        sub = f.default.__class__ if dataclasses.is_dataclass(f.default) else None
        if sub is not None and isinstance(value, Mapping):
            value = _from_dict(sub, value) if sub is not StyleGANConfig else StyleGANConfig.from_dict(value)
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[f.name] = value
    unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise KeyError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
    return cls(**kwargs)


TRAIN_PRESETS: dict[str, TrainConfig] = {
    # Paper setting at 256 (batch 6).
    "ffhq256": TrainConfig(stylegan=STYLEGAN_PRESETS["ffhq256"]),
    # Paper setting at 1024: batch 2 and learning rates / 10.
    "ffhq1024": TrainConfig(
        stylegan=STYLEGAN_PRESETS["ffhq1024"], batch_size=2,
        optim=OptimConfig(lr_nonadv=5e-6, lr_adv=5e-7, lr_disc=2e-6)),
    # Zero-download default: small random StyleGAN and encoders, a few minutes on 2 CPU cores.
    "tiny": TrainConfig(
        stylegan=STYLEGAN_PRESETS["tiny"],
        id_encoder=IdEncoderConfig(input_size=64, resize_to=64, width=0.125),
        attr_encoder=AttrEncoderConfig(arch="tiny", input_size=32),
        landmarks=LandmarkConfig(input_size=32, base_filters=8),
        mapping=MappingConfig(hidden=(256, 128, 64)),
        discriminator=DiscriminatorConfig(hidden=(32, 16, 8)),
        optim=OptimConfig(lr_nonadv=2e-4, lr_adv=2e-5, lr_disc=1e-4),
        batch_size=4, steps=500, dataset_size=256, shard_size=64,
        log_every=25, image_every=100, checkpoint_every=100),
}
