"""The Grammar VAE: masked loss, always-valid decoding, fit, save/load, distribution."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from rdkit import Chem

from conftest import shared_file
from grammarvae import Grammar, GrammarError, GrammarVAE
from grammarvae.chem import canonical, standardize
from grammarvae.data import encode_smiles
from grammarvae.decoding import MaskedDecoder
from grammarvae.io import sample_smiles
from grammarvae.models.masked import MaskedCategorical

DRUGS = ["CC(=O)Nc1ccc(O)cc1", "CC(C)Cc1ccc(C(C)C(=O)O)cc1", "O=C(O)c1ccccc1OC(=O)C", "CN1CCC[C@H]1c1cccnc1",
         "Cn1c(=O)c2c(ncn2C)n(C)c1=O", "C1CCC2(CC1)CCCC2", "c1ccc2c(c1)[nH]c1ccccc12", "FC(F)(F)c1ccc(Cl)cc1",
         "C1=CC2=CC=CC=CC2=C1", "OCC1OC(O)C(O)C(O)C1O", "C#CCN(C)C", "O=S(=O)(N)c1ccc(N)cc1"]


@pytest.fixture(scope="module")
def grammar():
    return Grammar.load("zinc")


@pytest.fixture(scope="module")
def tiny():
    return GrammarVAE(preset="tiny", seed=0)


def test_masked_loss_equals_numpy(grammar):
    rng = np.random.default_rng(0)
    X = grammar.encode([standardize(s, kekule=True) for s in DRUGS[:4]], max_len=90)
    x = grammar.one_hot(X)
    logits = rng.normal(size=x.shape).astype("float32")
    got = keras.ops.convert_to_numpy(MaskedCategorical.from_grammar(grammar)(x, logits))
    # Independent: per step, softmax over the productions of the true production's left-hand side.
    ref = np.zeros(len(X))
    for b in range(len(X)):
        for t in range(X.shape[1]):
            p = X[b, t]
            allowed = [q for q in range(grammar.n_productions)
                       if grammar.productions[q].lhs() == grammar.productions[p].lhs()]
            z = logits[b, t, allowed].astype(np.float64)
            ref[b] += logits[b, t, p] - (np.log(np.exp(z - z.max()).sum()) + z.max())
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-4)
    # Padding steps cost nothing: only the padding production is allowed after the end.
    pad_steps = X == grammar.pad
    assert pad_steps.any()


def _perfect_decode(grammar, smiles):
    kek = [standardize(s, kekule=True) for s in smiles]
    X = grammar.encode(kek, max_len=277)
    dec = MaskedDecoder(grammar)
    out = dec.decode(10.0 * grammar.one_hot(X))
    return out, dec.last_stats


def test_perfect_decoder_reproduces_input(grammar):
    smiles = [s for s in DRUGS if "@" not in s]
    out, stats = _perfect_decode(grammar, smiles)
    assert out == [canonical(s) for s in smiles]
    assert stats.dropped_rings == 0


def test_perfect_decoder_on_moses(grammar):
    smiles = sample_smiles(shared_file("moses/train.csv.gz"), 500, seed=11)
    out, stats = _perfect_decode(grammar, smiles)
    assert out == [canonical(s) for s in smiles]
    assert stats.dropped_rings == 0


def test_step_accuracy_counts_the_steps_a_masked_argmax_gets_right(grammar):
    from grammarvae.metrics import step_accuracy

    kek = [standardize(s, kekule=True) for s in ["CCO", "C1=CC=CC=C1O", "CC(=O)NC"]]
    X = grammar.encode(kek, max_len=40)
    logits = 10.0 * grammar.one_hot(X)
    right, steps = step_accuracy(logits, X, grammar)
    np.testing.assert_array_equal(steps, (X != grammar.pad).sum(1))
    np.testing.assert_array_equal(right, steps)
    # Make two steps of molecule 1 prefer another production of the same left-hand side, and
    # one step prefer a production of another left-hand side (masked away: still right).
    wrong, masked = [], []
    for t in range(steps[1]):
        p = X[1, t]
        same = [q for q in range(grammar.n_productions) if grammar.lhs[q] == grammar.lhs[p] and q != p]
        other = [q for q in range(grammar.n_productions) if grammar.lhs[q] != grammar.lhs[p]]
        if same and len(wrong) < 2:
            wrong.append((t, same[0]))
        elif not same and not masked:
            masked.append((t, other[0]))
    assert len(wrong) == 2 and len(masked) == 1
    for t, q in wrong + masked:
        logits[1, t, q] = 100.0
    right, steps = step_accuracy(logits, X, grammar)
    assert right[1] == steps[1] - 2 and right[0] == steps[0] and right[2] == steps[2]


def test_untrained_small_model_always_gives_valid_terminated_molecules():
    m = GrammarVAE(preset="small", seed=1)
    z = np.random.default_rng(0).standard_normal((1000, m.latent_dim)).astype("float32")
    logits = m.decoder.predict(z, verbose=0, batch_size=250)
    ids, drop = m.decoder_engine.decode_ids(logits)
    g = m.grammar
    for row, d in zip(ids, drop):  # every derivation wrote a string of the grammar's language
        written = g.unparse(row, skip_steps=set(d))
        assert g.unparse(g.parse(written)) == written
    smiles = m.decoder_engine.to_smiles(ids, drop)
    assert all(s is not None and Chem.MolFromSmiles(s) is not None for s in smiles)
    assert len(smiles) == 1000


def test_random_logits_give_valid_molecules_greedy_and_sampled(grammar):
    dec = MaskedDecoder(grammar)
    logits = np.random.default_rng(3).normal(scale=3.0, size=(300, 277, grammar.n_productions))
    for greedy in (True, False):
        out = dec.decode(logits, greedy=greedy, seed=4)
        assert all(s is not None and Chem.MolFromSmiles(s) is not None for s in out)
        assert dec.last_stats.invalid == 0


def test_same_seed_same_molecules(tiny):
    a = tiny.sample(50, seed=7)
    assert a == tiny.sample(50, seed=7)
    assert a != tiny.sample(50, seed=8)
    t1 = tiny.sample(20, seed=3, greedy=False)
    assert t1 == tiny.sample(20, seed=3, greedy=False)


def test_encode_rejects_bad_smiles_by_name(tiny):
    with pytest.raises(GrammarError, match="C1CC"):
        tiny.encode(["CCO", "C1CC"])
    assert tiny.encode(["CCO", "c1ccccc1O"]).shape == (2, tiny.latent_dim)


def test_neighbourhood_and_interpolation(tiny, tmp_path):
    around = tiny.sample_around("CCO", n=6, seed=0)
    assert len(around) == 6 and all(Chem.MolFromSmiles(s) for s in around)
    assert tiny.sample_around("CCO", n=3, scale=0.0, seed=4) == tiny.decode(tiny.encode(["CCO"] * 3))
    path = tiny.interpolate("CCO", "c1ccccc1O", steps=5)
    assert len(path) == 5
    png = tiny.draw(around, tmp_path / "grid.png", mols_per_row=3)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fit_on_500_molecules_lowers_the_loss(tmp_path):
    path = shared_file("moses/train.csv.gz")
    keras.utils.set_random_seed(0)
    m = GrammarVAE(preset="tiny", seed=0)
    res = encode_smiles(sample_smiles(path, 500, seed=1), m.max_len, m.grammar)
    X = res.X[res.ok]
    assert len(X) == 500
    m.compile(optimizer=keras.optimizers.Adam(3e-3))
    hist = m.fit(m.dataset(X, batch_size=50, seed=0), epochs=4, verbose=0).history
    assert hist["loss"][-1] < 0.8 * hist["loss"][0]


def test_save_load_round_trip(tiny, tmp_path):
    path = tmp_path / "m.keras"
    tiny.save(path)
    back = GrammarVAE.load(path)
    np.testing.assert_array_equal(back.encode(DRUGS[:3]), tiny.encode(DRUGS[:3]))
    assert back.sample(10, seed=2) == tiny.sample(10, seed=2)
    assert back.grammar.cfg_text == tiny.grammar.cfg_text and back.max_len == tiny.max_len


def test_load_refuses_files_that_are_not_models(tmp_path):
    bad = tmp_path / "bad.keras"
    bad.write_text("not a model")
    with pytest.raises(ValueError, match="bad.keras: not a grammarvae model"):
        GrammarVAE.load(bad)
    with pytest.raises(FileNotFoundError, match="no such model file"):
        GrammarVAE.load(tmp_path / "missing.keras")


def test_fit_under_mirrored_strategy_on_two_logical_cpus():
    script = textwrap.dedent("""
        import numpy as np, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import keras
        from grammarvae import GrammarVAE
        from grammarvae.data import encode_smiles
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        assert strategy.num_replicas_in_sync == 2
        with strategy.scope():
            m = GrammarVAE(preset="tiny", seed=0)
            m.compile(optimizer=keras.optimizers.Adam(3e-3))
        smiles = ["CCO", "CCN", "CCC", "C1CCCCC1", "CC(=O)O", "c1ccccc1", "CCOC", "CNC"] * 8
        res = encode_smiles(smiles, m.max_len, m.grammar)
        hist = m.fit(m.dataset(res.X, batch_size=16), epochs=3, verbose=0).history
        assert hist["loss"][-1] < hist["loss"][0], hist
        print("replicas", strategy.num_replicas_in_sync, "loss", hist["loss"])
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "replicas 2" in r.stdout


def test_vectorised_decoder_equals_the_independent_reference(grammar):
    from grammarvae.decoding.reference import first_illegal_step, reference_decode

    dec = MaskedDecoder(grammar)
    rng = np.random.default_rng(5)
    for scale, steps in [(1.0, 160), (4.0, 60), (2.0, 8)]:  # short budgets exercise the finishing rules
        logits = rng.normal(scale=scale, size=(120, steps, grammar.n_productions)).astype("float32")
        expected = reference_decode(grammar, logits)
        if steps > 8:
            assert (expected[:, -1] == grammar.pad).sum() >= 64  # enough finish early to be dropped from the state
        for compact in (MaskedDecoder.COMPACT, 1):  # finished molecules dropped rarely, or at most steps
            dec.COMPACT = compact
            ids, _ = dec.decode_ids(logits)
            np.testing.assert_array_equal(ids, expected)
        # Sampled: every choice is one the reference's rules keep, and every derivation ends.
        for temperature in (0.5, 2.0):
            sampled, _ = dec.decode_ids(logits, greedy=False, temperature=temperature, seed=steps)
            assert first_illegal_step(grammar, sampled) is None
            assert not np.array_equal(sampled, expected)
    dec.COMPACT = MaskedDecoder.COMPACT
    # The checker does catch a choice the rules forbid: a second element on an atom, say
    # the greedy decode with one step swapped for a production of another nonterminal.
    bad = expected.copy()
    bad[0, 3] = grammar.pad
    assert first_illegal_step(grammar, bad) == (0, 3)
    # Logits that favour the productions pushing the most symbols: stacks as deep as the
    # step budget allows (the decoder's stack rows are sized by that bound).
    logits = rng.normal(size=(60, 100, grammar.n_productions)).astype("float32") + 6.0 * dec.n_pushed.astype("float32")
    expected = reference_decode(grammar, logits)
    depth = np.cumsum([[len(grammar.rhs_nonterminals[p]) - 1 for p in row] for row in expected], axis=1)
    assert (depth + np.arange(100)).max() >= 95
    np.testing.assert_array_equal(dec.decode_ids(logits)[0], expected)


def test_decoding_fewer_steps_than_the_shortest_molecule_is_an_error(grammar):
    dec = MaskedDecoder(grammar)
    shortest = int(grammar.min_steps[grammar.nt_index[grammar.start.symbol()]])
    with pytest.raises(ValueError, match=f"decoding over {shortest - 1} steps; the shortest molecule .* takes {shortest}"):
        dec.decode_ids(np.zeros((2, shortest - 1, grammar.n_productions), dtype="float32"))
    assert len(dec.decode(np.zeros((2, shortest, grammar.n_productions), dtype="float32"))) == 2


def test_the_same_seed_builds_the_same_untrained_model():
    a, b, c = (GrammarVAE(preset="tiny", seed=s) for s in (5, 5, 6))
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert not all(np.array_equal(wa, wc) for wa, wc in zip(a.get_weights(), c.get_weights()))
    assert a.sample(20, seed=0) == b.sample(20, seed=0)
