"""The two networks the method trains from scratch: the mapping M and the W discriminator D_W."""

from __future__ import annotations

import keras
import tensorflow as tf

from idd_tf.method.config import DiscriminatorConfig, MappingConfig
from idd_tf.stylegan import networks as sg_networks


def lrelu_he_init():
    """Official utils/general_utils.get_weights(0.2): VarianceScaling(2 / (1 + 0.2^2)), fan_in,
    truncated normal (He init for LeakyReLU(0.2), as PyTorch's kaiming_normal_)."""
    return keras.initializers.VarianceScaling(scale=2.0 / (1.0 + sg_networks.LRELU_SLOPE ** 2),
                                              mode="fan_in", distribution="truncated_normal")


class _MLP(keras.Model):
    """Dense layers of `hidden` units with LeakyReLU(0.2) between them, then a linear output.
    The last `he_init_layers` dense layers use `lrelu_he_init`, the others glorot-uniform."""

    def __init__(self, hidden, out_units, in_dim, prefix, he_init_layers=0, **kwargs):
        super().__init__(**kwargs)
        self.mlp = []
        units = list(hidden) + [out_units]
        first_he = len(units) - he_init_layers

        def init(i):
            return lrelu_he_init() if i >= first_he else "glorot_uniform"

        for i, n in enumerate(units[:-1]):
            self.mlp.append(keras.layers.Dense(n, kernel_initializer=init(i), name=f"{prefix}_dense{i}"))
            self.mlp.append(keras.layers.LeakyReLU(negative_slope=sg_networks.LRELU_SLOPE,
                                                   name=f"{prefix}_lrelu{i}"))
        self.mlp.append(keras.layers.Dense(out_units, kernel_initializer=init(len(units) - 1),
                                           name=f"{prefix}_out"))
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
        super().__init__(config.hidden, out, in_dim, "M", config.he_init_layers, **kwargs)

    def init_output_bias(self, w_avg):
        """Start the output bias at `w_avg` [dlatent] (every layer's w with `w_plus`)."""
        reps = self.num_layers if self.config.w_plus else 1
        self.mlp[-1].bias.assign(tf.tile(tf.reshape(tf.cast(w_avg, tf.float32), [-1]), [reps]))

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
        super().__init__(config.hidden, 1, dlatent_size, "DW", config.he_init_layers, **kwargs)

    def call(self, w):
        return self.run_mlp(tf.reshape(w, [-1, self.dlatent_size]))

    def get_config(self):
        return {**super().get_config(), "dlatent_size": self.dlatent_size}
