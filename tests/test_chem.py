"""Standardisation with RDKit."""

import pytest
from rdkit import Chem

from grammarvae import GrammarError
from grammarvae.chem import FragmentWarning, standardize


def test_standardize_is_rdkit_canonical():
    for s in ["OCC", "C(C)O", "c1ccccc1O", "Oc1ccccc1"]:
        assert standardize(s) == Chem.MolToSmiles(Chem.MolFromSmiles(s))
    assert standardize("F[C@H](Cl)Br") == Chem.MolToSmiles(Chem.MolFromSmiles("F[C@H](Cl)Br"))


def test_standardize_keeps_largest_fragment_and_says_so():
    with pytest.warns(FragmentWarning, match="largest fragment"):
        assert standardize("[Na+].CC(=O)[O-]") == "CC(=O)[O-]"


def test_kekule_form_has_no_aromatic_atoms():
    k = standardize("c1ccccc1O", kekule=True)
    assert not any(ch in k for ch in "cnos")
    assert Chem.MolToSmiles(Chem.MolFromSmiles(k)) == "Oc1ccccc1"


def test_unreadable_smiles_raise_grammar_error():
    with pytest.raises(GrammarError, match="RDKit cannot read"):
        standardize("C1CC(")
    with pytest.raises(GrammarError, match="empty"):
        standardize("")
