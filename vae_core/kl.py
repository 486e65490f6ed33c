"""Gaussian densities and the KL divergence of a diagonal Gaussian from N(0, I), in keras.ops.

    >>> gaussian_kl(keras.ops.zeros((3, 2)), keras.ops.zeros((3, 2)))   # (3,) zeros
"""

from __future__ import annotations

import math

from keras import ops

LOG_2PI = math.log(2.0 * math.pi)


def gaussian_kl(mean, log_var):
    """Analytic KL(N(mean, exp(log_var)) || N(0, I)) per example, summed over the last axis."""
    return 0.5 * ops.sum(ops.square(mean) + ops.exp(log_var) - 1.0 - log_var, axis=-1)


def gaussian_log_prob(z, mean, log_var):
    """log N(z; mean, diag(exp(log_var))), summed over the last axis."""
    return -0.5 * ops.sum(LOG_2PI + log_var + ops.square(z - mean) * ops.exp(-log_var), axis=-1)


def standard_normal_log_prob(z):
    """log N(z; 0, I), summed over the last axis."""
    return -0.5 * ops.sum(LOG_2PI + ops.square(z), axis=-1)


def gaussian_kl_mc(z, mean, log_var):
    """Monte Carlo KL estimate log q(z|x) - log p(z) at samples z (the generic SGVB estimator).

    `z` may carry leading sample axes: shape (..., batch, latent); the result is (..., batch).
    """
    return gaussian_log_prob(z, mean, log_var) - standard_normal_log_prob(z)
