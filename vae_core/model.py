"""`VAE`: a Keras model that trains with plain `fit` on reconstruction + beta * KL.

    >>> vae = VAE(encoder, decoder, log_likelihood="bernoulli", beta=1.0, n_samples=1)
    >>> vae.compile(optimizer="adam")
    >>> vae.fit(x, epochs=5, validation_split=0.1)          # logs loss, reconstruction_loss, kl_loss
    >>> vae.encode(x)                                       # latent means (numpy)
    >>> vae.sample(16, seed=0)                              # decoder outputs at z ~ N(0, I)
    >>> vae.iwae_bound(x, k=100)                            # per-example log p(x) lower bounds

The loss terms live in one place (`call(..., return_terms=True)`, all `keras.ops`); the
train and test steps around them are written once for TensorFlow (GradientTape) and once
for JAX (stateless calls), each a few lines.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from vae_core.kl import gaussian_kl, gaussian_kl_mc, gaussian_log_prob, standard_normal_log_prob
from vae_core.likelihoods import get_log_likelihood
from vae_core.sampling import Sampling

_BACKEND = keras.backend.backend()


def _argmax(logits, t):
    return logits.argmax(-1)


def _x_of(data):
    """x from what a dataset yields: x, (x,), (x, y) or (x, y, w)."""
    return data[0] if isinstance(data, (tuple, list)) else data


if _BACKEND == "tensorflow":
    import tensorflow as tf

    class _Steps:
        def train_step(self, data):
            x = _x_of(data)
            with tf.GradientTape() as tape:
                total, rec, kl = self(x, training=True, return_terms=True)
                objective = total + ops.sum(self.losses) if self.losses else total
                replicas = tf.distribute.get_strategy().num_replicas_in_sync
                scaled = objective / replicas  # replicas' gradients are summed
            grads = tape.gradient(scaled, self.trainable_weights)
            self.optimizer.apply(grads, self.trainable_weights)
            return self._record(total, rec, kl)

        def test_step(self, data):
            return self._record(*self(_x_of(data), training=False, return_terms=True))

elif _BACKEND == "jax":
    import jax

    class _Steps:
        def train_step(self, state, data):
            trainable, non_trainable, opt_vars, metric_vars = state
            x = _x_of(data)

            def objective(tv, ntv):
                (total, rec, kl), ntv = self.stateless_call(tv, ntv, x, training=True, return_terms=True)
                return total, (rec, kl, ntv)

            (total, (rec, kl, non_trainable)), grads = jax.value_and_grad(objective, has_aux=True)(
                trainable, non_trainable)
            trainable, opt_vars = self.optimizer.stateless_apply(opt_vars, grads, trainable)
            logs, metric_vars = self._record_stateless(metric_vars, total, rec, kl)
            return logs, (trainable, non_trainable, opt_vars, metric_vars)

        def test_step(self, state, data):
            trainable, non_trainable, metric_vars = state
            (total, rec, kl), non_trainable = self.stateless_call(
                trainable, non_trainable, _x_of(data), training=False, return_terms=True)
            logs, metric_vars = self._record_stateless(metric_vars, total, rec, kl)
            return logs, (trainable, non_trainable, metric_vars)

        def _record_stateless(self, metric_vars, *values):
            logs, new_vars, i = {}, [], 0
            for metric, value in zip(self.metrics, values):
                mv = metric_vars[i:i + len(metric.variables)]
                i += len(metric.variables)
                mv = metric.stateless_update_state(mv, value)
                logs[metric.name] = metric.stateless_result(mv)
                new_vars += mv
            return logs, new_vars

else:  # torch and others: Keras's own train_step calling compute_loss

    class _Steps:
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            total, rec, kl = self(x, training=training, return_terms=True)
            self._record(total, rec, kl)
            return total


@keras.saving.register_keras_serializable(package="vae_core")
class VAE(_Steps, keras.Model):
    """A variational autoencoder over any encoder and decoder.

    Args:
        encoder: a model mapping x to ``(mean, log_var)`` of q(z|x).
        decoder: a model mapping z to the parameters of p(x|z) that `log_likelihood` reads.
        log_likelihood: "bernoulli", "categorical", "gaussian", or a callable
            ``(x, decoder_output) -> per-example log p(x|z)``.
        beta: weight of the KL term (beta-VAE; 1 is the ELBO).
        n_samples: latent samples per example in training (L of the SGVB estimator).
        kl: "analytic" (closed form) or "mc" (Monte Carlo at the sampled z).
        seed: seed of the sampling layer.
    """

    def __init__(self, encoder: keras.Model, decoder: keras.Model, log_likelihood="bernoulli",
                 beta: float = 1.0, n_samples: int = 1, kl: str = "analytic", seed: int | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        if kl not in ("analytic", "mc"):
            raise ValueError(f"kl must be 'analytic' or 'mc', got {kl!r}")
        self.encoder = encoder
        self.decoder = decoder
        self.log_likelihood = get_log_likelihood(log_likelihood)
        self.n_samples = int(n_samples)
        self.initial_beta = float(beta)
        # A variable, so that a callback (`KLAnnealing`) can change it during training.
        self.beta_variable = keras.Variable(self.initial_beta, trainable=False, name="beta", dtype="float32")
        self.kl = kl
        self.seed = seed
        self.sampler = Sampling(self.n_samples, seed=seed, name="sampling")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")

    def build(self, input_shape=None):
        # The encoder and decoder arrive built; the sampling layer has no weights.
        self.sampler.build(None)
        self.built = True

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

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
        """Decoder output at the latent mean; with ``return_terms``, the batch means of
        (loss, reconstruction loss, KL) with `n_samples` reparameterised samples."""
        mean, log_var = self.encoder(x, training=training)
        if not return_terms:
            return self._decode(mean, x, training)
        L = self.n_samples
        z = self.sampler([mean, log_var], n_samples=L)
        rec = -self._log_likelihood(x, z, training)  # (L, batch)
        kl = gaussian_kl(mean, log_var) if self.kl == "analytic" else ops.mean(
            gaussian_kl_mc(z if L > 1 else z[None], mean, log_var), axis=0)
        rec = ops.mean(rec, axis=0)
        return ops.mean(rec + ops.cast(self.beta_variable, rec.dtype) * kl), ops.mean(rec), ops.mean(kl)

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

    def _record(self, total, rec, kl):
        self.loss_tracker.update_state(total)
        self.reconstruction_tracker.update_state(rec)
        self.kl_tracker.update_state(kl)
        return {m.name: m.result() for m in self.metrics}

    # ------------------------------------------------------------ conveniences
    def encode(self, x, batch_size: int = 256, return_log_var: bool = False):
        """Latent means (and log-variances) of x, as numpy arrays."""
        mean, log_var = self.encoder.predict(x, batch_size=batch_size, verbose=0)
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
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder", "log_likelihood"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

