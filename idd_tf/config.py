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
