"""StyleGAN v1 configs: the architecture (`StyleGANConfig`), NVIDIA's training recipe
(`GANTrainConfig`) and their named presets. Network constants live with the network (networks.py)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar, Mapping

from idd_tf.utils.configs import ConfigError, RunConfig, field, validate

# Official defaults of G_style used when a user does not choose.
DEFAULT_TRUNCATION_PSI = 0.7
DEFAULT_TRUNCATION_CUTOFF = 8
# `convert_stylegan.py --verify`: the float32 image may differ from the float64 computation of the
# same network by at most this max|f32 - f64| / max|f64| (the golden fixture's float32 tolerance).
VERIFY_TOLERANCE = 1e-4


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

    checks_itself: ClassVar[bool] = True   # a nested StyleGANConfig was checked when made

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



STYLEGAN_PRESETS: dict[str, StyleGANConfig] = {
    # Official NVIDIA FFHQ model (karras2019stylegan-ffhq-1024x1024.pkl).
    "ffhq1024": StyleGANConfig(resolution=1024),
    # Real-size networks at 256 (e.g. official LSUN/CelebA-HQ-style configs, used by the paper at 256).
    "ffhq256": StyleGANConfig(resolution=256),
    # Small random model for tests (the method's `tiny` preset; the default run is `toy`).
    "tiny": StyleGANConfig(resolution=32, latent_size=64, dlatent_size=64, mapping_layers=4,
                           mapping_fmaps=64, fmap_base=256, fmap_max=32),
}



# ----------------------------------------------------------------------------------------------
# StyleGAN v1 training (NVIDIA's recipe: training/loss.py, training/training_loop.py, train.py).

@dataclasses.dataclass(frozen=True)
class GANTrainConfig(RunConfig):
    """StyleGAN v1 training, NVIDIA's recipe, with or without progressive growing.

    Losses G_logistic_nonsaturating / D_logistic_simplegp (R1, gamma 10); Adam beta1 0, beta2 0.99,
    eps 1e-8 for G and D; Gs = EMA of G with a half-life of `g_smoothing_kimg` thousand images;
    style mixing with probability 0.9; dlatent_avg tracked with beta 0.995; random noise inputs.
    `r1_interval` > 1 applies R1 lazily (StyleGAN2's trick, gamma scaled by the interval); 1 is
    NVIDIA's v1 (R1 on every D step). `data` is "toy" (the toy-world renderer) or an image folder.
    """
    resume_fixed: ClassVar[tuple[str, ...]] = ("stylegan", "data")

    stylegan: StyleGANConfig = StyleGANConfig()
    data: str = "toy"
    batch_size: int = field(32, low=1)
    # NVIDIA's G_lrate_base / G_lrate_dict: 0.001 below 128 px, 0.0015 at 128, 0.002 at 256, 0.003 at 512+
    g_lr: float = field(0.001, low=0)
    d_lr: float = field(0.001, low=0)
    beta1: float = field(0.0, low=0, high=1)
    beta2: float = field(0.99, low=0, high=1)
    epsilon: float = field(1e-8, low=0, low_inclusive=False)
    r1_gamma: float = field(10.0, low=0)
    r1_interval: int = field(1, low=1)           # 1: NVIDIA's v1; N > 1: lazy R1 (StyleGAN2), gamma x N
    # Optional R1 schedule (not NVIDIA's; the toy preset's): gamma becomes r1_gamma_late from r1_late_kimg on.
    r1_gamma_late: float | None = field(None, low=0)
    r1_late_kimg: float = field(0.0, low=0)
    style_mixing_prob: float = field(0.9, low=0, high=1)
    dlatent_avg_beta: float = field(0.995, low=0, high=1)
    g_smoothing_kimg: float = field(10.0, low=0)
    total_kimg: float = field(1000, low=0)
    seed: int = 0
    log_every: int = field(20, low=1)            # steps
    sample_every: int = field(500, low=1)        # steps (fixed-seed sample grid of Gs)
    checkpoint_every: int = field(100, low=1)    # steps
    snapshot_every: int = field(1000, low=1)     # steps (NVIDIA-format pickle network-snapshot-<kimg>.pkl)
    max_checkpoints: int = field(3, low=1)
    sample_grid: tuple[int, int] = field((8, 8), low=1)
    sample_psi: float = field(1.0, low=0)        # truncation of the sample grids (1 = none)
    # Progressive growing (NVIDIA's TrainingSchedule): start at this resolution, train each level
    # lod_training_kimg, fade the next one in over lod_transition_kimg. 0 = the final resolution
    # from the start (no growing; not NVIDIA's). NVIDIA's defaults: 4 (8 for FFHQ), 600, 600.
    lod_initial_resolution: int = field(0, low=0)
    lod_training_kimg: float = field(600.0, low=0)
    lod_transition_kimg: float = field(600.0, low=0)
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



GAN_PRESETS: dict[str, GANTrainConfig] = {
    # The toy world's StyleGAN (build_toy_world.py trains the shipped one): 64 px, 128-d latents, a few CPU
    # hours; batch 32 and lr 0.001 are NVIDIA's at 64 px (docs/stylegan.md#the-toy-preset).
    "toy": GANTrainConfig(
        # not NVIDIA's (FFHQ 1024): sized for a CPU (docs/decisions.md#toy-stylegan-64-px-and-small-networks)
        stylegan=StyleGANConfig(resolution=64, latent_size=128, dlatent_size=128,
                                mapping_fmaps=128, fmap_base=1024, fmap_max=64),
        # no growing (default; not NVIDIA's): it collapsed (docs/decisions.md#toy-stylegan-no-progressive-growing)
        r1_gamma=10.0,  # NVIDIA's
        # not NVIDIA's: gamma 10 alone left eyes and mouth as bars (docs/decisions.md#toy-stylegan-r1-gamma-10-then-1)
        r1_gamma_late=1.0, r1_late_kimg=128,
        r1_interval=4,  # not NVIDIA's (1): ~25% faster on a CPU (docs/decisions.md#toy-stylegan-lazy-r1-every-4th-step)
        total_kimg=400,  # not NVIDIA's: what a few CPU hours allow (docs/decisions.md#toy-stylegan-r1-gamma-10-then-1)
        # build_toy_world.py then trains on for 384 kimg (docs/decisions.md#toy-stylegan-a-second-run-of-384-kimg)
        noise=False),  # not NVIDIA's: noise speckled the faces (docs/decisions.md#toy-stylegan-no-noise-inputs)
    # Minutes-long smoke version (tests, build_toy_world.py --quick).
    "quick": GANTrainConfig(
        stylegan=StyleGANConfig(resolution=32, latent_size=32, dlatent_size=32, mapping_layers=2,
                                mapping_fmaps=32, fmap_base=64, fmap_max=16),
        batch_size=8, total_kimg=1, log_every=5, sample_every=50, checkpoint_every=25,
        snapshot_every=100, sample_grid=(4, 4)),
}
