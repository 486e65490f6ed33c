"""The grammar engine: exact round trips, equality with nltk, derived tables, errors."""

from __future__ import annotations

from importlib import resources

import nltk
import numpy as np
import pytest

from conftest import shared_file
from grammarvae import Grammar, GrammarError
from grammarvae.io import sample_smiles

DATA = {"zinc": "zinc/zinc250k_part_a.smi.gz", "moses": "moses/train.csv.gz"}


@pytest.fixture(scope="module", params=sorted(DATA))
def sample(request):
    return request.param, sample_smiles(shared_file(DATA[request.param]), 2000, seed=7)


def test_grammar_file_is_installed_with_the_package():
    assert (resources.files("grammarvae.grammars") / "zinc.cfg").is_file()


def test_round_trip_on_real_molecules(grammar, sample):
    name, smiles = sample
    assert len(smiles) == 2000
    bad = [s for s in smiles if grammar.unparse(grammar.parse(s)) != s]
    assert bad == [], f"{name}: {len(bad)} round-trip failures, e.g. {bad[:3]}"


def test_equal_to_nltk_chart_parser(grammar, sample):
    name, smiles = sample
    chart = grammar.chart_parser()
    for s in smiles[:150]:
        tree = next(chart.parse(grammar.tokenize(s)))
        assert grammar.parse(s) == [grammar.index[p] for p in tree.productions()], s


def test_parse_is_the_same_cold_and_warm():
    fresh = Grammar(Grammar.load("zinc").cfg_text)
    smiles = ["CC(=O)Nc1ccc(O)cc1", "C[C@H](N)C(=O)O", "C1CC%10CC1CC%10", "O=C1CCC(=O)N1"]
    first = [fresh.parse(s) for s in smiles]
    assert [fresh.parse(s) for s in smiles] == first
    assert [fresh.unparse(ids) for ids in first] == smiles


@pytest.mark.parametrize("smiles", [
    "[13CH3][C@@H](F)Cl", "C/C=C\\C", "[nH]1cccc1", "C=1CC1", "C%12CC%12", "C12CC1CC2",
    "[NH3+]CC(=O)[O-]", "[H]C([H])([H])[H]", "C#N", "c1ccc2c(c1)oc1ccccc12", "[O-][N+](=O)C",
])
def test_round_trip_of_syntax_features(grammar, smiles):
    assert grammar.unparse(grammar.parse(smiles)) == smiles


@pytest.mark.parametrize("smiles, reason, position", [
    ("", "empty SMILES", None),
    ("CC(C", "'(' is never closed", 2),
    ("CC)C", "')' has no matching '('", 2),
    ("C[C", "unexpected end of SMILES", 3),
    ("C[Xe]C", "bracket atom '[Xe]': the grammar has no element Xe", 1),
    ("C[Si](C)C", "bracket atom '[Si]': the grammar has no element Si", 1),
    ("C[Sn](C)C", "bracket atom '[Sn]': the grammar has no element Sn", 1),
    ("C[C@@@H]C", "bracket atom '[C@@@H]' is not in the grammar (a feature it cannot write)", 1),
    ("CQ", "unknown symbol 'Q'", 1),
    ("C1CC", "ring bond 1 is opened but never closed", 1),
    ("CC1CC%23C1", "ring bond %23 is opened but never closed", 5),
    ("C==C", "unexpected '='", 2),
])
def test_errors_name_the_problem_and_position(grammar, smiles, reason, position):
    with pytest.raises(GrammarError) as info:
        grammar.parse(smiles)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.reason.startswith(reason)
    assert err.position == position
    assert repr(smiles) in str(err)


def test_unparse_rejects_sequences_that_do_not_derive(grammar):
    ids = grammar.parse("CCO")
    with pytest.raises(GrammarError, match="incomplete derivation"):
        grammar.unparse(ids[:-1])
    with pytest.raises(GrammarError, match="cannot expand"):
        grammar.unparse([ids[0], ids[0]])


def test_derived_tables_match_the_productions(grammar):
    g = grammar
    assert g.n_productions == len(g.cfg.productions()) == g.masks.shape[1]
    assert g.productions[g.pad].lhs().symbol() == "Nothing"
    # Every production is allowed for exactly its own left-hand side.
    assert (g.masks.sum(axis=0) == 1).all()
    for p, prod in enumerate(g.productions):
        assert g.nonterminals[g.lhs[p]] == prod.lhs().symbol()
        pushed = [g.nonterminals[a] for a in g.rhs_nonterminals[p]]
        expected = [] if p == g.pad else [s.symbol() for s in prod.rhs() if isinstance(s, nltk.Nonterminal)]
        assert pushed == expected


def test_min_steps_are_the_shortest_derivations(grammar):
    g = grammar
    nt = g.nt_index
    # Shortest molecules, parsed: a one-atom chain; and the shortest bracket atom.
    assert g.min_steps[nt["smiles"]] == min(len(g.parse(s)) for s in ["C", "B", "c", "[H]"])
    # smiles, chain, branched_atom, atom come before the bracket atom
    assert g.min_steps[nt["bracket_atom"]] == len(g.parse("[H]")) - 4 == 3
    assert g.min_steps[nt["atom"]] == 2
    assert g.min_steps[nt["digit"]] == 1
    # A production's minimum is 1 plus its pushed nonterminals' minima.
    p = g.productions.index(next(q for q in g.productions if str(q) == "chain -> branched_atom bond chain"))
    assert g.production_min_steps[p] == 1 + g.min_steps[nt["branched_atom"]] + g.min_steps[nt["bond"]] + g.min_steps[nt["chain"]]


def test_encode_pads_and_one_hot_is_on_demand(grammar):
    X = grammar.encode(["CCO", "c1ccccc1"], max_len=60)
    assert X.dtype == np.int32 and X.shape == (2, 60)
    n = len(grammar.parse("CCO"))
    assert X[0, :n].tolist() == grammar.parse("CCO")
    assert (X[0, n:] == grammar.pad).all()
    assert grammar.unparse(X[1]) == "c1ccccc1"
    H = grammar.one_hot(X)
    assert H.dtype == np.float32 and H.shape == (2, 60, grammar.n_productions)
    assert (H.argmax(-1) == X).all() and (H.sum(-1) == 1).all()


def test_encode_refuses_to_truncate(grammar):
    with pytest.raises(GrammarError, match="more than max_len=10"):
        grammar.encode(["CCCCCC"], max_len=10)


def test_encode_checked_keeps_rows_aligned(grammar):
    res = grammar.encode_checked(["CCO", "C1CC", "CCN"], max_len=40)
    assert res.ok.tolist() == [True, False, True]
    assert [(i, s) for i, s, _ in res.errors] == [(1, "C1CC")]
    assert "ring bond 1" in res.errors[0][2]
    assert grammar.unparse(res.X[2]) == "CCN"
    assert (res.X[1] == grammar.pad).all()


def test_load_by_path_and_unknown_name(tmp_path):
    from grammarvae.grammar import grammar_path

    copy = tmp_path / "mine.cfg"
    copy.write_text(grammar_path("zinc").read_text())
    assert Grammar.load(str(copy)).parse("CCO") == Grammar.load("zinc").parse("CCO")
    with pytest.raises(FileNotFoundError, match="no grammar named 'nope'") as e:
        Grammar.load("nope")
    looked = str(e.value).split("(looked in ")[1].rstrip(")").split(", ")
    assert looked and len(set(looked)) == len(looked)  # an editable install's two places are one folder
