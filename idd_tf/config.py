"""Every number the project uses lives here: frozen dataclasses and named presets."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping


class ConfigError(ValueError):
    """A config field with an unknown name, a wrong type or an impossible value (names the field)."""


# Allowed values of the run configs' fields, by dotted name (checked when a config is made).
# (low, high, low_inclusive): a number range; a tuple of strings: the choices.
_POSITIVE, _NONNEG, _UNIT = (0, math.inf, False), (0, math.inf, True), (0, 1, True)
FIELD_RULES: dict[str, tuple] = {
    # TrainConfig
    "batch_size": (1, math.inf, True), "steps": _NONNEG, "cross_every": (1, math.inf, True),
    "adv_every": (1, math.inf, True), "truncation_psi": _NONNEG, "truncation_cutoff": _NONNEG,
    "dataset_size": (1, math.inf, True), "shard_size": (1, math.inf, True), "shuffle_buffer": _NONNEG,
    "log_every": (1, math.inf, True), "image_every": _NONNEG, "checkpoint_every": (1, math.inf, True),
    "max_checkpoints": (1, math.inf, True), "validate_every": _NONNEG, "validate_batches": (1, math.inf, True),
    "validation_size": (1, math.inf, True), "eval_pairs": _NONNEG,
    "id_encoder.arch": ("resnet50_vggface2", "toy"),
    "id_encoder.input_size": (1, math.inf, True), "id_encoder.resize_to": (1, math.inf, True),
    "id_encoder.crop_border": (0, 0.5, True), "id_encoder.width": _POSITIVE,
    "attr_encoder.arch": ("inception_v3", "tiny", "small"), "attr_encoder.input_size": (1, math.inf, True),
    "attr_encoder.small_widths": (1, math.inf, True), "attr_encoder.small_code": (1, math.inf, True),
    "landmarks.input_size": (1, math.inf, True), "landmarks.base_filters": (1, math.inf, True),
    "mapping.hidden": (1, math.inf, True), "mapping.he_init_layers": _NONNEG,
    "mapping.out_bias_init": ("zero", "w_avg"),
    "discriminator.hidden": (1, math.inf, True), "discriminator.he_init_layers": _NONNEG,
    "discriminator.r1_gamma": _NONNEG,
    "loss.id": _NONNEG, "loss.adv": _NONNEG, "loss.lnd": _NONNEG, "loss.rec": _NONNEG,
    "loss.rec_ssim": _UNIT, "loss.lnd_scale": _POSITIVE, "loss.rec_mask": ("gaussian", "uniform"),
    "loss.rec_mask_sigma": _POSITIVE,
    "optim.lr_nonadv": _NONNEG, "optim.lr_adv": _NONNEG, "optim.lr_disc": _NONNEG,
    "optim.beta1": (0, 1, True), "optim.beta2": (0, 1, True),
    # GANTrainConfig (its batch_size, log_every, max_checkpoints and seed share the rules above)
    "g_lr": _NONNEG, "d_lr": _NONNEG, "beta1": (0, 1, True), "beta2": (0, 1, True), "epsilon": _POSITIVE,
    "r1_gamma": _NONNEG, "r1_gamma_late": _NONNEG, "r1_late_kimg": _NONNEG, "r1_interval": (1, math.inf, True), "style_mixing_prob": _UNIT,
    "dlatent_avg_beta": _UNIT, "g_smoothing_kimg": _NONNEG, "total_kimg": _NONNEG,
    "sample_every": (1, math.inf, True), "snapshot_every": (1, math.inf, True),
    "sample_grid": (1, math.inf, True), "sample_psi": _NONNEG,
    "lod_initial_resolution": _NONNEG, "lod_training_kimg": _NONNEG, "lod_transition_kimg": _NONNEG,
}


def _type_ok(value, hint) -> bool:
    import numbers
    import types
    import typing
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_type_ok(v, args[0]) for v in value)
        return len(value) == len(args) and all(_type_ok(v, a) for v, a in zip(value, args))
    if dataclasses.is_dataclass(hint):
        return isinstance(value, hint)
    return isinstance(value, hint)


def _type_name(hint) -> str:
    return str(hint).replace("typing.", "").replace("<class '", "").replace("'>", "")


def _check_rule(name, value, rule):
    if isinstance(rule[0], str):
        if value not in rule:
            raise ConfigError(f"{name}={value!r} is not allowed; one of {', '.join(map(repr, rule))}")
        return
    low, high, low_inclusive = rule
    for v in (value if isinstance(value, tuple) else (value,)):
        if v is None:
            continue
        if not (low <= v if low_inclusive else low < v) or v > high or (isinstance(v, float) and math.isnan(v)):
            bound = f"{'>=' if low_inclusive else '>'} {low}" + (f" and <= {high}" if high != math.inf else "")
            raise ConfigError(f"{name}={value!r} is impossible: it must be {bound}")


def validate(config, prefix: str = "") -> None:
    """Raise ConfigError naming the first field whose type or value is wrong (nested by dotted name)."""
    import typing
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        name, value = prefix + f.name, getattr(config, f.name)
        if not _type_ok(value, hints[f.name]):
            hint = ""
            if isinstance(value, str) and "," in value and typing.get_origin(hints[f.name]) in (tuple, list):
                hint = f" (a JSON list: --set {name}=[{value}])"
            raise ConfigError(f"{name}={value!r} has the wrong type: expected {_type_name(hints[f.name])}{hint}")
        if dataclasses.is_dataclass(value) and not isinstance(value, StyleGANConfig):
            validate(value, name + ".")
        elif name in FIELD_RULES:
            _check_rule(name, value, FIELD_RULES[name])


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
        validate(self)   # field types
        if not (0 < self.mapping_lrmul < math.inf and 0 <= self.fmap_decay < math.inf):
            raise ValueError(f"mapping_lrmul={self.mapping_lrmul} and fmap_decay={self.fmap_decay} "
                             "must be positive and finite")
        if self.mbstd_group_size < 0 or self.mbstd_num_features < 0:
            raise ValueError("mbstd_group_size and mbstd_num_features must be >= 0")
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
# Likewise, unfused 3x3-conv + 2x2-downscale layers at or above this input resolution run as the
# equivalent strided conv with the folded 4x4 kernel (speed only).
STRIDED_DOWN_MIN_RES = 32
# Where the face sits in an FFHQ-aligned image (fractions of the side: left, top, right, bottom);
# used as dlib's face box when landmarking aligned/generated images without detection.
FFHQ_FACE_BOX = (0.22, 0.30, 0.78, 0.86)
# Image files in: smaller sides are refused (no face fits), larger ones are decoded at a reduced
# scale where the format allows it (JPEG) and downscaled to this side; more pixels than
# MAX_IMAGE_PIXELS (before decoding) are refused, so a huge file cannot exhaust memory.
MIN_IMAGE_SIDE = 32
MAX_IMAGE_SIDE = 4096
MAX_IMAGE_PIXELS = 100_000_000
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
# `convert_stylegan.py --verify`: the float32 image may differ from the float64 computation of the
# same network by at most this max|f32 - f64| / max|f64| (the golden fixture's float32 tolerance).
VERIFY_TOLERANCE = 1e-4

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
    """E_id: ResNet-50 trained on VGGFace2 (frozen). `width` < 1 narrows it (tiny runs only).

    Preprocessing as the official code (model/id_encoder.py `preprocess`): cut `crop_border` of
    the side off every edge ([int(0.1 R):int(0.9 R)], a loose face crop instead of VGGFace2's
    detector), resize to `resize_to` (256), centre crop `input_size` (224). `crop_border=0` and
    `resize_to=224`: the plain resize + crop used before.
    """
    # "resnet50_vggface2" (the paper's E_id) or "toy" (the toy world's ToyIdentityNet: `weights` is
    # its toy_id.weights.h5, with toy_id.json beside it; takes raw images, no VGGFace2 preprocessing)
    arch: str = "resnet50_vggface2"
    input_size: int = 224          # centre crop fed to the network
    resize_to: int = 256           # the (border-cropped) image is resized to this, then centre-cropped
    crop_border: float = 0.1       # fraction of the side cut off each edge first
    width: float = 1.0
    projection: bool = True        # 512-d `dim_proj` layer (WeidiXie weights); False: 2048-d pool
    weights: str | None = None     # Keras VGGFace2 ResNet-50 .h5 (WeidiXie or keras-vggface notop)


@dataclasses.dataclass(frozen=True)
class AttrEncoderConfig:
    """E_attr: InceptionV3 without top, average pooled (2048-d); `arch="tiny"` for test-size runs;
    `arch="small"` (strided convs to 4x4, flattened, a dense code) for the toy world."""
    arch: str = "inception_v3"     # "inception_v3" | "tiny" | "small"
    input_size: int = 299
    weights: str | None = None     # ImageNet InceptionV3 notop .h5
    small_widths: tuple[int, ...] = (32, 64, 128, 128)   # arch="small": conv widths (stride 2 down to 4x4)
    small_code: int = 256                      # arch="small": size of the attribute code


@dataclasses.dataclass(frozen=True)
class LandmarkConfig:
    """E_lnd: CNN regressing 68 landmarks in [0, 1] image coordinates; 51 inner points enter L_lnd."""
    input_size: int = 128
    base_filters: int = 32
    weights: str | None = None     # .weights.h5 from train_landmarks.py, or a user SavedModel/.keras


@dataclasses.dataclass(frozen=True)
class MappingConfig:
    """M: concat(z_id, z_attr) -> w. Hidden sizes after the input (2560 -> 2048 -> 1024 -> 512 -> 512).

    Init as the official model/latent_mapping.py: the last `he_init_layers` dense layers use
    VarianceScaling(2 / (1 + 0.2^2)) (fan_in, truncated normal: utils/general_utils.get_weights),
    the earlier ones Keras' default glorot-uniform; biases zero.
    `out_bias_init`: "zero" (official) or "w_avg": the output bias starts at G's dlatent_avg, so M
    starts at the centre of W instead of at w = 0 (not official; see the toy preset).
    """
    hidden: tuple[int, ...] = (2048, 1024, 512)
    he_init_layers: int = 2
    w_plus: bool = False           # one w per synthesis layer (experiment) instead of one shared w
    out_bias_init: str = "zero"    # "zero" (official latent_mapping.py) | "w_avg"


@dataclasses.dataclass(frozen=True)
class DiscriminatorConfig:
    """D_W: MLP 512 -> 256 -> 128 -> 64 -> 1 with LeakyReLU(0.2), logit output. Every layer
    VarianceScaling(2 / (1 + 0.2^2)) as the official model/discriminator.py (see MappingConfig)."""
    hidden: tuple[int, ...] = (256, 128, 64)
    he_init_layers: int = 4
    r1_gamma: float = 10.0


@dataclasses.dataclass(frozen=True)
class LossWeights:
    """Weights and forms of the losses, as the official trainer.py (lambdas at its l.49-60)."""
    id: float = 1.0
    adv: float = 1.0
    lnd: float = 0.001
    rec: float = 0.02
    rec_ssim: float = 0.84         # L_rec = rec_ssim * (1 - MS-SSIM) + (1 - rec_ssim) * L1
    # L_lnd: official = mean of squared differences over points and coordinates, landmarks in the
    # 160-px units of its landmark net (trainer.py l.182, landmarks.py lazy_postprocess).
    # The paper's ||.||_2^2 in output pixels: lnd_sum=true, lnd_scale=<resolution>.
    lnd_scale: float = 160.0
    lnd_sum: bool = False
    # L1 of L_rec: official = per-pixel L1 weighted by an inverse-Gaussian mask (sigma
    # int(80 R / 256), sums to 1 per image) and summed over the batch (Keras SUM reduction;
    # trainer.py l.33-44, 190). rec_mask="uniform" + rec_l1_batch_sum=false: the plain mean.
    rec_mask: str = "gaussian"     # "gaussian" | "uniform"
    rec_mask_sigma: float = 80.0   # at 256 px; scales with the resolution
    rec_l1_batch_sum: bool = True


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    """Adam learning rates of the three updates (betas 0.9, 0.999, Keras' epsilon 1e-7).

    Official trainer.py l.23-27: lr = 5e-5 at 256, 1e-5 at 1024; adversarial 0.1 lr, D_W 0.4 lr.
    """
    lr_nonadv: float = 5e-5        # E_attr + M on the non-adversarial loss
    lr_adv: float = 5e-6           # E_attr + M on the adversarial loss
    lr_disc: float = 2e-5          # D_W
    beta1: float = 0.9
    beta2: float = 0.999


class _RunConfig:
    """to_dict / from_dict (JSON round trip, unknown keys refused) / replace with dotted names.
    Fields are checked (types, FIELD_RULES) when a config is made: ConfigError names the field."""

    def __post_init__(self):
        validate(self)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]):
        return _from_dict(cls, d)

    @classmethod
    def from_run_dir(cls, run_dir):
        """The config.json of a run directory (FileNotFoundError naming it when absent)."""
        import json
        path = resolve_run_dir(run_dir) / "config.json"
        if not path.is_file():
            if path.parent.resolve() == shipped_run_dir().resolve():
                raise FileNotFoundError(f"the shipped toy run ({path.parent}) is not there: build it with "
                                        "python scripts/build_toy_world.py (its last step)")
            raise FileNotFoundError(f"{run_dir} is not a run directory: no config.json there")
        try:
            d = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path} is not valid JSON ({e}); was it edited or cut short?") from None
        if not isinstance(d, Mapping):
            raise ConfigError(f"{path} does not hold a {cls.__name__} (a JSON object)")
        try:
            return cls.from_dict(d)
        except KeyError as e:   # fields this version does not have: a newer (or another) idd-tf
            raise ConfigError(f"{path} was written by another idd-tf version or edited: "
                              f"{e.args[0]}; this version knows {cls.__name__} as in "
                              "idd_tf/config.py (use the idd-tf that made the run)") from None

    def replace(self, **changes):
        """Copy with changes; nested fields by dotted name, e.g. replace(**{"loss.id": 2.0})."""
        import difflib
        d = self.to_dict()
        for key, value in changes.items():
            node, where, parts = d, "", key.split(".")
            for i, p in enumerate(parts):
                if not isinstance(node, dict) or p not in node:
                    fields = sorted(node) if isinstance(node, dict) else []
                    close = difflib.get_close_matches(p, fields, n=1)
                    raise ConfigError(
                        f"unknown config field {key!r}"
                        + (f" (did you mean {where + close[0]!r}?)" if close else "")
                        + (f"; fields of {where.rstrip('.') or type(self).__name__}: {', '.join(fields)}"
                           if fields else f"; {where.rstrip('.')} has no sub-fields"))
                if i < len(parts) - 1:
                    node, where = node[p], where + p + "."
            node[parts[-1]] = value
        return type(self).from_dict(d)


# Fields a run's checkpoints or dataset were made with: `--resume --set` may not change them.
RESUME_FIXED: dict[str, tuple[str, ...]] = {
    "TrainConfig": ("stylegan", "stylegan_weights", "id_encoder", "attr_encoder", "landmarks", "mapping",
                    "discriminator.hidden", "dataset", "dataset_size", "shard_size", "truncation_psi",
                    "truncation_cutoff", "validation_dataset"),
    "GANTrainConfig": ("stylegan", "data"),
}


def _leaves(value, prefix):
    if isinstance(value, dict):
        return {k: v for key, sub in value.items() for k, v in _leaves(sub, f"{prefix}.{key}").items()}
    return {prefix: value}


def check_resume(old, new) -> None:
    """ConfigError naming the first RESUME_FIXED field that `new` (a resumed run's config with the
    user's changes) changes from `old` (the run's config.json), e.g. mapping.w_plus on a W run."""
    a, b = old.to_dict(), new.to_dict()
    for field in RESUME_FIXED[type(old).__name__]:
        va, vb = a, b
        for part in field.split("."):
            va, vb = va[part], vb[part]
        for key, value in _leaves(va, field).items():
            changed = _leaves(vb, field).get(key)
            if changed != value:
                raise ConfigError(f"{key}: this run was made with {json_text(value)}; a resumed run cannot "
                                  f"change it to {json_text(changed)} (its checkpoints/dataset depend on it): "
                                  "start a new run instead")


def json_text(value) -> str:
    import json
    return json.dumps(value)


def parse_overrides(items) -> dict[str, Any]:
    """`--set key=value` strings -> {key: value}; values are JSON where they parse, else strings."""
    import json
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set {item!r}: expected key=value")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


@dataclasses.dataclass(frozen=True)
class TrainConfig(_RunConfig):
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
    # Adversarial (E_attr + M) and D_W updates on steps with step % adv_every == 0 only (official
    # trainer.py l.109-117: W_D on even steps); the non-adversarial update runs every step.
    adv_every: int = 2
    truncation_psi: float = 0.7    # dataset generation
    truncation_cutoff: int = 8
    dataset_size: int = 70_000
    shard_size: int = 1000
    seed: int = 0
    shuffle_buffer: int = 256      # records; the buffer is part of every checkpoint
    deterministic: bool = True     # deterministic TF ops: a resumed run repeats an uninterrupted one
    # Random-init pretrained networks (StyleGAN without stylegan_weights; E_id, E_lnd and an
    # InceptionV3 E_attr without weights) are allowed: test presets only. False: scripts/train.py
    # refuses to start until every weight file is given (--allow_random_encoders overrides).
    allow_random_encoders: bool = False
    log_every: int = 100
    image_every: int = 1000
    checkpoint_every: int = 1000
    max_checkpoints: int = 3
    # Validation on held-out images, as the official trainer.py test() (l.80, 264-390): every
    # `validate_every` steps (--test_frequency 1000; 0: never) over `validate_batches` batches of
    # (I_id, I_attr) pairs (--test_size 50); the best checkpoints by identity and by landmarks are
    # kept in checkpoints/best_id, checkpoints/best_lnd. Held-out set: `validation_size` images
    # generated with seed + validation_seed_offset into `validation_dataset` (default <dataset>-val).
    validate_every: int = 1000
    validate_batches: int = 50
    validation_size: int = 1000
    validation_seed_offset: int = 1
    validation_dataset: str | None = None
    # Toy-world runs (toy E_id) only: at the end of training, scripts/train.py scores the run with
    # the toy protocol on this many pairs per source (`toy_protocol.write_evaluation`, RUN/eval/;
    # the same as scripts/evaluate.py); 0: no evaluation.
    eval_pairs: int = 0


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


# The toy world's shipped parts (repository folder stylegan_weights/toy/, a model card beside each).
TOY_WEIGHTS_DIR = str(__import__("pathlib").Path(__file__).resolve().parents[1] / "stylegan_weights" / "toy")
WEIGHT_FIELDS = ("stylegan_weights", "id_encoder.weights", "attr_encoder.weights", "landmarks.weights")


SHIPPED_RUN_NAME = "toy"   # `--run toy` of every inference script: the shipped toy run


def shipped_run_dir():
    """The shipped trained toy run's folder, `stylegan_weights/toy/run` (build_toy_world step 4)."""
    from pathlib import Path
    return Path(TOY_WEIGHTS_DIR) / "run"


def resolve_run_dir(run_dir):
    """A run directory as given on the command line, as a Path: `toy` (unless a folder of that
    name exists here) is the shipped trained toy run, `shipped_run_dir()`."""
    from pathlib import Path
    if str(run_dir) == SHIPPED_RUN_NAME and not Path(run_dir).exists():
        return shipped_run_dir()
    return Path(run_dir)


def relocate_toy_weights(config: "TrainConfig") -> "TrainConfig":
    """A run made in another clone of idd-tf (e.g. the shipped toy run) names the toy parts by
    that clone's absolute paths: each weight path that does not exist and points into some
    `stylegan_weights/toy/` is redirected to this clone's TOY_WEIGHTS_DIR when the file is there."""
    from pathlib import Path
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

TRAIN_PRESETS: dict[str, TrainConfig] = {
    # The official setting at 256 (batch 6); every number checked against the official code:
    # README.md, "Differences from the official code".
    "ffhq256": TrainConfig(stylegan=STYLEGAN_PRESETS["ffhq256"]),
    # At 1024: the official learning rates (1e-5, trainer.py l.23); batch 2 (memory; the official
    # default is 6 at every resolution: --batch_size 6).
    "ffhq1024": TrainConfig(
        stylegan=STYLEGAN_PRESETS["ffhq1024"], batch_size=2,
        optim=OptimConfig(lr_nonadv=1e-5, lr_adv=1e-6, lr_disc=4e-6)),
    # The toy world (no downloads, every frozen part trained): the toy StyleGAN (64 px, w 128-d),
    # toy E_id and E_lnd (frozen), a small trainable E_attr; the official losses (L_rec 10x) and
    # schedule with M and D_W scaled to the 128-d W and learning rates for a short CPU run.
    "toy": TrainConfig(
        stylegan=StyleGANConfig(resolution=64, latent_size=128, dlatent_size=128, mapping_fmaps=128,
                                fmap_base=1024, fmap_max=64),
        stylegan_weights=f"{TOY_WEIGHTS_DIR}/stylegan_toy.pkl",
        id_encoder=IdEncoderConfig(arch="toy", weights=f"{TOY_WEIGHTS_DIR}/toy_id.weights.h5"),
        # Not official either (measured at 1,000 steps, README "Scoring disentanglement"): E_attr
        # keeps the layout of its features (arch="small": convs to 4x4, flattened; the average-
        # pooled "tiny" net lost where the head, mouth and light are), and L_rec weighs 10x the
        # official 0.02: at 0.02 M rebuilt the input from the identity code alone and ignored
        # E_attr (norm attr 0.90); at 0.2 the attribute code moves the output as much as the
        # identity code (norm attr 0.73, sum 1.53 -> 1.42). `--set loss.rec=0.02` is official.
        attr_encoder=AttrEncoderConfig(arch="small", input_size=64),
        landmarks=LandmarkConfig(input_size=64, base_filters=12,
                                 weights=f"{TOY_WEIGHTS_DIR}/toy_lnd.weights.h5"),
        loss=LossWeights(rec=0.2),
        # Not official: M's output bias starts at G's dlatent_avg (official: zero, `--set
        # mapping.out_bias_init=zero`). From w = 0, 3000 steps left M's outputs 8.6 from the mean
        # of W (norm 8.5): G drew one texture for every pair and L_rec stayed at 1.2; from w_avg
        # L_rec is 0.44 after 500 steps (README, "Scoring disentanglement in the toy world").
        mapping=MappingConfig(hidden=(512, 256, 128), out_bias_init="w_avg"),
        discriminator=DiscriminatorConfig(hidden=(64, 32, 16)),
        optim=OptimConfig(lr_nonadv=5e-4, lr_adv=5e-5, lr_disc=2e-4),
        batch_size=16, steps=1000, dataset_size=5000, shard_size=1000, log_every=50,
        image_every=500, checkpoint_every=500, validate_every=500, validate_batches=8,
        validation_size=256, eval_pairs=100),
    # Zero-download default: small random StyleGAN and encoders, a few minutes on 2 CPU cores.
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


# ----------------------------------------------------------------------------------------------
# StyleGAN v1 training (NVIDIA's recipe: training/loss.py, training/training_loop.py, train.py).

@dataclasses.dataclass(frozen=True)
class GANTrainConfig(_RunConfig):
    """StyleGAN v1 training, NVIDIA's recipe, with or without progressive growing.

    Losses G_logistic_nonsaturating / D_logistic_simplegp (R1, gamma 10); Adam beta1 0, beta2 0.99,
    eps 1e-8 for G and D; Gs = EMA of G with a half-life of `g_smoothing_kimg` thousand images;
    style mixing with probability 0.9; dlatent_avg tracked with beta 0.995; random noise inputs.
    `r1_interval` > 1 applies R1 lazily (StyleGAN2's trick, gamma scaled by the interval); 1 is
    NVIDIA's v1 (R1 on every D step). `data` is "toy" (the toy-world renderer) or an image folder.
    """
    stylegan: StyleGANConfig = StyleGANConfig()
    data: str = "toy"
    batch_size: int = 32
    g_lr: float = 0.001            # NVIDIA G_lrate_base/dict: 0.001 below 128, 0.0015 @128, 0.002 @256, 0.003 @512+
    d_lr: float = 0.001
    beta1: float = 0.0
    beta2: float = 0.99
    epsilon: float = 1e-8
    r1_gamma: float = 10.0
    r1_interval: int = 1
    # Optional R1 schedule (not NVIDIA's): gamma becomes r1_gamma_late from r1_late_kimg on.
    r1_gamma_late: float | None = None
    r1_late_kimg: float = 0.0
    style_mixing_prob: float = 0.9
    dlatent_avg_beta: float = 0.995
    g_smoothing_kimg: float = 10.0
    total_kimg: float = 1000
    seed: int = 0
    log_every: int = 20            # steps
    sample_every: int = 500        # steps (fixed-seed sample grid of Gs)
    checkpoint_every: int = 100    # steps
    snapshot_every: int = 1000     # steps (NVIDIA-format pickle network-snapshot-<kimg>.pkl)
    max_checkpoints: int = 3
    sample_grid: tuple[int, int] = (8, 8)
    sample_psi: float = 1.0        # truncation of the sample grids (1 = none)
    # Progressive growing (NVIDIA's TrainingSchedule): start at this resolution, train each level
    # lod_training_kimg, fade the next one in over lod_transition_kimg. 0 = the final resolution
    # from the start (no growing). NVIDIA's defaults: 4 (8 for FFHQ), 600, 600.
    lod_initial_resolution: int = 0
    lod_training_kimg: float = 600.0
    lod_transition_kimg: float = 600.0
    # NVIDIA's per-pixel noise inputs in training. False: no noise, and every noise_strength held
    # at 0 (the variables stay, so the pickle is NVIDIA's format and its outputs ignore the noise):
    # for data without stochastic detail, such as the toy renders.
    noise: bool = True

    def __post_init__(self):
        super().__post_init__()
        r0 = self.lod_initial_resolution
        if r0 and (r0 < 4 or r0 > self.stylegan.resolution or r0 & (r0 - 1)):
            raise ConfigError(f"lod_initial_resolution={r0} must be 0 (no progressive growing) or a "
                              f"power of two from 4 to the resolution {self.stylegan.resolution}")
        group = min(self.stylegan.mbstd_group_size, self.batch_size)
        if group > 1 and self.batch_size % group:
            raise ConfigError(f"batch_size={self.batch_size} must be a multiple of D's minibatch-stddev "
                              f"group size {group} (stylegan.mbstd_group_size)")


# Relative cost of a StyleGAN training step at progressive-growing level L (2**L times below the
# final resolution), for the ETA only: measured for the toy config on 2 CPU cores
# (benchmarks/bench_gan_train_step.py --levels 3,2,1,0); deeper levels cost as much as level 3.
GROWING_STEP_COST = (1.0, 0.8, 0.25, 0.07)

GAN_PRESETS: dict[str, GANTrainConfig] = {
    # The toy world's StyleGAN: 64x64, fmap_base 1024, fmap_max 64, latent 128, batch 32 (NVIDIA's
    # minibatch at 64 px), lr 0.001 (NVIDIA's below 128 px), R1 applied every 4th D step with 4x
    # gamma (StyleGAN2's lazy regularisation; --set r1_interval=1 is NVIDIA's v1): ~25% faster on
    # a CPU. At the final resolution from the start: progressive growing (8 px, 15 kimg per level
    # and per fade) reached 64 px sooner but collapsed, in two runs with R1 gamma 0.04 -> 0.2 and 1
    # (G drew one head shape for every z from the 32-px phase on), while this recipe kept its
    # samples varied. Not NVIDIA's: R1 gamma 10 (NVIDIA's value, for 1024 px) for the first
    # 128 kimg, then 1. Gamma 10 alone leaves the 64-px samples blurry (eyes and mouth as bars;
    # switching to 1 took FID 32.1 -> 15.6, the shipped pickle's card); gamma 1 from the start drew
    # one frame-like face for every z at 64 kimg and striped eyes at 160 kimg. This preset from
    # scratch: 400 kimg in 1.71 h on 2 CPU cores, FID 15.3 (the shipped pickle's card).
    "toy": GANTrainConfig(
        stylegan=StyleGANConfig(resolution=64, latent_size=128, dlatent_size=128,
                                mapping_fmaps=128, fmap_base=1024, fmap_max=64),
        r1_gamma=10.0, r1_gamma_late=1.0, r1_late_kimg=128, r1_interval=4, total_kimg=400,
        # No noise inputs: the renders have no stochastic detail, and with noise both toy runs
        # drew speckled faces (noise strengths 0.1-0.2 at 32-64 px after 110 kimg; the same
        # Gs without its noise drew clean heads).
        noise=False),
    # Minutes-long smoke version (tests, build_toy_world.py --quick).
    "quick": GANTrainConfig(
        stylegan=StyleGANConfig(resolution=32, latent_size=32, dlatent_size=32, mapping_layers=2,
                                mapping_fmaps=32, fmap_base=64, fmap_max=16),
        batch_size=8, total_kimg=1, log_every=5, sample_every=50, checkpoint_every=25,
        snapshot_every=100, sample_grid=(4, 4)),
}
