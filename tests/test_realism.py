"""Properties and realism measures against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import QED, Crippen, Descriptors

from grammarvae.properties import compute
from grammarvae.realism import realism, ring_shares, scaffolds, wasserstein_1d

MOLS = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "C1CCCCCCC1", "C1CC1C", "C1CCC1", "CC(C)Cc1ccc(C(C)C(=O)O)cc1"]


def test_properties_match_rdkit_called_directly():
    for name, fn in [("logp", Crippen.MolLogP), ("qed", QED.qed), ("mw", Descriptors.MolWt)]:
        got = compute(MOLS + ["not a smiles"], name)
        np.testing.assert_allclose(got[:-1], [fn(Chem.MolFromSmiles(s)) for s in MOLS])
        assert np.isnan(got[-1])
    sa = compute(["CCO", "CC(=O)Nc1ccc(O)cc1", "C[C@H]1C[C@@]2(C)[C@@H](C1)C1(C)CC2(C)C1"], "sa")
    # Simple molecules score near 1-2 (the score's size penalty puts paracetamol below
    # ethanol); a bridged polycycle with four stereocentres is hard (above 4).
    assert 1 <= sa[1] < sa[0] < 2.5 and 4 < sa[2] <= 10
    with pytest.raises(ValueError, match="unknown property 'colour'"):
        compute(MOLS, "colour")


def test_ring_shares_by_hand():
    # cyclooctane: an 8-ring; methylcyclopropane, cyclobutane: 3-4 rings; phenol, paracetamol, ibuprofen: aromatic
    assert ring_shares(MOLS) == {"ring8_share": 1 / 7, "ring34_share": 2 / 7, "aromatic_share": 3 / 7}
    assert ring_shares(["C1=CC=CC=C1"]) == {"ring8_share": 0.0, "ring34_share": 0.0, "aromatic_share": 1.0}


def test_wasserstein_against_closed_forms():
    rng = np.random.default_rng(0)
    a = rng.normal(size=400)
    assert wasserstein_1d(a, a + 1.5) == pytest.approx(1.5)  # a shift moves every unit of mass by 1.5
    b = rng.normal(size=400)
    assert wasserstein_1d(a, b) == pytest.approx(np.abs(np.sort(a) - np.sort(b)).mean())  # equal sizes
    assert wasserstein_1d([0.0], [0.0, 1.0]) == pytest.approx(0.5)
    assert wasserstein_1d(a, a) == 0.0


def test_similarity_measures():
    same = realism(MOLS, MOLS)
    assert same["snn"] == pytest.approx(1.0) and same["fragment_similarity"] == pytest.approx(1.0)
    assert same["scaffold_similarity"] == pytest.approx(1.0)
    assert same["wasserstein_mw"] == 0.0
    other = realism(["CCCCCC", "CCCCO", "CCN(C)C"], MOLS)
    assert other["snn"] < 0.5 and other["scaffold_similarity"] != other["scaffold_similarity"]  # no rings: NaN
    assert scaffolds([Chem.MolFromSmiles("CC(=O)Nc1ccc(O)cc1")]) == {"c1ccccc1": 1}
