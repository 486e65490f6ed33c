"""vae_core's objectives beyond the ELBO: InfoVAE's MMD and VQ-VAE's quantiser, checked
against direct numpy computations."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from vae_core import VAE, VQVAE, InfoVAE, VectorQuantizer, mlp_decoder, mlp_encoder, mmd, perplexity


def _numpy_mmd(x, y, kernel, c):
    """Unbiased MMD^2 by explicit double sums (float64)."""
    def k(a, b):
        d2 = float(np.sum((a - b) ** 2))
        return np.exp(-d2 / c) if kernel == "gaussian" else c / (c + d2)

    n, m = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return xx + yy - 2 * xy


@pytest.mark.parametrize("kernel", ["gaussian", "imq"])
def test_mmd_matches_a_numpy_double_sum(kernel):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 3))
    y = rng.normal(loc=0.5, size=(5, 3))
    got = float(mmd(x.astype("float32"), y.astype("float32"), kernel=kernel))
    assert got == pytest.approx(_numpy_mmd(x, y, kernel, c=2 * 3), rel=1e-4, abs=1e-6)
    scaled = float(mmd(x.astype("float32"), y.astype("float32"), kernel=kernel, scale=0.7))
    assert scaled == pytest.approx(_numpy_mmd(x, y, kernel, c=0.7), rel=1e-4, abs=1e-6)


def test_mmd_is_zero_in_expectation_for_one_distribution_and_positive_for_a_shift():
    rng = np.random.default_rng(1)
    same = np.array([float(mmd(rng.normal(size=(64, 4)).astype("float32"), rng.normal(size=(64, 4)).astype("float32")))
                     for _ in range(200)])
    se = same.std() / np.sqrt(len(same))
    assert abs(same.mean()) < 3 * se  # unbiased: single estimates straddle 0
    assert (same < 0).any()
    shifted = np.array([float(mmd(rng.normal(size=(64, 4)).astype("float32"),
                                  rng.normal(loc=1.0, size=(64, 4)).astype("float32"))) for _ in range(20)])
    assert (shifted > 0).all() and shifted.mean() > 10 * same.std()


def test_mmd_names_an_unknown_kernel():
    with pytest.raises(ValueError, match="unknown kernel 'rbf'"):
        mmd(np.zeros((3, 2)), np.zeros((3, 2)), kernel="rbf")


def _patterns(n=600, seed=0):
    """Binary vectors from two prototypes with 5% flips."""
    rng = np.random.default_rng(seed)
    protos = np.array([[1] * 6 + [0] * 6, [0, 1] * 6], dtype="float32")
    x = protos[rng.integers(0, 2, n)]
    return np.where(rng.random(x.shape) < 0.05, 1 - x, x).astype("float32")


def _parts(seed=0):
    return mlp_encoder((12,), [16], 2, seed=seed), mlp_decoder(2, [16], (12,), seed=seed + 1)


def test_infovae_alpha_0_lambda_1_is_the_plain_vae_loss_on_the_same_draws():
    x = _patterns(64)
    vae = VAE(*_parts(), beta=1.0, seed=3)
    info = InfoVAE(*_parts(), alpha=0.0, lambda_=1.0, seed=3)  # same weights (same seeds)
    a, b = vae(x, training=True, return_terms=True), info(x, training=True, return_terms=True)
    assert float(b["loss"]) == pytest.approx(float(a["loss"]), rel=1e-6)
    assert float(b["mmd"]) != 0.0  # still measured, weighted 0


@pytest.mark.parametrize("alpha,lam", [(1.0, 10.0), (0.5, 2.0)])
def test_infovae_weights_its_terms_as_the_paper_writes_them(alpha, lam):
    x = _patterns(64)
    t = {k: float(v) for k, v in InfoVAE(*_parts(), alpha=alpha, lambda_=lam, seed=0)(
        x, training=True, return_terms=True).items()}
    assert t["loss"] == pytest.approx(t["reconstruction_loss"] + (1 - alpha) * t["kl_loss"]
                                      + (alpha + lam - 1) * t["mmd"], rel=1e-5)


def test_infovae_refuses_negative_weights():
    with pytest.raises(ValueError, match="alpha <= 1"):
        InfoVAE(*_parts(), alpha=1.5, lambda_=1.0)
    with pytest.raises(ValueError, match="mmd_weight must be a number >= 0"):
        VAE(*_parts(), mmd_weight=-1.0)


def test_infovae_fits_shows_mmd_and_round_trips_in_safe_mode(tmp_path):
    keras.utils.set_random_seed(0)
    model = InfoVAE(*_parts(), alpha=1.0, lambda_=50.0, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = _patterns()
    hist = model.fit(x, epochs=6, batch_size=64, verbose=0).history
    assert {"loss", "reconstruction_loss", "kl_loss", "mmd"} <= set(hist)
    assert hist["loss"][-1] < 0.8 * hist["loss"][0]
    model.save(tmp_path / "info.keras")
    back = keras.models.load_model(tmp_path / "info.keras", safe_mode=True)
    assert isinstance(back, InfoVAE) and (back.alpha, back.lambda_, back.mmd_weight) == (1.0, 50.0, 50.0)
    np.testing.assert_array_equal(back.encode(x), model.encode(x))
    np.testing.assert_array_equal(back.sample(4, seed=2), model.sample(4, seed=2))


# ---------------------------------------------------------------- VQ-VAE
def test_quantiser_returns_the_nearest_code_and_its_losses_match_their_formulas():
    rng = np.random.default_rng(0)
    vq = VectorQuantizer(num_codes=6, code_dim=3, commitment=0.25, seed=0)
    book = rng.normal(size=(6, 3)).astype("float32")
    vq.codebook.assign(book)
    z = rng.normal(size=(4, 5, 3)).astype("float32")
    nearest = ((z[..., None, :] - book) ** 2).sum(-1).argmin(-1)  # (4, 5)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(vq.codes(z)), nearest)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(vq(z)), book[nearest], atol=1e-6)
    _, idx, codebook_loss, commitment_loss = vq.lookup_nearest(z)
    expected = ((z - book[nearest]) ** 2).sum(-1).mean()
    assert float(codebook_loss) == pytest.approx(expected, rel=1e-5)
    assert float(commitment_loss) == pytest.approx(expected, rel=1e-5)


def test_straight_through_gradient_reaches_the_encoder_and_losses_pull_the_right_way():
    vq = VectorQuantizer(num_codes=4, code_dim=2, seed=0)
    z = tf.Variable(np.random.default_rng(1).normal(size=(8, 2)).astype("float32"))
    with tf.GradientTape(persistent=True) as tape:
        q, _, codebook_loss, commitment_loss = vq.lookup_nearest(z)
        downstream = tf.reduce_sum(q * tf.constant([[1.0, -2.0]]))
    np.testing.assert_allclose(tape.gradient(downstream, z).numpy(), np.tile([[1.0, -2.0]], (8, 1)))  # identity
    assert tape.gradient(codebook_loss, z) is None  # the codebook loss moves only the codes
    assert tape.gradient(commitment_loss, vq.codebook) is None  # the commitment loss only the encoder
    assert float(tf.reduce_max(tf.abs(tape.gradient(codebook_loss, vq.codebook)))) > 0


def test_perplexity_counts_the_codes_in_use():
    assert float(perplexity(np.arange(8) % 4, 4)) == pytest.approx(4.0, rel=1e-5)
    assert float(perplexity(np.zeros(8, dtype="int32"), 4)) == pytest.approx(1.0, rel=1e-5)
    p = np.array([0.5, 0.25, 0.25])
    idx = np.array([0, 0, 1, 2])
    assert float(perplexity(idx, 3)) == pytest.approx(np.exp(-(p * np.log(p)).sum()), rel=1e-5)


def _vqvae(seed=0):
    x = keras.Input((12,))
    z_e = layers.Reshape((2, 4))(layers.Dense(8, name="e")(layers.Dense(16, activation="relu")(x)))
    q = keras.Input((2, 4))
    out = layers.Dense(12)(layers.Flatten()(layers.Dense(16, activation="relu")(q)))
    return VQVAE(keras.Model(x, z_e), VectorQuantizer(8, 4, seed=seed), keras.Model(q, out),
                 log_likelihood="bernoulli")


def test_vqvae_fits_reports_perplexity_and_round_trips_in_safe_mode(tmp_path):
    keras.utils.set_random_seed(0)
    model = _vqvae()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = _patterns()
    hist = model.fit(x, epochs=6, batch_size=64, verbose=0).history
    assert {"reconstruction_loss", "codebook_loss", "commitment_loss", "perplexity"} <= set(hist)
    assert hist["loss"][-1] < 0.8 * hist["loss"][0]
    assert 1.0 <= hist["perplexity"][-1] <= 8.0
    codes = model.encode(x)
    assert codes.shape == (600, 2) and codes.min() >= 0 and codes.max() < 8
    model.save(tmp_path / "vq.keras")
    back = keras.models.load_model(tmp_path / "vq.keras", safe_mode=True)
    assert isinstance(back, VQVAE)
    np.testing.assert_array_equal(back.encode(x), codes)
    np.testing.assert_array_equal(back.decode(codes[:5]), model.decode(codes[:5]))
    np.testing.assert_array_equal(back.predict(x[:5], verbose=0), model.predict(x[:5], verbose=0))
