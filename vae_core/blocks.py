"""Encoder and decoder building blocks: small functional Keras models.

Encoders map x to ``(mean, log_var)``; decoders map z to the parameters of p(x|z)
(logits or a mean), to pair with a log-likelihood from `vae_core.likelihoods`.

    >>> enc = conv1d_encoder(277, 76, filters=(9, 9, 10), kernels=(9, 9, 11), dense=435, latent_dim=56)
    >>> dec = gru_decoder(56, 277, 76, units=(501, 501, 501))
"""

from __future__ import annotations

from typing import Sequence

import keras
from keras import layers


@keras.saving.register_keras_serializable(package="vae_core")
class GaussianHead(layers.Layer):
    """Two dense maps from features to the mean and log-variance of a diagonal Gaussian.

        >>> mean, log_var = GaussianHead(56)(features)
    """

    def __init__(self, latent_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        self.mean = layers.Dense(self.latent_dim, name="mean")
        self.log_var = layers.Dense(self.latent_dim, name="log_var")

    def build(self, input_shape):
        self.mean.build(input_shape)
        self.log_var.build(input_shape)

    def call(self, h):
        return self.mean(h), self.log_var(h)

    def compute_output_shape(self, input_shape):
        out = tuple(input_shape[:-1]) + (self.latent_dim,)
        return out, out

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim}


def mlp_encoder(input_shape: Sequence[int], hidden: Sequence[int], latent_dim: int,
                activation: str = "relu", name: str = "encoder") -> keras.Model:
    """Flatten, dense layers, Gaussian head."""
    x = keras.Input(shape=tuple(input_shape))
    h = layers.Flatten()(x)
    for i, units in enumerate(hidden):
        h = layers.Dense(units, activation=activation, name=f"dense_{i}")(h)
    mean, log_var = GaussianHead(latent_dim, name="gaussian")(h)
    return keras.Model(x, [mean, log_var], name=name)


def mlp_decoder(latent_dim: int, hidden: Sequence[int], output_shape: Sequence[int],
                activation: str = "relu", name: str = "decoder") -> keras.Model:
    """Dense layers to the output's size, reshaped (outputs are logits or means)."""
    z = keras.Input(shape=(latent_dim,))
    h = z
    for i, units in enumerate(hidden):
        h = layers.Dense(units, activation=activation, name=f"dense_{i}")(h)
    size = 1
    for s in output_shape:
        size *= s
    out = layers.Reshape(tuple(output_shape))(layers.Dense(size, name="out")(h))
    return keras.Model(z, out, name=name)


def conv1d_encoder(steps: int, channels: int, filters: Sequence[int], kernels: Sequence[int],
                   dense: int, latent_dim: int, name: str = "encoder") -> keras.Model:
    """1-D convolutions over a sequence of one-hot vectors, a dense layer, Gaussian head."""
    x = keras.Input(shape=(steps, channels))
    h = x
    for i, (f, k) in enumerate(zip(filters, kernels)):
        h = layers.Conv1D(f, k, activation="relu", name=f"conv_{i}")(h)
    h = layers.Flatten()(h)
    h = layers.Dense(dense, activation="relu", name="dense")(h)
    mean, log_var = GaussianHead(latent_dim, name="gaussian")(h)
    return keras.Model(x, [mean, log_var], name=name)


def gru_decoder(latent_dim: int, steps: int, n_outputs: int, units: Sequence[int],
                dense: int | None = None, name: str = "decoder") -> keras.Model:
    """z -> (dense) -> repeated over `steps` -> GRU stack -> per-step logits (steps, n_outputs)."""
    z = keras.Input(shape=(latent_dim,))
    h = layers.Dense(dense or latent_dim, activation="relu", name="dense")(z)
    h = layers.RepeatVector(steps)(h)
    for i, u in enumerate(units):
        h = layers.GRU(u, return_sequences=True, name=f"gru_{i}")(h)
    out = layers.TimeDistributed(layers.Dense(n_outputs), name="logits")(h)
    return keras.Model(z, out, name=name)
