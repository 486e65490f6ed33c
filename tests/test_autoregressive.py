"""vae_core's autoregressive decoder on a sequence task with no chemistry in it."""

from __future__ import annotations

import keras
import numpy as np

from vae_core import VAE, AutoregressiveGRUDecoder, PadSequence, conv1d_encoder, generate, select_rows

V, T, PAD = 6, 12, 5  # tokens 0-4, then padding


def counting(n, seed=0):
    """Sequences that count up mod 5 from a random start for a random length, then pad:
    reconstructing one needs z to carry its start and its length."""
    rng = np.random.default_rng(seed)
    X = np.full((n, T), PAD)
    for i in range(n):
        start, length = rng.integers(0, 5), rng.integers(3, T)
        X[i, :length] = (start + np.arange(length)) % 5
    return X


def one_hot(X):
    return np.eye(V, dtype="float32")[X]


def model(seed=0):
    enc = conv1d_encoder(T, V, (8,), (3,), 32, 4, seed=seed, pad_token=PAD)
    dec = AutoregressiveGRUDecoder(4, V, T, units=(32,), seed=seed + 1)
    return VAE(enc, dec, log_likelihood="categorical", beta=0.05)


def greedy(logits, t):
    return logits.argmax(-1)


def test_step_t_sees_only_earlier_outputs():
    dec = AutoregressiveGRUDecoder(3, V, T, units=(8, 8), seed=0)
    z = np.random.default_rng(0).normal(size=(2, 3)).astype("float32")
    x = one_hot(counting(2))
    y = x.copy()
    y[:, 5] = one_hot(np.array([[PAD], [PAD]]))[:, 0]  # change step 5's output only
    a, b = (keras.ops.convert_to_numpy(dec(z, v)) for v in (x, y))
    np.testing.assert_array_equal(a[:, :6], b[:, :6])  # steps 0-5 did not see it
    assert np.abs(a[:, 6] - b[:, 6]).max() > 1e-4  # step 6 did


def test_stepping_gives_the_teacher_forced_logits():
    dec = AutoregressiveGRUDecoder(3, V, T, units=(16, 8), seed=2)
    X = counting(5, seed=1)
    z = np.random.default_rng(1).normal(size=(5, 3)).astype("float32")
    forced = keras.ops.convert_to_numpy(dec(z, one_hot(X)))
    outputs, stepped = generate(dec, z, choose=lambda logits, t: X[:, t])  # a caller that feeds the truth
    np.testing.assert_array_equal(outputs, X)
    np.testing.assert_allclose(stepped, forced, rtol=1e-5, atol=1e-5)


def test_bfloat16_stepping_rounds_the_products_operands_and_results():
    import ml_dtypes
    import pytest

    dec = AutoregressiveGRUDecoder(3, V, T, units=(16,), seed=2)
    rng = np.random.default_rng(0)
    a, w = rng.normal(size=(7, 16)).astype("float32"), rng.normal(size=(16, 48)).astype("float32")
    exact = keras.ops.convert_to_numpy(dec._product(a, w))
    np.testing.assert_allclose(exact, a @ w, rtol=1e-5, atol=1e-5)
    dec.set_step_precision("bfloat16")
    got = keras.ops.convert_to_numpy(dec._product(a, w))
    bf = lambda x: x.astype(ml_dtypes.bfloat16).astype("float32")  # noqa: E731 - round to bfloat16
    emulated = bf(bf(a) @ bf(w))
    # within one bfloat16 step (8 significant bits) of the emulation; the float32 product is farther
    np.testing.assert_allclose(got, emulated, rtol=2 ** -7, atol=1e-6)
    assert np.abs(got - exact).max() > 1e-4
    X = counting(5, seed=1)
    z = rng.normal(size=(5, 3)).astype("float32")
    _, low = generate(dec, z, choose=lambda logits, t: X[:, t])
    dec.set_step_precision("float32")
    _, high = generate(dec, z, choose=lambda logits, t: X[:, t])
    assert low.dtype == high.dtype == np.float32 and np.abs(low - high).max() > 0  # the setting is used
    with pytest.raises(ValueError, match="step precision must be 'float32' or 'bfloat16', got 'float16'"):
        dec.set_step_precision("float16")


def test_select_rows_reorders_and_repeats_the_state():
    dec = AutoregressiveGRUDecoder(3, V, T, units=(8,), seed=0)
    z = np.random.default_rng(3).normal(size=(3, 3)).astype("float32")
    state = dec.start(z)
    picked = select_rows(state, [2, 2, 0])
    for a, b in zip(picked, state):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b)[[2, 2, 0]])


def test_pad_sequence_matches_numpy():
    x = one_hot(counting(3))[:, :7]
    got = keras.ops.convert_to_numpy(PadSequence(T, PAD)(x))
    want = one_hot(np.pad(x.argmax(-1), [(0, 0), (0, T - 7)], constant_values=PAD))
    np.testing.assert_array_equal(got, want)


def test_fit_learns_to_reconstruct_through_z(tmp_path):
    X = counting(2000)
    vae = model()
    vae.compile(optimizer=keras.optimizers.Adam(3e-3))
    untrained_loss = float(vae.evaluate(one_hot(X[:256]), verbose=0, return_dict=True)["reconstruction_loss"])
    vae.fit(one_hot(X), epochs=8, batch_size=64, verbose=0)
    test = counting(300, seed=7)
    z = vae.encode(one_hot(test))
    right = (generate(vae.decoder, z, greedy)[0] == test).all(1).mean()
    # Baseline: the same decoder given another sequence's z. It can still count, but not
    # from the right start for the right length, so z must be what carries them.
    shuffled = (generate(vae.decoder, z[np.random.default_rng(0).permutation(len(z))], greedy)[0]
                == test).all(1).mean()
    assert shuffled < 0.2 and right > shuffled + 0.5, (right, shuffled)
    trained_loss = float(vae.evaluate(one_hot(X[:256]), verbose=0, return_dict=True)["reconstruction_loss"])
    assert trained_loss < 0.25 * untrained_loss
    # Save and load in safe mode: identical outputs.
    path = tmp_path / "ar.keras"
    vae.save(path)
    again = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(again.encode(one_hot(test[:20])), vae.encode(one_hot(test[:20])))
    np.testing.assert_array_equal(generate(again.decoder, z[:20], greedy)[0], generate(vae.decoder, z[:20], greedy)[0])


def test_vae_decode_steps_an_autoregressive_decoder_greedily():
    vae = model(seed=3)
    z = np.random.default_rng(0).normal(size=(4, 4)).astype("float32")
    logits = vae.decode(z)
    assert logits.shape == (4, T, V)
    outputs, want = generate(vae.decoder, z, greedy)
    np.testing.assert_array_equal(logits, want)
    np.testing.assert_array_equal(logits.argmax(-1), outputs)


def test_decoder_config_round_trip():
    dec = AutoregressiveGRUDecoder(3, V, T, units=(8, 4), seed=5, name="d")
    again = AutoregressiveGRUDecoder.from_config(dec.get_config())
    assert (again.latent_dim, again.n_outputs, again.steps, again.units, again.seed) == (3, V, T, (8, 4), 5)
    for a, b in zip(dec.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)  # the same seed builds the same weights
