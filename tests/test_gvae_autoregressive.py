"""The autoregressive GrammarVAE: masked stepwise decoding (greedy, sampled, beam), loss, save/load."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from rdkit import Chem

from grammarvae import GrammarVAE
from grammarvae.data import make_dataset
from grammarvae.decoding import MaskedDecoder
from grammarvae.models.autoregressive import PrecomputedLogits, masked_beam_search
from grammarvae.models.masked import MaskedCategorical

SMILES = ["CC(=O)Nc1ccc(O)cc1", "CC(C)Cc1ccc(C(C)C(=O)O)cc1", "O=C(O)c1ccccc1OC(=O)C", "C#CCN(C)C",
          "FC(F)(F)c1ccc(Cl)cc1", "OCC1OC(O)C(O)C(O)C1O", "CCO", "c1ccc2ccccc2c1"]


@pytest.fixture(scope="module")
def small():
    return GrammarVAE(preset="small", decoder="autoregressive", seed=0)


@pytest.fixture(scope="module")
def tiny():
    return GrammarVAE(preset="tiny", decoder="autoregressive", seed=1)


def test_untrained_prior_decodes_are_all_valid(small):
    z = np.random.default_rng(0).standard_normal((1000, small.latent_dim)).astype("float32")
    out = small.decode(z)
    assert sum(Chem.MolFromSmiles(s) is not None for s in out) == 1000
    assert small.decode_stats.invalid == 0


def log_likelihood(model, ids, z):
    """log p(ids | z) under the model, teacher-forced, with the training loss's normalisation."""
    x = model.grammar.one_hot(ids)
    return keras.ops.convert_to_numpy(MaskedCategorical.from_grammar(model.grammar)(x, model.step_logits(ids, z)))


def test_beam_search(small):
    z = np.random.default_rng(1).standard_normal((40, small.latent_dim)).astype("float32")
    greedy, _ = small.decode_ids(z)
    # Width 1 keeps the single best allowed production each step: the greedy choice.
    np.testing.assert_array_equal(small.decode_ids(z, beam_width=1)[0], greedy)
    beam, _ = small.decode_ids(z, beam_width=8)
    ll_greedy, ll_beam = log_likelihood(small, greedy, z), log_likelihood(small, beam, z)
    assert ll_beam.mean() > ll_greedy.mean() + 0.1, (ll_beam.mean(), ll_greedy.mean())
    assert (ll_beam >= ll_greedy - 1e-3).mean() >= 0.75
    out = small.decode(z, beam_width=4)
    assert all(Chem.MolFromSmiles(s) is not None for s in out)


def test_one_shot_beam_of_width_one_is_greedy():
    m = GrammarVAE(preset="tiny", seed=2)
    z = np.random.default_rng(2).standard_normal((30, m.latent_dim)).astype("float32")
    logits = m.decode_logits(z)
    greedy, _ = m.decoder_engine.decode_ids(logits)
    beam, _ = masked_beam_search(m.decoder_engine, PrecomputedLogits(logits), z, m.max_len, 1)
    np.testing.assert_array_equal(beam, greedy)
    assert all(Chem.MolFromSmiles(s) is not None for s in m.decode(z, beam_width=3))


def test_sampled_decoding_is_seeded(tiny):
    z = np.random.default_rng(3).standard_normal((50, tiny.latent_dim)).astype("float32")
    a = tiny.decode(z, greedy=False, seed=4)
    assert a == tiny.decode(z, greedy=False, seed=4)
    assert a != tiny.decode(z, greedy=False, seed=5)
    assert a != tiny.decode(z)
    with pytest.raises(ValueError, match="temperature must be a positive number, got nan"):
        tiny.decode(z, greedy=False, temperature=float("nan"))


def test_a_choice_is_always_among_the_allowed_and_select_copies(grammar):
    dec = MaskedDecoder(grammar)
    rng = np.random.default_rng(6)
    state = dec.start(64, 60)
    twin = None
    while not state.all_finished:
        allowed = state.allowed()
        p = state.choose(rng.normal(size=(len(state), grammar.n_productions)).astype("float32"))
        assert allowed[np.arange(len(state)), p].all()
        if state.t == 10:
            twin = state.copy()
            snapshot = twin.stack_symbol.copy()
        state.advance(p)
    np.testing.assert_array_equal(twin.stack_symbol, snapshot)  # advancing the original left the copy alone


def test_cut_batches_score_the_same_as_full_ones(tiny):
    """Batches cut to their longest derivation lose only padding steps, which the masked loss
    scores as exactly 0: the per-molecule loss is unchanged."""
    X = tiny.to_ids(SMILES)
    cut = X[:, :int((X != tiny.grammar.pad).sum(1).max())]
    z = tiny.encode_ids(X)
    full_ll, cut_ll = (keras.ops.convert_to_numpy(
        MaskedCategorical.from_grammar(tiny.grammar)(tiny.one_hot(x), tiny.step_logits(x, z))) for x in (X, cut))
    np.testing.assert_allclose(cut_ll, full_ll, rtol=1e-5)
    np.testing.assert_array_equal(tiny.encode_ids(cut), z)  # the encoder pads the cut rows back
    lengths = {b.shape[1] for b in make_dataset(np.repeat(X, 8, 0), tiny.grammar.n_productions, batch_size=8,
                                                by_length=True)}
    assert max(lengths) < X.shape[1] and all(n % 8 == 0 for n in lengths)


def test_fit_save_and_load(tmp_path):
    m = GrammarVAE(preset="tiny", decoder="autoregressive", seed=3, beta=0.1)
    X = np.repeat(m.to_ids(SMILES), 16, 0)
    m.compile(optimizer=keras.optimizers.Adam(3e-3))
    before = m.evaluate(m.dataset(X, batch_size=32, shuffle=False), verbose=0, return_dict=True)["loss"]
    m.fit(m.dataset(X, batch_size=32), epochs=3, verbose=0)
    after = m.evaluate(m.dataset(X, batch_size=32, shuffle=False), verbose=0, return_dict=True)["loss"]
    assert after < 0.8 * before
    path = tmp_path / "ar.keras"
    m.save(path)
    again = GrammarVAE.load(path)
    assert again.decoder_kind == "autoregressive"
    np.testing.assert_array_equal(again.encode(SMILES), m.encode(SMILES))
    z = m.encode(SMILES)
    assert again.decode(z, beam_width=2) == m.decode(z, beam_width=2)


def test_unknown_decoder_is_an_error():
    with pytest.raises(ValueError, match="unknown decoder 'rnn'; one of"):
        GrammarVAE(preset="tiny", decoder="rnn")


def test_sample_around_and_interpolate_decode_by_beam(small):
    """The neighbourhood, the prior and the line decode their points by beam search when asked:
    the same molecules as `decode(z, beam_width=K)` of the points built here, not the greedy ones."""
    z0 = small.encode(["CC(=O)Nc1ccc(O)cc1", "CCO"])
    w = np.linspace(0.0, 1.0, 6, dtype="float32")[:, None]
    line = (1 - w) * z0[0] + w * z0[1]
    assert small.interpolate("CC(=O)Nc1ccc(O)cc1", "CCO", steps=6, beam_width=4) == small.decode(line, beam_width=4)
    # around a molecule: its posterior mean plus 2 posterior standard deviations times N(0, I)
    mean, log_var = small.encode_ids(small.to_ids(["CC(=O)Nc1ccc(O)cc1"]), return_log_var=True)
    eps = np.random.default_rng(3).standard_normal((20, small.latent_dim)).astype("float32")
    around = mean[0] + 2.0 * np.exp(0.5 * log_var[0]) * eps
    beam = small.sample_around("CC(=O)Nc1ccc(O)cc1", n=20, seed=3, beam_width=4)
    assert beam == small.decode(around, beam_width=4) and beam != small.decode(around)
    prior = np.random.default_rng(5).standard_normal((20, small.latent_dim)).astype("float32")
    avoid = small.default_avoid_rings  # prior samples avoid those ring sizes; decode, by default, none
    assert small.sample(20, seed=5, beam_width=4) == small.decode(prior, beam_width=4, avoid_rings=avoid) != small.sample(
        20, seed=5)


def test_decoding_in_bfloat16_stays_valid_and_returns_to_float32(tiny):
    z = np.random.default_rng(7).standard_normal((40, tiny.latent_dim)).astype("float32")
    before = tiny.decode(z)
    tiny.set_step_precision("bfloat16")
    try:
        low = tiny.decode(z)
    finally:
        tiny.set_step_precision("float32")
    assert len(low) == 40 and all(Chem.MolFromSmiles(s) is not None for s in low)
    assert tiny.decode(z) == before  # back to float32, the same molecules
    with pytest.raises(ValueError, match="applies to the autoregressive decoder; this model's is one-shot"):
        GrammarVAE(preset="tiny", seed=0).set_step_precision("bfloat16")
