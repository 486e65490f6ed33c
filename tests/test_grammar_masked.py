"""Grammar-only masked decoding (the paper's masks with a step budget) on a grammar with no
chemistry in it, the paper's expression grammar, and on the SMILES grammar."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from grammarvae.grammar import Grammar
from grammarvae.grammar.masked import GrammarDecoder


@pytest.fixture(scope="module")
def equations():
    return Grammar.load("equations")


def test_the_paper_grammar_parses_and_unparses_exactly_as_nltk_reads_it(equations):
    chart = equations.chart_parser()
    for text in ["x", "x+sin(x*x)", "1/3+x+sin(x*x)", "exp(x)/(2+x)*3", "sin(sin(x))+1"]:
        ids = equations.parse(text)
        tree = next(chart.parse(equations.tokenize(text)))
        assert ids == [equations.index[p] for p in tree.productions()]
        assert equations.unparse(ids) == text


@pytest.mark.parametrize("name, steps", [("equations", 15), ("equations", 40), ("zinc", 100)])
def test_any_logits_give_derivations_of_the_grammar_within_the_steps(name, steps):
    """Random logits, greedy and sampled: every row finishes within `steps`, and the string
    it derives parses back to the same derivation (the grammar's own parser as the check)."""
    g = Grammar.load(name)
    dec = GrammarDecoder(g)
    logits = np.random.default_rng(0).normal(scale=3.0, size=(200, steps, g.n_productions))
    for ids in (dec.decode_ids(logits)[0], dec.decode_ids(logits, greedy=False, seed=1)[0]):
        assert ids.shape == (200, steps)
        for row, text in zip(ids, dec.to_text(ids)):
            real = [int(p) for p in row if p != g.pad]
            assert (row[len(real):] == g.pad).all()  # padding only after the end
            if name == "equations":  # (ring labels make a SMILES's parse refuse what the grammar derives)
                assert g.parse(text) == real


def test_the_budget_is_what_forces_an_end(equations):
    """Logits that always prefer S -> S '+' T would never end without the budget. With 9
    steps: three of them, then S -> T and four T -> 'x' (8 steps); a fourth would need 10."""
    g, dec = equations, GrammarDecoder(equations)
    prefer = np.zeros(g.n_productions)
    prefer[g.productions.index(next(p for p in g.productions if str(p) == "S -> S '+' T"))] = 10.0
    logits = np.broadcast_to(prefer, (3, 9, g.n_productions))
    ids = dec.decode_ids(logits)[0]
    texts = dec.to_text(ids)
    assert texts == ["x+x+x+x"] * 3
    assert g.parse(texts[0]) == [int(p) for p in ids[0] if p != g.pad]
    with pytest.raises(ValueError, match="the shortest derivation of grammar equations takes 2"):
        dec.start(2, 1)


def test_stepping_refuses_a_production_the_masks_forbid(equations):
    dec = GrammarDecoder(equations)
    state = dec.start(2, 10)
    t_symbol = equations.productions.index(next(p for p in equations.productions if str(p) == "T -> 'x'"))
    with pytest.raises(ValueError, match=f"row 0 may not take production {t_symbol} at step 0"):
        state.advance([t_symbol, t_symbol])  # S is on top: a T production cannot expand it


def test_dropping_finished_rows_keeps_their_results(equations):
    dec = GrammarDecoder(equations)
    logits = np.random.default_rng(3).normal(size=(50, 20, equations.n_productions))
    whole = dec.decode_ids(logits)[0]
    state = dec.start(50, 20)
    while not state.all_finished:
        state.drop_finished(at_least=5)
        state.advance(state.choose(logits[state.batch_row, state.t]))
    np.testing.assert_array_equal(state.result()[0], whole)


def test_the_grammar_only_decoder_imports_neither_rdkit_nor_tensorflow():
    code = ("import sys\nfrom grammarvae.grammar import Grammar\nfrom grammarvae.grammar.masked import GrammarDecoder\n"
            "GrammarDecoder(Grammar.load('equations')).start(1, 10)\n"
            "print(sorted(m for m in ('rdkit', 'tensorflow', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_autoregressive_drivers_decode_any_grammar_through_it(equations):
    """The same greedy and beam drivers as for molecules, with a network of vae_core over the
    expression grammar's productions: every decode is an expression of the grammar, and a beam
    of 1 is greedy decoding."""
    from grammarvae.models.autoregressive import masked_beam_search, masked_generate
    from vae_core import AutoregressiveGRUDecoder

    dec = GrammarDecoder(equations)
    network = AutoregressiveGRUDecoder(4, equations.n_productions, 15, units=(16,), seed=0)
    z = np.random.default_rng(0).normal(size=(30, 4)).astype("float32")
    greedy, _ = masked_generate(dec, network, z, 15)
    beam, _ = masked_beam_search(dec, network, z, 15, beam_width=1)
    np.testing.assert_array_equal(greedy, beam)
    wide, _ = masked_beam_search(dec, network, z, 15, beam_width=4)
    for ids in (greedy, wide):
        for row, text in zip(ids, dec.to_text(ids)):
            assert equations.parse(text) == [int(p) for p in row if p != equations.pad]
