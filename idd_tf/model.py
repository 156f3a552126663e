"""The identity-disentanglement model: E_id, E_attr, M, G (frozen StyleGAN), E_lnd, D_W."""

from __future__ import annotations

import keras
import tensorflow as tf

from idd_tf.config import TrainConfig
from idd_tf.encoders import AttributeEncoder, IdentityEncoder, LandmarkEncoder
from idd_tf.networks import LatentDiscriminator, LatentMapping


class IDDModel(keras.Model):
    """I_id, I_attr -> I_out = G(M(concat(E_id(I_id), E_attr(I_attr)))).

    Trainable: E_attr and M (the generator side) and D_W. Frozen: E_id, E_lnd and the StyleGAN G,
    which is passed in (built from a pickle, a converted dir or random init by the caller).
    """

    def __init__(self, config: TrainConfig, stylegan, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.stylegan = stylegan
        self.stylegan.trainable = False
        self.e_id = IdentityEncoder(config.id_encoder, name="E_id")
        self.e_attr = AttributeEncoder(config.attr_encoder, name="E_attr")
        self.e_lnd = LandmarkEncoder(config.landmarks, name="E_lnd")
        in_dim = self.e_id.embedding_size + self.e_attr.embedding_size
        self.mapping = LatentMapping(config.mapping, in_dim, stylegan.dlatent_size,
                                     stylegan.num_layers, name="M")
        self.d_w = LatentDiscriminator(config.discriminator, stylegan.dlatent_size, name="D_W")

    @property
    def generator_variables(self):
        """What the non-adversarial and adversarial updates train: E_attr + M."""
        return self.e_attr.trainable_variables + self.mapping.trainable_variables

    def encode(self, id_images, attr_images):
        """{"id": E_id(I_id), "attr": E_attr(I_attr), "ws": M(concat)} (ws [B, num_layers, 512])."""
        z_id = self.e_id(id_images)
        z_attr = self.e_attr(attr_images)
        return {"id": z_id, "attr": z_attr,
                "ws": self.mapping(tf.concat([z_id, z_attr], axis=-1))}

    def call(self, id_images, attr_images):
        """The disentangled image I_out (raw [-1, 1] NHWC) and the codes used."""
        codes = self.encode(id_images, attr_images)
        return {**codes, "images": self.stylegan.synthesis(codes["ws"], noise_mode="const")}
