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


def test_a_grid_of_100_molecules_is_square_and_its_legends_fit(tmp_path):
    from PIL import Image

    from grammarvae.chem import LEGEND_CHARS, grid_image, short_legend

    long = "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCO"  # 41 characters: two lines, whole
    path = grid_image(["CCO"] * 99 + [long], tmp_path / "g.png", size=200)
    assert Image.open(path).size == (2000, 2000)  # 10 x 10 of 200 px, not 5 columns of 20 rows
    assert short_legend(long) == long[:LEGEND_CHARS] + "\n" + long[LEGEND_CHARS:]
    longer = "C" * 100
    assert short_legend(longer) == "C" * LEGEND_CHARS + "\n" + "C" * (LEGEND_CHARS - 3) + "..."
    assert short_legend("CCO") == "CCO" and short_legend("") == ""


def test_a_grid_of_no_molecules_is_refused_by_name(tmp_path):
    from grammarvae.chem import grid_image

    with pytest.raises(ValueError, match=r"empty\.png: no molecules to draw"):
        grid_image([], tmp_path / "empty.png")
    assert not (tmp_path / "empty.png").exists()
