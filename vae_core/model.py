"""`VAE`: a Keras model that trains with plain `fit` on reconstruction + beta * KL
(+ an MMD term: InfoVAE), and `InfoVAE`, the same model named by InfoVAE's alpha and lambda.

    >>> vae = VAE(encoder, decoder, log_likelihood="bernoulli", beta=1.0, n_samples=1)
    >>> vae.compile(optimizer="adam")
    >>> vae.fit(x, epochs=5, validation_split=0.1)          # logs loss, reconstruction_loss, kl_loss
    >>> vae.encode(x)                                       # latent means (numpy)
    >>> vae.sample(16, seed=0)                              # decoder outputs at z ~ N(0, I)
    >>> vae.iwae_bound(x, k=100)                            # per-example log p(x) lower bounds
    >>> InfoVAE(encoder, decoder, alpha=1.0, lambda_=100.0)  # also logs mmd

The loss terms live in one place (`call(..., return_terms=True)`, all `keras.ops`); the
train and test steps around them are `vae_core.steps.TermsModel`'s.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from vae_core.kl import gaussian_kl, gaussian_kl_mc, gaussian_log_prob, standard_normal_log_prob
from vae_core.likelihoods import get_log_likelihood
from vae_core.mmd import KERNELS, check_weight, mmd
from vae_core.sampling import Sampling
from vae_core.steps import TermsModel


def _argmax(logits, t):
    return logits.argmax(-1)


@keras.saving.register_keras_serializable(package="vae_core")
class VAE(TermsModel):
    """A variational autoencoder over any encoder and decoder.

    The objective, per example: reconstruction + beta * KL(q(z|x) || p(z)), plus
    ``mmd_weight * MMD(q(z) || p(z))`` when `mmd_weight` is set: the MMD between the batch's
    sampled z and as many draws from p(z) = N(0, I) (`vae_core.mmd`), which pulls the
    aggregate posterior onto the prior without asking each q(z|x) to be wide (InfoVAE).

    Args:
        encoder: a model mapping x to ``(mean, log_var)`` of q(z|x).
        decoder: a model mapping z to the parameters of p(x|z) that `log_likelihood` reads.
        log_likelihood: "bernoulli", "categorical", "gaussian", or a callable
            ``(x, decoder_output) -> per-example log p(x|z)``.
        beta: weight of the KL term (beta-VAE; 1 is the ELBO).
        n_samples: latent samples per example in training (L of the SGVB estimator).
        kl: "analytic" (closed form) or "mc" (Monte Carlo at the sampled z).
        seed: seed of the sampling layer.
        mmd_weight: weight of the MMD term; None (the default) leaves it out, a number
            (0 included) computes it and reports it as ``mmd``.
        mmd_kernel: "gaussian" or "imq", with the scale `vae_core.mmd` defaults to.
    """

    def __init__(self, encoder: keras.Model, decoder: keras.Model, log_likelihood="bernoulli",
                 beta: float = 1.0, n_samples: int = 1, kl: str = "analytic", seed: int | None = None,
                 mmd_weight: float | None = None, mmd_kernel: str = "imq", **kwargs):
        super().__init__(**kwargs)
        if kl not in ("analytic", "mc"):
            raise ValueError(f"kl must be 'analytic' or 'mc', got {kl!r}")
        if mmd_kernel not in KERNELS:
            raise ValueError(f"mmd_kernel must be one of {KERNELS}, got {mmd_kernel!r}")
        check_weight(mmd_weight)
        self.encoder = encoder
        self.decoder = decoder
        self.log_likelihood = get_log_likelihood(log_likelihood)
        self.n_samples = int(n_samples)
        self.initial_beta = float(beta)
        # A variable, so that a callback (`KLAnnealing`) can change it during training.
        self.beta_variable = keras.Variable(self.initial_beta, trainable=False, name="beta", dtype="float32")
        self.kl = kl
        self.seed = seed
        self.mmd_weight = None if mmd_weight is None else float(mmd_weight)
        self.mmd_kernel = mmd_kernel
        self.sampler = Sampling(self.n_samples, seed=seed, name="sampling")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")
        self.mmd_tracker = keras.metrics.Mean(name="mmd") if self.mmd_weight is not None else None

    def build(self, input_shape=None):
        # The encoder and decoder arrive built; the sampling layer has no weights.
        self.sampler.build(None)
        self.built = True

    @property
    def metrics(self):
        trackers = [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]
        return trackers + ([self.mmd_tracker] if self.mmd_tracker is not None else [])

    @property
    def beta(self) -> float:
        """The KL weight now in force."""
        return float(ops.convert_to_numpy(self.beta_variable))

    @beta.setter
    def beta(self, value: float) -> None:
        self.beta_variable.assign(float(value))

    @property
    def latent_dim(self) -> int:
        if hasattr(self.decoder, "latent_dim"):
            return int(self.decoder.latent_dim)
        return int(self.decoder.inputs[0].shape[-1])

    # ------------------------------------------------------------------ maths
    def call(self, x, training=None, return_terms: bool = False):
        """Decoder output at the latent mean; with ``return_terms``, a dict of batch means
        with `n_samples` reparameterised samples: loss, reconstruction_loss, kl_loss (and
        mmd when `mmd_weight` is set)."""
        mean, log_var = self.encoder(x, training=training)
        if not return_terms:
            return self._decode(mean, x, training)
        L = self.n_samples
        z = self.sampler([mean, log_var], n_samples=L)
        rec = -self._log_likelihood(x, z, training)  # (L, batch)
        kl = gaussian_kl(mean, log_var) if self.kl == "analytic" else ops.mean(
            gaussian_kl_mc(z if L > 1 else z[None], mean, log_var), axis=0)
        rec = ops.mean(rec, axis=0)
        loss = ops.mean(rec + ops.cast(self.beta_variable, rec.dtype) * kl)
        terms = {"loss": loss, "reconstruction_loss": ops.mean(rec), "kl_loss": ops.mean(kl)}
        if self.mmd_weight is not None:
            flat = ops.reshape(z, (-1, z.shape[-1]))
            prior = self.sampler([ops.zeros_like(flat), ops.zeros_like(flat)], n_samples=1)
            terms["mmd"] = mmd(flat, prior, kernel=self.mmd_kernel)
            terms["loss"] = loss + self.mmd_weight * terms["mmd"]
        return terms

    def _log_likelihood(self, x, z, training=None):
        """log p(x|z) for z of shape (batch, d) or (L, batch, d); returns (L, batch)."""
        if len(z.shape) == 2:
            return self.log_likelihood(x, self._decode(z, x, training))[None]
        L = int(z.shape[0])  # the sample count is always static
        flat = ops.reshape(z, (-1, z.shape[-1]))
        xs = ops.concatenate([x] * L, axis=0)  # row l * batch + b, as in `flat`
        ll = self.log_likelihood(xs, self._decode(flat, xs, training))
        return ops.reshape(ll, (L, -1))

    @property
    def autoregressive(self) -> bool:
        """Whether the decoder reads the targets (teacher forcing) as well as z."""
        return bool(getattr(self.decoder, "autoregressive", False))

    def _decode(self, z, x, training=None):
        """Decoder output at z for targets x (read only by an autoregressive decoder)."""
        if self.autoregressive:
            return self.decoder(z, x, training=training)
        return self.decoder(z, training=training)

    # ------------------------------------------------------------ conveniences
    def encode(self, x, batch_size: int = 256, return_log_var: bool = False):
        """Latent means (and log-variances) of x, as numpy arrays. The encoder is called on
        each batch directly: `predict` costs more than the network on batches this small
        (2.5x slower at 256 rows of the grammar model, measured by hand)."""
        parts = [[ops.convert_to_numpy(t) for t in self.encoder(x[i:i + batch_size], training=False)]
                 for i in range(0, len(x), batch_size)]
        if not parts:
            parts = [[np.zeros((0, self.latent_dim), dtype="float32")] * 2]
        mean, log_var = (np.concatenate(col) for col in zip(*parts))
        return (mean, log_var) if return_log_var else mean

    def decode(self, z, batch_size: int = 256):
        """Decoder outputs (logits or means) at latent points z, as numpy. An autoregressive
        decoder is stepped greedily (each step fed its most likely output): the logits along
        that path."""
        z = np.asarray(z, dtype="float32")
        if self.autoregressive:
            from vae_core.autoregressive import generate

            return np.concatenate([generate(self.decoder, z[i:i + batch_size], _argmax)[1]
                                   for i in range(0, len(z), batch_size)]) if len(z) else np.zeros(
                (0, self.decoder.steps, self.decoder.n_outputs), dtype="float32")
        return self.decoder.predict(z, batch_size=batch_size, verbose=0)

    def sample(self, n: int, seed: int = 0, batch_size: int = 256):
        """Decoder outputs at n draws from the prior N(0, I); same seed, same draws."""
        z = np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype("float32")
        return self.decode(z, batch_size=batch_size)

    def log_weights(self, x, k: int, seed: int = 0):
        """log p(x|z) + log p(z) - log q(z|x) at k samples z ~ q(z|x): numpy (k, batch)."""
        x = ops.convert_to_tensor(x)
        mean, log_var = self.encoder(x, training=False)
        eps = keras.random.normal((k,) + tuple(mean.shape), seed=seed, dtype=mean.dtype)
        z = mean + ops.exp(0.5 * log_var) * eps
        lw = (self._log_likelihood(x, z) + standard_normal_log_prob(z)
              - gaussian_log_prob(z, mean, log_var))
        return ops.convert_to_numpy(lw)

    def iwae_bound(self, x, k: int = 100, seed: int = 0, batch_size: int = 128):
        """Importance-weighted bound of Burda et al. per example (numpy):
        log (1/k) sum_i p(x, z_i) / q(z_i|x), via a stable log-sum-exp. k = 1 is the ELBO
        estimate with a Monte Carlo KL; the bound tightens towards log p(x) as k grows."""
        x = np.asarray(x)
        out = []
        for i in range(0, len(x), batch_size):
            lw = self.log_weights(x[i:i + batch_size], k, seed=seed + i)
            top = lw.max(axis=0)
            out.append(top + np.log(np.exp(lw - top).mean(axis=0)))
        return np.concatenate(out)

    def elbo(self, x, n_samples: int = 1, seed: int = 0, batch_size: int = 128):
        """Per-example ELBO estimate: mean of the log weights over n_samples (numpy)."""
        x = np.asarray(x)
        return np.concatenate([self.log_weights(x[i:i + batch_size], n_samples, seed=seed + i).mean(axis=0)
                               for i in range(0, len(x), batch_size)])

    # ---------------------------------------------------------- serialisation
    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "log_likelihood": keras.saving.serialize_keras_object(self.log_likelihood),
            "beta": self.initial_beta, "n_samples": self.n_samples, "kl": self.kl, "seed": self.seed,
            "mmd_weight": self.mmd_weight, "mmd_kernel": self.mmd_kernel,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder", "log_likelihood"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)



@keras.saving.register_keras_serializable(package="vae_core")
class InfoVAE(VAE):
    """InfoVAE (Zhao et al. 2017), by its own parameters: the objective is
    reconstruction + (1 - alpha) * KL + (alpha + lambda - 1) * MMD(q(z) || p(z)), that is
    `VAE` with beta = 1 - alpha and mmd_weight = alpha + lambda - 1. alpha = 0, lambda = 1
    is the plain VAE (its MMD still reported); alpha = 1 drops the per-example KL (the
    MMD-VAE), and a large lambda holds the aggregate posterior to the prior.

        >>> InfoVAE(encoder, decoder, alpha=1.0, lambda_=100.0, mmd_kernel="imq")
    """

    def __init__(self, encoder, decoder, alpha: float = 1.0, lambda_: float = 1.0, **kwargs):
        for key in ("beta", "mmd_weight"):
            kwargs.pop(key, None)  # both follow from alpha and lambda (a loaded config holds them)
        if not (np.isfinite(alpha) and np.isfinite(lambda_) and alpha <= 1 and alpha + lambda_ >= 1):
            raise ValueError(f"InfoVAE needs alpha <= 1 and alpha + lambda >= 1 (both weights >= 0), "
                             f"got alpha={alpha}, lambda={lambda_}")
        super().__init__(encoder, decoder, beta=1.0 - alpha, mmd_weight=alpha + lambda_ - 1.0, **kwargs)
        self.alpha, self.lambda_ = float(alpha), float(lambda_)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "lambda_": self.lambda_}
