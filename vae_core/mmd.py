"""Maximum mean discrepancy between two samples, in keras.ops (InfoVAE's divergence).

    >>> mmd(z, keras.random.normal(z.shape), kernel="imq")     # a scalar; about 0 when z ~ N(0, I)

The estimate is the unbiased one (Gretton et al. 2012, eq. 3): the within-sample kernel
means leave out each point's kernel with itself, so over many draws from one distribution
it averages 0 (and a single estimate can be slightly negative).
"""

from __future__ import annotations

import math

from keras import ops

KERNELS = ("gaussian", "imq")


def check_weight(weight) -> None:
    """ValueError unless the MMD term's `weight` is None (no term) or a finite number >= 0."""
    if weight is not None and not (math.isfinite(weight) and weight >= 0):
        raise ValueError(f"mmd_weight must be a number >= 0 or None, got {weight}")


def _squared_distances(x, y):
    """||x_i - y_j||^2 for all pairs: (n, m), clipped at 0 against rounding."""
    xx = ops.sum(ops.square(x), axis=-1)[:, None]
    yy = ops.sum(ops.square(y), axis=-1)[None, :]
    return ops.maximum(xx + yy - 2.0 * ops.matmul(x, ops.transpose(y)), 0.0)


def kernel_matrix(x, y, kernel: str = "gaussian", scale: float | None = None):
    """k(x_i, y_j) for all pairs. ``gaussian``: exp(-||a - b||^2 / c); ``imq`` (inverse
    multiquadric): c / (c + ||a - b||^2). The scale c defaults to 2 * dim, the choice of
    Tolstikhin et al. (2018) for a standard normal prior of that dimension."""
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; one of {KERNELS}")
    c = float(2 * x.shape[-1] if scale is None else scale)
    d2 = _squared_distances(x, y)
    return ops.exp(-d2 / c) if kernel == "gaussian" else c / (c + d2)


def _mean_off_diagonal(k):
    n = ops.cast(ops.shape(k)[0], k.dtype)
    return (ops.sum(k) - ops.sum(ops.diagonal(k))) / (n * (n - 1.0))


def mmd(x, y, kernel: str = "gaussian", scale: float | None = None):
    """Unbiased estimate of MMD^2 between samples x (n, d) and y (m, d), n, m >= 2:
    mean_{i != j} k(x_i, x_j) + mean_{i != j} k(y_i, y_j) - 2 mean_{i, j} k(x_i, y_j)."""
    x, y = ops.convert_to_tensor(x), ops.convert_to_tensor(y)
    y = ops.cast(y, x.dtype)
    return (_mean_off_diagonal(kernel_matrix(x, x, kernel, scale))
            + _mean_off_diagonal(kernel_matrix(y, y, kernel, scale))
            - 2.0 * ops.mean(kernel_matrix(x, y, kernel, scale)))
