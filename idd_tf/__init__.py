"""idd-tf: Face Identity Disentanglement via Latent Space Mapping, in TensorFlow 2 / Keras 3."""

from idd_tf.config import STYLEGAN_PRESETS, StyleGANConfig
from idd_tf.legacy import (StyleGANFormatError, load_discriminator, load_networks, load_stylegan,
                           save_converted)
from idd_tf.stylegan import (Discriminator, MappingNetwork, StyleGAN, SynthesisNetwork,
                             from_uint8, to_nchw, to_uint8, to_unit_range)

__version__ = "0.1.0"

__all__ = [
    "Discriminator", "MappingNetwork", "STYLEGAN_PRESETS", "StyleGAN", "StyleGANConfig",
    "StyleGANFormatError", "SynthesisNetwork", "from_uint8", "load_discriminator",
    "load_networks", "load_stylegan", "save_converted", "to_nchw", "to_uint8", "to_unit_range",
]
