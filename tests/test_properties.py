"""The design targets in grammarvae.properties, checked against RDKit called directly here."""

from __future__ import annotations

import gzip
import math
import os
import sys

import numpy as np
import pytest
from rdkit import Chem, RDConfig
from rdkit.Chem import QED, Crippen, Descriptors

from conftest import shared_file
from grammarvae.properties import PROPERTIES, ZINC250K_STATS, PenalizedLogP, ring_penalty, score

MOLECULES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "C1CCCCCCC1", "CN1CCC[C@H]1c1cccnc1"]


def _sascorer():
    sys.path.append(os.path.join(RDConfig.RDContribDir, "SA_Score"))
    import sascorer

    return sascorer


@pytest.mark.parametrize("name, fn", [("logp", Crippen.MolLogP), ("qed", QED.qed), ("mw", Descriptors.MolWt),
                                      ("sa", lambda m: _sascorer().calculateScore(m))])
def test_each_property_is_rdkits(name, fn):
    expected = [fn(Chem.MolFromSmiles(s)) for s in MOLECULES]
    np.testing.assert_allclose(score(MOLECULES, name).values, expected, rtol=0, atol=1e-12)


def test_ring_penalty_by_hand():
    # largest ring minus 6, never below 0: ethanol none, benzene 6, cyclooctane 8, a 12-ring
    # fused to benzene (the largest ring counts, not the number of rings)
    assert [ring_penalty(Chem.MolFromSmiles(s)) for s in ["CCO", "c1ccccc1", "C1CCCCCCC1",
                                                        "c1ccc2c(c1)CCCCCCCCCC2"]] == [0, 0, 2, 6]


def test_penalized_logp_of_hand_checked_molecules():
    sa = _sascorer()
    for smiles, rings in [("CCO", 0), ("c1ccccc1O", 0), ("C1CCCCCCC1", 2), ("CCCCCCCCCCCC", 0)]:
        mol = Chem.MolFromSmiles(smiles)
        expected = ((Crippen.MolLogP(mol) - 2.4570953396190123) / 1.434324401111988
                    + (-sa.calculateScore(mol) + 3.0525811293166134) / 0.8335207024513095
                    + (-rings + 0.0485696876403053) / 0.2860212110245455)
        assert score([smiles], "penalized_logp").values[0] == pytest.approx(expected, abs=1e-9), smiles
    # cyclooctane: its 8-ring costs 2 / 0.286 = 6.99 against the open-chain octane's score, less the logP
    # and SA differences: far below it
    octane, ring = score(["CCCCCCCC", "C1CCCCCCC1"], "penalized_logp").values
    assert octane - ring > 5


def test_raw_penalized_logp_matches_jtvae_listed_values():
    # three of the 800 molecules of JT-VAE's constrained-optimisation test file, with the values
    # that file lists beside them (logP - SA - ring penalty, unstandardised)
    for smiles, listed in [("COc1cc2c(cc1OC)CC([NH3+])C2", -2.50504567445),
                           ("OC[C@@H](Br)C(F)(F)Br", -2.45357941743),
                           ("NC(=O)C1(N2CCCC2)CC[NH2+]CC1", -5.375513278)]:
        assert score([smiles], "penalized_logp_raw").values[0] == pytest.approx(listed, abs=1e-8), smiles


def test_standardized_on_takes_the_sets_own_statistics():
    smiles = ["CCO", "CCCCCC", "c1ccccc1O", "C1CCCCCCC1"]
    p = PenalizedLogP.standardized_on(smiles)
    values = np.array([p(Chem.MolFromSmiles(s)) for s in smiles])
    # each term standardised over the set has mean 0, so their sum has mean 0 over the set
    assert abs(values.mean()) < 1e-9
    with pytest.raises(ValueError, match="at least two readable molecules"):
        PenalizedLogP.standardized_on(["CCO", "C1CC"])


def test_failures_are_nan_with_a_reason():
    s = score(["CCO", "C1CC", "", None], "qed")
    assert np.isfinite(s.values[0]) and np.isnan(s.values[1:]).all()
    assert s.reasons == [None, "RDKit cannot read it", "empty", "empty"]
    with pytest.raises(ValueError, match="unknown property 'colour'; one of logp, qed, sa, mw, penalized_logp, penalized_logp_raw"):
        score(["CCO"], "colour")
    assert list(PROPERTIES) == ["logp", "qed", "sa", "mw", "penalized_logp", "penalized_logp_raw"]


def test_zinc_statistics_match_the_zinc_molecules():
    """The shipped standardisation (the papers' figures over the 250k ZINC molecules) agrees
    with the statistics of the 24,445 ZINC-250k molecules in the shared data, computed here
    (within five standard errors of the mean; a tenth of the standard deviation for the spread)."""
    path = shared_file("zinc/zinc250k_part_a.smi.gz")
    with gzip.open(path, "rt") as f:
        mols = [Chem.MolFromSmiles(line.split()[0]) for line in f if line.strip()][:6000]
    sa = _sascorer()
    terms = np.array([[Crippen.MolLogP(m), -sa.calculateScore(m),
                       -max(max((len(r) for r in m.GetRingInfo().AtomRings()), default=0) - 6, 0)] for m in mols])
    for column, (mean, std) in zip(terms.T, ZINC250K_STATS.values()):
        assert abs(column.mean() - mean) < 5 * std / math.sqrt(len(column)), (column.mean(), mean)
        assert abs(column.std() - std) < 0.1 * std + 0.05, (column.std(), std)
