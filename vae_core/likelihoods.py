"""Reconstruction log-likelihoods log p(x | decoder output), one number per example.

A log-likelihood is any callable ``(x, outputs) -> (batch,)``; these three cover the
usual cases and serialise by name. Pass an instance, a name ("bernoulli",
"categorical", "gaussian") or your own registered callable to `VAE`.

    >>> Categorical()(one_hot_x, logits)   # sums log softmax(logits)[x] over all but the batch axis
"""

from __future__ import annotations

import math

import keras
from keras import ops


def _sum_but_batch(t):
    return ops.sum(ops.reshape(t, (ops.shape(t)[0], -1)), axis=-1)


class LogLikelihood:
    """Base: subclasses define ``__call__(x, outputs) -> (batch,)`` and their config."""

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="vae_core")
class Bernoulli(LogLikelihood):
    """Independent Bernoulli per element; the decoder outputs logits."""

    def __call__(self, x, logits):
        # log sigmoid(l) * x + log sigmoid(-l) * (1 - x), stably.
        ll = x * logits - ops.softplus(logits)
        return _sum_but_batch(ll)


@keras.saving.register_keras_serializable(package="vae_core")
class Categorical(LogLikelihood):
    """Categorical over the last axis; x is one-hot (or a distribution), outputs are logits."""

    def __call__(self, x, logits):
        return _sum_but_batch(ops.sum(x * ops.log_softmax(logits, axis=-1), axis=-1))


@keras.saving.register_keras_serializable(package="vae_core")
class Gaussian(LogLikelihood):
    """Diagonal Gaussian with a fixed log-variance; the decoder outputs the mean."""

    def __init__(self, log_var: float = 0.0):
        self.log_var = float(log_var)

    def __call__(self, x, mean):
        ll = -0.5 * (math.log(2 * math.pi) + self.log_var + ops.square(x - mean) * math.exp(-self.log_var))
        return _sum_but_batch(ll)

    def get_config(self):
        return {"log_var": self.log_var}


_BY_NAME = {"bernoulli": Bernoulli, "categorical": Categorical, "gaussian": Gaussian}


def get_log_likelihood(identifier):
    """A log-likelihood from a name, a config dict or a callable."""
    if isinstance(identifier, str):
        try:
            return _BY_NAME[identifier.lower()]()
        except KeyError:
            raise ValueError(f"unknown log-likelihood {identifier!r}; one of {sorted(_BY_NAME)} "
                             "or a callable (x, outputs) -> per-example log p") from None
    if isinstance(identifier, dict):
        return keras.saving.deserialize_keras_object(identifier)
    if callable(identifier):
        return identifier
    raise TypeError(f"log_likelihood must be a name or a callable, got {identifier!r}")
