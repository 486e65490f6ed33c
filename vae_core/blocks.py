"""Encoder and decoder building blocks: small functional Keras models.

Encoders map x to ``(mean, log_var)``; decoders map z to the parameters of p(x|z)
(logits or a mean), to pair with a log-likelihood from `vae_core.likelihoods`. With a
`seed`, a block's initial weights are the same every time it is built; without one they
come from Keras's global seed (`keras.utils.set_random_seed`).

    >>> enc = conv1d_encoder(277, 76, filters=(9, 9, 10), kernels=(9, 9, 11), dense=435, latent_dim=56)
    >>> dec = gru_decoder(56, 277, 76, units=(501, 501, 501), seed=0)
"""

from __future__ import annotations

from typing import Sequence

import keras
from keras import layers, ops


def _initializers(seed: int | None, layer: int, recurrent: bool = False) -> dict:
    """Layer keyword arguments: kernel (and recurrent) initializers seeded from the block's
    seed and the layer's index in it; none (Keras's defaults) when seed is None."""
    if seed is None:
        return {}
    s = int(seed) * 1000 + 2 * layer
    out = {"kernel_initializer": keras.initializers.GlorotUniform(seed=s)}
    if recurrent:
        out["recurrent_initializer"] = keras.initializers.Orthogonal(seed=s + 1)
    return out


def _head_seed(seed: int | None) -> int | None:
    return None if seed is None else int(seed) * 1000 + 999


@keras.saving.register_keras_serializable(package="vae_core")
class GaussianHead(layers.Layer):
    """Two dense maps from features to the mean and log-variance of a diagonal Gaussian.

        >>> mean, log_var = GaussianHead(56, seed=0)(features)
    """

    def __init__(self, latent_dim: int, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        self.seed = seed
        self.mean = layers.Dense(self.latent_dim, name="mean", **_initializers(seed, 0))
        self.log_var = layers.Dense(self.latent_dim, name="log_var", **_initializers(seed, 1))

    def build(self, input_shape):
        self.mean.build(input_shape)
        self.log_var.build(input_shape)

    def call(self, h):
        return self.mean(h), self.log_var(h)

    def compute_output_shape(self, input_shape):
        out = tuple(input_shape[:-1]) + (self.latent_dim,)
        return out, out

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim, "seed": self.seed}


@keras.saving.register_keras_serializable(package="vae_core")
class PadSequence(layers.Layer):
    """Pad one-hot sequences (batch, T, channels), T <= `steps`, to `steps` with the one-hot
    of `token`, so that a fixed-length encoder reads batches cut to their own length.

        >>> PadSequence(160, token=75)(x)      # (batch, 160, channels)
    """

    def __init__(self, steps: int, token: int, **kwargs):
        super().__init__(**kwargs)
        self.steps, self.token = int(steps), int(token)

    def call(self, x):
        channels = x.shape[-1]
        x = ops.pad(x, [[0, 0], [0, self.steps - ops.shape(x)[1]], [0, 0]])
        empty = 1.0 - ops.sum(x, axis=-1, keepdims=True)  # 1 on the padded steps
        x = x + empty * ops.one_hot(self.token, channels, dtype=x.dtype)
        return ops.reshape(x, (-1, self.steps, channels))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.steps, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "steps": self.steps, "token": self.token}


def mlp_encoder(input_shape: Sequence[int], hidden: Sequence[int], latent_dim: int,
                activation: str = "relu", name: str = "encoder", seed: int | None = None) -> keras.Model:
    """Flatten, dense layers, Gaussian head."""
    x = keras.Input(shape=tuple(input_shape))
    h = layers.Flatten()(x)
    for i, units in enumerate(hidden):
        h = layers.Dense(units, activation=activation, name=f"dense_{i}", **_initializers(seed, i))(h)
    mean, log_var = GaussianHead(latent_dim, name="gaussian", seed=_head_seed(seed))(h)
    return keras.Model(x, [mean, log_var], name=name)


def mlp_decoder(latent_dim: int, hidden: Sequence[int], output_shape: Sequence[int],
                activation: str = "relu", name: str = "decoder", seed: int | None = None) -> keras.Model:
    """Dense layers to the output's size, reshaped (outputs are logits or means)."""
    z = keras.Input(shape=(latent_dim,))
    h = z
    for i, units in enumerate(hidden):
        h = layers.Dense(units, activation=activation, name=f"dense_{i}", **_initializers(seed, i))(h)
    size = 1
    for s in output_shape:
        size *= s
    out = layers.Dense(size, name="out", **_initializers(seed, len(hidden)))(h)
    out = layers.Reshape(tuple(output_shape))(out)
    return keras.Model(z, out, name=name)


def conv1d_encoder(steps: int, channels: int, filters: Sequence[int], kernels: Sequence[int],
                   dense: int, latent_dim: int, name: str = "encoder", seed: int | None = None,
                   pad_token: int | None = None) -> keras.Model:
    """1-D convolutions over a sequence of one-hot vectors, a dense layer, Gaussian head.
    With `pad_token`, it reads sequences of any length up to `steps`, padded with that
    token's one-hot (see `PadSequence`)."""
    x = keras.Input(shape=(steps if pad_token is None else None, channels))
    h = x if pad_token is None else PadSequence(steps, pad_token, name="pad")(x)
    for i, (f, k) in enumerate(zip(filters, kernels)):
        h = layers.Conv1D(f, k, activation="relu", name=f"conv_{i}", **_initializers(seed, i))(h)
    h = layers.Flatten()(h)
    h = layers.Dense(dense, activation="relu", name="dense", **_initializers(seed, len(filters)))(h)
    mean, log_var = GaussianHead(latent_dim, name="gaussian", seed=_head_seed(seed))(h)
    return keras.Model(x, [mean, log_var], name=name)


def gru_decoder(latent_dim: int, steps: int, n_outputs: int, units: Sequence[int],
                dense: int | None = None, name: str = "decoder", seed: int | None = None) -> keras.Model:
    """z -> (dense) -> repeated over `steps` -> GRU stack -> per-step logits (steps, n_outputs)."""
    z = keras.Input(shape=(latent_dim,))
    h = layers.Dense(dense or latent_dim, activation="relu", name="dense", **_initializers(seed, 0))(z)
    h = layers.RepeatVector(steps)(h)
    for i, u in enumerate(units):
        h = layers.GRU(u, return_sequences=True, name=f"gru_{i}", **_initializers(seed, 1 + i, recurrent=True))(h)
    out = layers.TimeDistributed(layers.Dense(n_outputs, **_initializers(seed, 1 + len(units))), name="logits")(h)
    return keras.Model(z, out, name=name)
