"""idd-tf: Face Identity Disentanglement via Latent Space Mapping, in TensorFlow 2 / Keras 3."""

from idd_tf.config import STYLEGAN_PRESETS, TRAIN_PRESETS, StyleGANConfig, TrainConfig
from idd_tf.legacy import (StyleGANFormatError, load_discriminator, load_networks, load_stylegan,
                           save_converted, save_pickle)
from idd_tf.model import IDDModel, load_run
from idd_tf.stylegan import (Discriminator, MappingNetwork, StyleGAN, SynthesisNetwork,
                             from_uint8, random_stylegan, seed_images, to_nchw, to_uint8,
                             to_unit_range)

__version__ = "0.1.0"

__all__ = [
    "Discriminator", "IDDModel", "MappingNetwork", "STYLEGAN_PRESETS", "StyleGAN",
    "StyleGANConfig", "StyleGANFormatError", "SynthesisNetwork", "TRAIN_PRESETS", "TrainConfig",
    "from_uint8", "load_discriminator", "load_networks", "load_run", "load_stylegan",
    "random_stylegan", "save_converted", "save_pickle", "seed_images", "to_nchw", "to_uint8", "to_unit_range",
]
