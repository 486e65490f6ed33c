"""Seeded fuzzing of the parser and of encode: random and mutated SMILES and a few very long
ones. The parser raises only GrammarError and every SMILES it accepts round-trips exactly;
encode reports failures by row and never raises."""

from __future__ import annotations

import random

import numpy as np
import pytest

from grammarvae import GrammarError, GrammarVAE

SEEDS = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "C[C@@H](N)C(=O)O", "O=C1CC[N+](C)(C)C1", "C1CC2CCC1C2",
         "Cc1ccc2[nH]ccc2c1", "FC(F)(F)c1ccc(Cl)cc1Br", "C#N", "C/C=C/C", "[NH4+]", "CC1=CC(=O)C=CC1=O"]
ALPHABET = list("CNOSPFIclnos()[]=#+-@/\\%123456789H.*") + ["Cl", "Br", "[nH]", "%10", "[C@@H]", "[O-]"]


def _mutants(rng: random.Random, n: int) -> list[str]:
    out = []
    for _ in range(n):
        s = list(rng.choice(SEEDS))
        for _ in range(rng.randint(1, 4)):
            op, at = rng.random(), rng.randrange(len(s) + 1)
            if op < 0.4:
                s.insert(at, rng.choice(ALPHABET))
            elif op < 0.7 and s:
                del s[min(at, len(s) - 1)]
            elif s:
                s[min(at, len(s) - 1)] = rng.choice(ALPHABET)
        out.append("".join(s))
    out += ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 30))) for _ in range(n // 4)]
    out += ["C" * 3000, "c1ccccc1" * 400, "(" * 2000, "C1" * 1500, "".join(rng.choice(ALPHABET) for _ in range(5000))]
    return out


def test_parser_raises_only_grammar_errors_and_accepted_smiles_round_trip(grammar):
    accepted = 0
    for s in _mutants(random.Random(0), 2000):
        try:
            ids = grammar.parse(s)
        except GrammarError:
            continue
        accepted += 1
        assert grammar.unparse(ids) == s, s
    assert accepted > 100  # mutants of valid SMILES are often still valid: the round trip was exercised


@pytest.fixture(scope="module")
def tiny():
    return GrammarVAE(preset="tiny", seed=0)


def test_encode_reports_every_failure_by_row_and_never_raises(tiny):
    smiles = _mutants(random.Random(1), 200)
    Z, errors, mixtures = tiny.encode_checked(smiles)[:3]
    failed = sorted(i for i, _, _ in errors)
    assert failed == sorted(np.flatnonzero(np.isnan(Z).any(1)).tolist())
    assert np.isfinite(np.delete(Z, failed, 0)).all()
    assert all(smiles[i] == s and why for i, s, why in errors)
    assert 0 < len(failed) < len(smiles)
    assert {i for i, _, _ in mixtures}.isdisjoint(failed)
