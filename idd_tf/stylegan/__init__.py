"""StyleGAN v1 in Keras 3, equal to NVIDIA's within 1e-4, reading and writing NVIDIA's pickles.

Usable on its own: it imports nothing of the method or the toy world.

    from idd_tf import stylegan
    Gs = stylegan.load_stylegan("karras2019stylegan-ffhq-1024x1024.pkl")
    images = stylegan.to_uint8(Gs(z, truncation_psi=0.7))

Modules: `config` (StyleGANConfig, GANTrainConfig, presets), `networks` (G and D), `legacy`
(NVIDIA pickles in and out, the one TF-name <-> Keras-name table), `training` (NVIDIA's training
recipe), `precision` (the float64 twin that bounds float32 drift).
"""

from idd_tf.stylegan.config import GAN_PRESETS, STYLEGAN_PRESETS, GANTrainConfig, StyleGANConfig
from idd_tf.stylegan.legacy import (
                                    StyleGANFormatError,
                                    load_discriminator,
                                    load_networks,
                                    load_pickle,
                                    load_stylegan,
                                    save_converted,
                                    save_pickle,
)
from idd_tf.stylegan.networks import (
                                    Discriminator,
                                    MappingNetwork,
                                    StyleGAN,
                                    SynthesisNetwork,
                                    from_uint8,
                                    random_stylegan,
                                    seed_images,
                                    to_nchw,
                                    to_uint8,
                                    to_unit_range,
)

__all__ = [
    "Discriminator", "GANTrainConfig", "GAN_PRESETS", "MappingNetwork", "STYLEGAN_PRESETS", "StyleGAN",
    "StyleGANConfig", "StyleGANFormatError", "SynthesisNetwork", "from_uint8", "load_discriminator",
    "load_networks", "load_pickle", "load_stylegan", "random_stylegan", "save_converted", "save_pickle",
    "seed_images", "to_nchw", "to_uint8", "to_unit_range",
]
