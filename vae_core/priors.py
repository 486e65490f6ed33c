"""Where to draw latent points from after training: N(0, I), or the aggregate posterior.

A VAE is trained against p(z) = N(0, I), but its decoder has only ever seen the codes of
training examples; a draw from N(0, I) often falls between them, where the decoder was
never trained. `AggregatePosterior` draws instead from the mixture of a bank of training
examples' posteriors q(z|x_i), each widened by `scale` (the sampling distribution of
Exemplar VAE, Norouzi, Fleet and Norouzi 2020, fitted after training):

    >>> prior = AggregatePosterior(size=5000, latent_dim=56, scale=3.0)
    >>> prior.fit(means, log_vars, seed=0)          # a random 5,000 of the encoded training set
    >>> z = prior.draw(100, seed=0)                  # (100, 56) float32

With scale 1 it draws from the posteriors themselves (decodes are mostly training examples
back); a larger scale reaches further between them (novel, and less like the data). Its
bank is two non-trainable weights, so a model that holds it saves and loads it.
`normal_stream(d, seed)` is N(0, I) by a seeded stream of the same kind.
"""

from __future__ import annotations

from typing import Callable

import keras
import numpy as np


def normal_stream(latent_dim: int, seed: int = 0) -> Callable[[int], np.ndarray]:
    """take(k): the next k (k, latent_dim) float32 draws from N(0, I) of one seeded stream,
    so that draws taken a chunk at a time are those of one draw of the whole."""
    rng = np.random.default_rng(seed)
    return lambda k: rng.standard_normal((int(k), int(latent_dim))).astype("float32")


@keras.saving.register_keras_serializable(package="vae_core")
class AggregatePosterior(keras.layers.Layer):
    """A mixture of `size` diagonal Gaussians N(mean_i, scale^2 * var_i), one per bank row.

    Args:
        size: rows of the bank (examples whose posteriors it holds).
        latent_dim: size of z.
        scale: how far each posterior is widened (its standard deviations times this).
    """

    def __init__(self, size: int, latent_dim: int, scale: float = 3.0, **kwargs):
        super().__init__(**kwargs)
        if int(size) < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        if not np.isfinite(scale) or scale <= 0:
            raise ValueError(f"scale must be a finite number > 0, got {scale}")
        self.size, self.latent_dim, self.scale = int(size), int(latent_dim), float(scale)
        shape = (self.size, self.latent_dim)
        self.means = self.add_weight(shape=shape, initializer="zeros", trainable=False, name="means")
        self.log_vars = self.add_weight(shape=shape, initializer="zeros", trainable=False, name="log_vars")
        self.built = True

    def fit(self, means: np.ndarray, log_vars: np.ndarray, seed: int = 0) -> "AggregatePosterior":
        """Bank `size` rows drawn without replacement from the encoded examples (all of them
        when there are exactly `size`)."""
        means, log_vars = np.asarray(means, dtype="float32"), np.asarray(log_vars, dtype="float32")
        if means.shape != log_vars.shape or means.ndim != 2 or means.shape[1] != self.latent_dim:
            raise ValueError(f"means and log_vars must both be (n, {self.latent_dim}); got {means.shape} and {log_vars.shape}")
        if len(means) < self.size:
            raise ValueError(f"{len(means)} encoded examples for a bank of {self.size}")
        if not (np.isfinite(means).all() and np.isfinite(log_vars).all()):
            raise ValueError("the encoded examples hold NaN or inf")
        rows = np.sort(np.random.default_rng(seed).choice(len(means), self.size, replace=False))
        self.means.assign(means[rows])
        self.log_vars.assign(log_vars[rows])
        return self

    def stream(self, seed: int = 0) -> Callable[[int], np.ndarray]:
        """take(k): the next k (k, latent_dim) float32 points of one seeded stream (a bank row
        at random, then its widened posterior), chunks of it being those of one whole draw."""
        which, noise = np.random.default_rng([seed, 0]), np.random.default_rng([seed, 1])
        means, log_vars = keras.ops.convert_to_numpy(self.means), keras.ops.convert_to_numpy(self.log_vars)

        def take(k: int) -> np.ndarray:
            rows = which.integers(0, self.size, size=int(k))
            eps = noise.standard_normal((int(k), self.latent_dim))
            return (means[rows] + self.scale * np.exp(0.5 * log_vars[rows]) * eps).astype("float32")

        return take

    def draw(self, n: int, seed: int = 0) -> np.ndarray:
        """(n, latent_dim) float32 points; the same seed gives the same points."""
        return self.stream(seed)(n)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "latent_dim": self.latent_dim, "scale": self.scale}
