"""The two networks the method trains from scratch: the mapping M and the W discriminator D_W."""

from __future__ import annotations

import keras
import tensorflow as tf

from idd_tf import config as cfg
from idd_tf.config import DiscriminatorConfig, MappingConfig


class _MLP(keras.Model):
    """Dense layers of `hidden` units with LeakyReLU(0.2) between them, then a linear output."""

    def __init__(self, hidden, out_units, in_dim, prefix, **kwargs):
        super().__init__(**kwargs)
        self.mlp = []
        for i, units in enumerate(hidden):
            self.mlp.append(keras.layers.Dense(units, name=f"{prefix}_dense{i}"))
            self.mlp.append(keras.layers.LeakyReLU(negative_slope=cfg.LRELU_SLOPE,
                                                   name=f"{prefix}_lrelu{i}"))
        self.mlp.append(keras.layers.Dense(out_units, name=f"{prefix}_out"))
        self.build((None, in_dim))

    def build(self, input_shape):
        shape = input_shape
        for layer in self.mlp:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.built = True

    def run_mlp(self, x):
        for layer in self.mlp:
            x = layer(x)
        return x


class LatentMapping(_MLP):
    """M: concat(z_id, z_attr) -> w in StyleGAN's W space, returned per layer [B, num_layers, dlatent].

    MLP with LeakyReLU(0.2) between layers (paper: 2560 -> 2048 -> 1024 -> 512 -> 512). One w is
    broadcast to all synthesis layers, or with `w_plus` the last layer emits one w per layer.
    """

    def __init__(self, config: MappingConfig, in_dim: int, dlatent_size: int, num_layers: int,
                 **kwargs):
        self.config = config
        self.in_dim, self.dlatent_size, self.num_layers = in_dim, dlatent_size, num_layers
        out = dlatent_size * (num_layers if config.w_plus else 1)
        super().__init__(config.hidden, out, in_dim, "M", **kwargs)

    def call(self, z):
        x = self.run_mlp(z)
        if self.config.w_plus:
            return tf.reshape(x, [-1, self.num_layers, self.dlatent_size])
        return tf.tile(x[:, None, :], [1, self.num_layers, 1])

    def get_config(self):
        return {**super().get_config(), "in_dim": self.in_dim, "dlatent_size": self.dlatent_size,
                "num_layers": self.num_layers}


class LatentDiscriminator(_MLP):
    """D_W: w [B, dlatent] (or per-layer [B, L, dlatent], judged per layer) -> logit [B, 1] / [B*L, 1]."""

    def __init__(self, config: DiscriminatorConfig, dlatent_size: int, **kwargs):
        self.config = config
        self.dlatent_size = dlatent_size
        super().__init__(config.hidden, 1, dlatent_size, "DW", **kwargs)

    def call(self, w):
        return self.run_mlp(tf.reshape(w, [-1, self.dlatent_size]))

    def get_config(self):
        return {**super().get_config(), "dlatent_size": self.dlatent_size}
