"""Properties and realism measures against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import BRICS, QED, AllChem, Crippen, Descriptors

from grammarvae.properties import compute
from grammarvae.evaluate import draw
from grammarvae.metrics import internal_diversity
from grammarvae.realism import fragments, realism, ring_shares, scaffolds, wasserstein_1d

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
    two_rings = MOLS + ["c1ccc(Cc2ccccc2)cc1", "O=C(Nc1ccccc1)c1ccncc1"]
    same = realism(two_rings, two_rings)
    assert same["snn"] == pytest.approx(1.0) and same["fragment_similarity"] == pytest.approx(1.0)
    assert same["scaffold_similarity"] == pytest.approx(1.0)
    assert same["wasserstein_mw"] == 0.0
    other = realism(["CCCCCC", "CCCCO", "CCN(C)C"], MOLS)
    assert other["snn"] < 0.5 and other["scaffold_similarity"] != other["scaffold_similarity"]  # no rings: NaN


def test_scaffolds_of_fewer_than_two_rings_are_not_counted_as_moses_counts_them():
    mols = [Chem.MolFromSmiles(s) for s in ("CC(=O)Nc1ccc(O)cc1", "c1ccc(Cc2ccccc2)cc1", "Oc1ccc(Cc2ccccc2)cc1", "CCO")]
    assert scaffolds(mols) == {"c1ccc(Cc2ccccc2)cc1": 2}  # paracetamol's benzene alone is no scaffold
    assert scaffolds(mols[:1], min_rings=1) == {"c1ccccc1": 1}


def test_fragments_count_each_piece_as_often_as_it_occurs():
    # diphenyl ether: the two aryl-O bonds are BRICS bonds; the two phenyls are the same piece
    ether = Chem.MolFromSmiles("c1ccccc1Oc1ccccc1")
    assert fragments([ether]) == {"[16*]c1ccccc1": 2, "[3*]O[3*]": 1}
    assert fragments([ether, ether])["[16*]c1ccccc1"] == 4
    # RDKit's BRICSDecompose, a set, would count the phenyl once: the measure differs from it
    assert len(BRICS.BRICSDecompose(ether)) == 2


def _intdiv_by_pairs(smiles, p):
    """IntDiv_p written out over every ordered pair, itself included (MOSES's definition)."""
    fps = [AllChem.GetMorganFingerprintAsBitVect(Chem.MolFromSmiles(s), 2, nBits=1024) for s in smiles]
    rows = [sum(DataStructs.TanimotoSimilarity(a, b) ** p for b in fps) / len(fps) for a in fps]
    return 1 - sum(r ** (1 / p) for r in rows) / len(rows)


def test_internal_diversity_is_moses_intdiv():
    a, b = "CC(=O)Nc1ccc(O)cc1", "CC(C)Cc1ccc(C(C)C(=O)O)cc1"
    fa, fb = (AllChem.GetMorganFingerprintAsBitVect(Chem.MolFromSmiles(s), 2, nBits=1024) for s in (a, b))
    t = DataStructs.TanimotoSimilarity(fa, fb)
    # two molecules: the four ordered pairs hold 1, 1, t, t
    assert internal_diversity([a, b]) == pytest.approx((1 - t) / 2)
    assert internal_diversity([a, b], p=2) == pytest.approx(1 - np.sqrt((1 + t * t) / 2))
    assert internal_diversity([a, a, a]) == pytest.approx(0.0)
    assert internal_diversity([a]) != internal_diversity([a])  # nan below two molecules
    for p in (1, 2):
        assert internal_diversity(MOLS + [a], p=p) == pytest.approx(_intdiv_by_pairs(MOLS + [a], p))
    # repeats count: a sample that repeats one molecule is less diverse than its distinct set
    assert internal_diversity([a, a, b]) < internal_diversity([a, b])


def test_a_limited_reference_set_is_a_seeded_random_draw_in_file_order():
    rows = list(range(1000))
    first = draw(rows, 100, seed=0)
    assert len(first) == 100 and first == sorted(first) and len(set(first)) == 100
    assert first == draw(rows, 100, seed=0) and first != draw(rows, 100, seed=1)
    assert max(first) > 500  # not the file's first rows
    assert draw(rows, None) == rows and draw(rows, 5000) == rows




OTHERS = ["CCN", "CCCC", "c1ccncc1", "CC(=O)O", "c1ccc2ccccc2c1", "CC(C)O", "CCOCC", "c1ccoc1", "NC(=O)c1ccccc1",
          "CCCCCCCCO", "C1CCNCC1", "Clc1ccccc1", "CC(N)C(=O)O", "O=C1CCCCC1", "c1ccc(-c2ccccc2)cc1"]


def test_fcd_is_the_frechet_distance_of_chemnet_activations():
    chemnet = pytest.importorskip("fcd", reason="FCD needs the optional extra grammarvae[fcd] (fcd, PyTorch)")
    from grammarvae.chem import canonical
    from grammarvae.realism import fcd

    a, b = MOLS + OTHERS[:8], OTHERS + ["CCO"]
    model = chemnet.load_ref_model()

    def gaussian(smiles):
        act = chemnet.get_predictions(model, [canonical(s) for s in smiles], device="cpu").astype(float)
        return act.mean(0), np.cov(act.T)

    (m1, s1), (m2, s2) = gaussian(a), gaussian(b)
    # tr sqrt(S1 S2) as the sum of the square roots of the eigenvalues of sqrt(S1) S2 sqrt(S1)
    w, v = np.linalg.eigh(s1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root1 @ s2 @ root1), 0, None)).sum()
    expected = float(((m1 - m2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * cross)
    assert fcd(a, b) == pytest.approx(expected, rel=1e-2)
    assert expected > 1.0 and abs(fcd(a, a)) < 1e-2 * expected


def test_fcd_without_its_extra_names_the_extra(monkeypatch):
    import sys

    from grammarvae.realism import fcd

    monkeypatch.setitem(sys.modules, "fcd", None)  # import fcd now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'grammarvae\[fcd\]'"):
        fcd(MOLS, MOLS)
