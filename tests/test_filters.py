"""Filters on generated molecules: each flags the textbook cases it is named for and passes
ordinary drugs; sampling with filters gives only molecules that pass, reproducibly."""

from __future__ import annotations

import pytest

from grammarvae.filters import FILTERS, check_names, failed, keep

CASES = [
    ("c1ccccc1O", []),                                   # phenol
    ("CC(C)Cc1ccc(C(C)C(=O)O)cc1", []),                  # ibuprofen
    ("CC(=O)Nc1ccc(O)cc1", ["brenk"]),                   # paracetamol: a para-aminophenol, Brenk's "hydroquinone"
    ("C1CC1CO", ["ring34"]),                             # cyclopropylmethanol
    ("C1=CC=C1", ["ring34", "antiaromatic"]),            # cyclobutadiene
    ("C1=CC=N1", ["ring34", "antiaromatic"]),            # azete
    ("C1=CC=CC=CC=C1", ["ring8", "antiaromatic"]),       # cyclooctatetraene
    ("C1CCCCCCC1", ["ring8"]),                           # cyclooctane: large, not antiaromatic
    ("O=C1NC(=S)SC1=Cc1ccccc1", ["pains", "brenk"]),     # a 5-benzylidene rhodanine: PAINS ene_rhod
    ("CC(=O)Cl", ["brenk"]),                             # an acyl chloride: reactive
]


@pytest.mark.parametrize("smiles, fails", CASES)
def test_each_filter_flags_what_it_is_named_for(smiles, fails):
    assert failed(smiles, list(FILTERS)) == fails


def test_names_all_and_unknown():
    assert check_names(["all"]) == list(FILTERS) and check_names(["ring8", "ring8"]) == ["ring8"]
    with pytest.raises(ValueError, match="no filter 'rings'; the filters are pains, brenk, ring34, ring8, antiaromatic"):
        check_names(["rings"])
    assert keep(["c1ccccc1O", "C1=CC=C1", "not a molecule"], ["all"]) == [True, False, False]


def test_filtered_samples_pass_and_repeat_with_the_seed():
    from grammarvae import GrammarVAE

    m, names = GrammarVAE.pretrained("moses"), ["ring34", "ring8", "antiaromatic"]
    plain = m.sample(30, seed=4)
    passed = m.sample(30, seed=4, filters=names)
    assert len(passed) == 30 and all(keep(passed, names))
    first_round = [s for s, ok in zip(plain, keep(plain, names)) if ok]
    assert len(first_round) < 30 and passed[:len(first_round)] == first_round  # the plain draw first, in order
    assert passed == m.sample(30, seed=4, filters=names)
