"""The reparameterisation trick as a Keras layer."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="vae_core")
class Sampling(keras.layers.Layer):
    """z = mean + exp(log_var / 2) * eps, eps ~ N(0, I), seeded.

    With ``n_samples=1`` the output has the shape of `mean`; with more it gains a
    leading sample axis: (n_samples, batch, latent).

        >>> z = Sampling(n_samples=5, seed=0)([mean, log_var])   # (5, batch, latent)
    """

    def __init__(self, n_samples: int = 1, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        self.n_samples = int(n_samples)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, n_samples: int | None = None):
        mean, log_var = inputs
        n = self.n_samples if n_samples is None else int(n_samples)
        shape = ops.shape(mean) if n == 1 else (n,) + tuple(ops.shape(mean))
        eps = keras.random.normal(shape, seed=self.seed_generator, dtype=mean.dtype)
        return mean + ops.exp(0.5 * log_var) * eps

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape[0])
        return shape if self.n_samples == 1 else (self.n_samples,) + shape

    def get_config(self):
        return {**super().get_config(), "n_samples": self.n_samples, "seed": self.seed}
