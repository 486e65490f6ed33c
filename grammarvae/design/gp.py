"""A property model on latent points: sparse Gaussian-process regression with inducing points.

    >>> gp = LatentGP(num_inducing=500, seed=0).fit(Z_train, y_train)
    >>> mean, std = gp.predict(Z_test)                # the property and its uncertainty
    >>> gp.log_likelihood(Z_test, y_test), gp.rmse(Z_test, y_test)

The GP is GPy's `SparseGPRegression` (Titsias' variational sparse GP, an RBF kernel with one
length-scale per latent dimension, the inducing points learnt with the hyperparameters by
L-BFGS), fit to the target standardised by its mean and standard deviation. It scales to tens
of thousands of molecules: each step of the fit costs O(n m^2) for n points and m inducing
points. The inducing points start at m data points drawn with `seed`, so a fit is reproducible.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm


def _finite_pairs(Z, y) -> tuple[np.ndarray, np.ndarray]:
    Z, y = np.asarray(Z, dtype="float64"), np.asarray(y, dtype="float64").reshape(-1)
    if Z.ndim != 2 or len(Z) != len(y):
        raise ValueError(f"need latents (n, d) and n targets, got {Z.shape} and {y.shape}")
    keep = np.isfinite(Z).all(1) & np.isfinite(y)
    return Z[keep], y[keep]


class LatentGP:
    """Sparse GP regression of a property on latent points (see the module docstring)."""

    def __init__(self, num_inducing: int = 500, ard: bool = True, max_iters: int = 200, seed: int = 0):
        if num_inducing < 1 or max_iters < 0:
            raise ValueError(f"num_inducing must be >= 1 and max_iters >= 0, got {num_inducing}, {max_iters}")
        self.num_inducing, self.ard, self.max_iters, self.seed = num_inducing, ard, max_iters, seed
        self._gp = None

    def fit(self, Z, y) -> "LatentGP":
        """Fit to latent points Z (n, d) and targets y (n,); rows with NaN or inf are left out."""
        import GPy

        Z, y = _finite_pairs(Z, y)
        if len(Z) < 2:
            raise ValueError(f"a GP needs at least 2 points with finite latents and targets, got {len(Z)}")
        self.y_mean, self.y_std = float(y.mean()), float(y.std()) or 1.0
        rng = np.random.default_rng(self.seed)
        start = Z[rng.choice(len(Z), size=min(self.num_inducing, len(Z)), replace=False)]
        kernel = GPy.kern.RBF(Z.shape[1], ARD=self.ard, lengthscale=np.sqrt(Z.shape[1]))
        self._gp = GPy.models.SparseGPRegression(Z, self._standardise(y)[:, None], kernel=kernel, Z=start)
        if self.max_iters:
            self._gp.optimize(max_iters=self.max_iters, messages=False)
        return self

    def _standardise(self, y):
        return (np.asarray(y, dtype="float64") - self.y_mean) / self.y_std

    def _check(self, Z) -> np.ndarray:
        if self._gp is None:
            raise RuntimeError("fit the LatentGP before predicting")
        Z = np.asarray(Z, dtype="float64")
        if Z.ndim != 2 or Z.shape[1] != self._gp.input_dim:
            raise ValueError(f"latents must be (n, {self._gp.input_dim}), got {Z.shape}")
        return Z

    def predict(self, Z, noise: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Predictive mean and standard deviation of the property at Z, in its own units: of the
        noise-free function, or with ``noise`` of a new measurement."""
        Z = self._check(Z)
        mean, var = (self._gp.predict if noise else self._gp.predict_noiseless)(Z)
        return mean[:, 0] * self.y_std + self.y_mean, np.sqrt(np.maximum(var[:, 0], 0.0)) * self.y_std

    def gradient(self, Z) -> np.ndarray:
        """The gradient of the predictive mean with respect to each latent point, (n, d), in the
        property's units per latent unit: the direction gradient ascent in the latent space takes."""
        Z = self._check(Z)
        return self._gp.predictive_gradients(Z)[0][:, :, 0] * self.y_std

    def log_likelihood(self, Z, y) -> float:
        """Mean predictive log density of held-out targets y at Z (nats per point, in y's units)."""
        Z, y = _finite_pairs(self._check(Z), y)
        mean, std = self.predict(Z, noise=True)
        return float(np.mean(norm.logpdf(y, mean, std)))

    def rmse(self, Z, y) -> float:
        """Root mean squared error of the predictive mean on held-out targets."""
        Z, y = _finite_pairs(self._check(Z), y)
        return float(np.sqrt(np.mean((self.predict(Z)[0] - y) ** 2)))

    def correlation(self, Z, z) -> np.ndarray:
        """The kernel's correlation k(Z, z) / k(z, z) of each row of Z with one point z, 0 to 1."""
        Z, z = self._check(Z), self._check(np.reshape(z, (1, -1)))
        kern = self._gp.kern
        return kern.K(Z, z)[:, 0] / kern.Kdiag(z)[0]
