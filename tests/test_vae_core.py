"""vae_core: the maths checked against independent numpy computations."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from vae_core import (VAE, Bernoulli, Categorical, Gaussian, GaussianHead, Sampling, gaussian_kl, gaussian_kl_mc,
                      gru_decoder, mlp_decoder, mlp_encoder)


def test_analytic_kl_matches_numpy_monte_carlo():
    rng = np.random.default_rng(0)
    mean = rng.normal(size=(4, 3)).astype("float32")
    log_var = rng.normal(scale=0.5, size=(4, 3)).astype("float32")
    analytic = keras.ops.convert_to_numpy(gaussian_kl(mean, log_var))
    # Independent estimate: E_q[log q(z) - log p(z)] in float64 numpy.
    z = mean + np.exp(0.5 * log_var) * rng.standard_normal((200_000, 4, 3))
    logq = -0.5 * (np.log(2 * np.pi) + log_var + (z - mean) ** 2 / np.exp(log_var)).sum(-1)
    logp = -0.5 * (np.log(2 * np.pi) + z ** 2).sum(-1)
    np.testing.assert_allclose(analytic, (logq - logp).mean(0), atol=0.02)
    # The library's own MC estimator agrees with the numpy one on the same draws.
    mc = keras.ops.convert_to_numpy(gaussian_kl_mc(z[:1000].astype("float32"), mean, log_var))
    np.testing.assert_allclose(mc, (logq - logp)[:1000], rtol=1e-4, atol=1e-4)


def test_kl_is_zero_at_the_prior():
    assert np.allclose(keras.ops.convert_to_numpy(gaussian_kl(np.zeros((2, 5)), np.zeros((2, 5)))), 0.0)


def test_sampling_moments_shapes_and_seed():
    mean = np.full((1000, 2), [1.0, -2.0], dtype="float32")
    log_var = np.full((1000, 2), [0.0, math.log(4.0)], dtype="float32")
    z = keras.ops.convert_to_numpy(Sampling(seed=3)([mean, log_var]))
    np.testing.assert_allclose(z.mean(0), [1.0, -2.0], atol=0.15)
    np.testing.assert_allclose(z.std(0), [1.0, 2.0], rtol=0.1)
    assert keras.ops.convert_to_numpy(Sampling(n_samples=4, seed=0)([mean, log_var])).shape == (4, 1000, 2)
    again = keras.ops.convert_to_numpy(Sampling(seed=3)([mean, log_var]))
    np.testing.assert_array_equal(z, again)


def test_blocks_built_with_a_seed_have_the_same_initial_weights():
    def weights(seed):
        enc = mlp_encoder((12,), [16], 2, seed=seed)
        dec = gru_decoder(2, 5, 3, units=(4,), seed=seed)
        return enc.get_weights() + dec.get_weights()

    a, b, c = weights(1), weights(1), weights(2)
    for wa, wb in zip(a, b):
        np.testing.assert_array_equal(wa, wb)
    drawn = [i for i, w in enumerate(a) if w.std() > 0]  # kernels; biases start at zero
    assert len(drawn) == 7 and all(not np.array_equal(a[i], c[i]) for i in drawn)
    head = GaussianHead(3, seed=4)
    assert GaussianHead.from_config(head.get_config()).seed == 4


def test_likelihoods_match_numpy():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(3, 4, 5)).astype("float32")
    x = (rng.random((3, 4, 5)) > 0.5).astype("float32")
    p = 1 / (1 + np.exp(-logits))
    ref = (x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(3, -1).sum(1)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(Bernoulli()(x, logits)), ref, rtol=1e-5)
    onehot = np.eye(5, dtype="float32")[rng.integers(0, 5, (3, 4))]
    logsm = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(Categorical()(onehot, logits)),
                               (onehot * logsm).reshape(3, -1).sum(1), rtol=1e-5)
    g = Gaussian(log_var=math.log(0.5))(x, logits)
    ref = (-0.5 * (np.log(2 * np.pi * 0.5) + (x - logits) ** 2 / 0.5)).reshape(3, -1).sum(1)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(g), ref, rtol=1e-5)


def _bernoulli_vae(beta=1.0, n_samples=1, seed=0):
    return VAE(mlp_encoder((12,), [16], 2), mlp_decoder(2, [16], (12,)), log_likelihood="bernoulli",
               beta=beta, n_samples=n_samples, seed=seed)


def _patterns(n=600, seed=0):
    """Binary vectors from two prototypes with 5% flips: a VAE can learn them."""
    rng = np.random.default_rng(seed)
    protos = np.array([[1] * 6 + [0] * 6, [0, 1] * 6], dtype="float32")
    x = protos[rng.integers(0, 2, n)]
    flip = rng.random(x.shape) < 0.05
    return np.where(flip, 1 - x, x).astype("float32")


def test_gradients_reach_the_encoder_through_sampling():
    vae = _bernoulli_vae(beta=0.0)  # no KL: the encoder learns only through the sampled z
    x = _patterns(64)
    with tf.GradientTape() as tape:
        total = vae(x, training=True, return_terms=True)["loss"]
    head = vae.encoder.get_layer("gaussian")
    weights = [head.mean.kernel, head.log_var.kernel]
    grads = tape.gradient(total, weights)
    assert all(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in grads)


def test_beta_scales_the_kl_term():
    x = _patterns(64)
    for beta in (0.0, 0.5, 4.0):
        vae = _bernoulli_vae(beta=beta)
        terms = vae(x, training=True, return_terms=True)
        total, rec, kl = (float(terms[k]) for k in ("loss", "reconstruction_loss", "kl_loss"))
        assert kl > 0
        assert total == pytest.approx(rec + beta * kl, rel=1e-5)


def test_fit_lowers_the_loss_and_reports_all_terms():
    keras.utils.set_random_seed(0)
    vae = _bernoulli_vae(n_samples=3)
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = _patterns()
    hist = vae.fit(x, epochs=8, batch_size=64, validation_split=0.1, verbose=0).history
    assert {"loss", "reconstruction_loss", "kl_loss", "val_loss"} <= set(hist)
    assert hist["loss"][-1] < 0.8 * hist["loss"][0]
    ds = tf.data.Dataset.from_tensor_slices(x).batch(64)  # tf.data works the same
    more = vae.fit(ds, epochs=1, verbose=0).history
    assert more["loss"][0] < hist["loss"][0]


def _linear_gaussian(seed=0, dz=2, dx=3, sigma2=0.5, inflate=3.0):
    """p(z) = N(0, I), p(x|z) = N(Wz + b, sigma2 I); q(z|x) = true posterior mean with an
    inflated variance. log p(x) = log N(x; b, W W^T + sigma2 I) in closed form."""
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(dx, dz))
    b = rng.normal(size=dx)
    S = np.linalg.inv(np.eye(dz) + W.T @ W / sigma2)  # posterior covariance
    A = S @ W.T / sigma2  # posterior mean = A (x - b)
    x_in = keras.Input((dx,))
    mean = layers.Dense(dz, name="m")(x_in)
    log_var = layers.Dense(dz, name="v")(x_in)
    enc = keras.Model(x_in, [mean, log_var])
    enc.get_layer("m").set_weights([A.T, -A @ b])
    enc.get_layer("v").set_weights([np.zeros((dx, dz)), np.log(np.diag(S) * inflate)])
    z_in = keras.Input((dz,))
    dec = keras.Model(z_in, layers.Dense(dx, name="d")(z_in))
    dec.get_layer("d").set_weights([W.T, b])
    vae = VAE(enc, dec, log_likelihood=Gaussian(log_var=math.log(sigma2)))
    C = W @ W.T + sigma2 * np.eye(dx)
    x = rng.multivariate_normal(b, C, size=300)
    diff = x - b
    logpx = -0.5 * (dx * np.log(2 * np.pi) + np.linalg.slogdet(C)[1]
                    + np.einsum("ni,ij,nj->n", diff, np.linalg.inv(C), diff))
    # The ELBO in closed form: E_q log p(x|z) - KL(q || p) for q = N(A (x - b), s).
    m = diff @ A.T
    s = np.diag(S) * inflate
    resid = x - m @ W.T - b
    expected_ll = -0.5 * (dx * np.log(2 * np.pi * sigma2)
                          + ((resid ** 2).sum(1) + np.trace(W @ np.diag(s) @ W.T)) / sigma2)
    kl = 0.5 * (m ** 2 + s - 1 - np.log(s)).sum(1)
    return vae, x.astype("float32"), logpx, expected_ll - kl


def test_iwae_bound_on_a_linear_gaussian_model():
    vae, x, logpx, elbo_exact = _linear_gaussian()
    elbo = elbo_exact.mean()
    true = logpx.mean()
    assert elbo < true - 0.05  # the mismatched q leaves a real gap
    assert vae.elbo(x, n_samples=200, seed=1).mean() == pytest.approx(elbo, abs=0.02)
    one = vae.iwae_bound(x, k=1, seed=2)
    assert abs(one.mean() - elbo) < 4 * one.std() / np.sqrt(len(one))  # k = 1 is the ELBO
    bounds = {k: vae.iwae_bound(x, k=k, seed=2).mean() for k in (10, 100)}
    # Bounds hold in expectation: allow the Monte Carlo error of a 300-example average.
    assert elbo <= bounds[10] <= bounds[100] <= true + 0.01
    assert true - bounds[100] < 0.25 * (true - elbo)  # most of the gap is closed
    # Same draws: k = 1 equals the one-sample ELBO estimate exactly.
    np.testing.assert_allclose(vae.iwae_bound(x, k=1, seed=5), vae.elbo(x, n_samples=1, seed=5), rtol=1e-6)


def test_save_and_load_in_safe_mode(tmp_path):
    vae = _bernoulli_vae()
    vae.compile(optimizer="adam")
    x = _patterns(100)
    vae.fit(x, epochs=1, verbose=0)
    path = tmp_path / "vae.keras"
    vae.save(path)
    back = keras.models.load_model(path, safe_mode=True)
    assert isinstance(back, VAE) and back.beta == vae.beta and back.n_samples == vae.n_samples
    np.testing.assert_array_equal(back.encode(x), vae.encode(x))
    z = np.random.default_rng(0).normal(size=(5, 2)).astype("float32")
    np.testing.assert_array_equal(back.decode(z), vae.decode(z))
    np.testing.assert_array_equal(back.sample(4, seed=9), vae.sample(4, seed=9))


def test_kl_annealing_raises_beta_linearly_across_batches():
    from vae_core import KLAnnealing

    vae = _bernoulli_vae(beta=0.0)
    vae.compile(optimizer="adam")
    seen = []

    class Spy(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(round(self.model.beta, 4))

    ramp = KLAnnealing(0.0, 1.0, steps=4)
    vae.fit(_patterns(64), epochs=2, batch_size=16, verbose=0, callbacks=[ramp, Spy()])
    assert seen == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0]
    # Resuming mid-ramp starts from where it stood.
    assert KLAnnealing(0.0, 2.0, steps=10, initial_step=5).beta_at(5) == 1.0


def test_monte_carlo_kl_averages_to_the_analytic_one():
    x = _patterns(256)
    mc = VAE(mlp_encoder((12,), [16], 2, seed=0), mlp_decoder(2, [16], (12,), seed=1), kl="mc", seed=0)
    analytic = VAE(mlp_encoder((12,), [16], 2, seed=0), mlp_decoder(2, [16], (12,), seed=1), seed=0)
    exact = float(analytic(x, training=True, return_terms=True)["kl_loss"])
    draws = np.array([float(mc(x, training=True, return_terms=True)["kl_loss"]) for _ in range(200)])
    assert abs(draws.mean() - exact) < 4 * draws.std(ddof=1) / np.sqrt(len(draws))
    assert draws.std() > 0  # a Monte Carlo estimate, not the closed form
    with pytest.raises(ValueError, match="kl must be 'analytic' or 'mc'"):
        VAE(mlp_encoder((12,), [16], 2), mlp_decoder(2, [16], (12,)), kl="exact")
