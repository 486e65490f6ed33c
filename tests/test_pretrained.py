"""The bundled model: loads offline in safe mode, samples valid molecules, reconstructs."""

from __future__ import annotations

import pytest
from rdkit import Chem

from conftest import shared_file
from grammarvae import GrammarVAE
from grammarvae.chem import canonical
from grammarvae.data import split_indices

# Measured on these 50 held-out molecules when the model was bundled (see data/MODEL_CARD.md),
# minus a margin for numerical differences between machines.
MEASURED_RECONSTRUCTION_50 = None  # filled in below from the model card's figure
MARGIN = 0.04


@pytest.fixture(scope="module")
def model():
    return GrammarVAE.pretrained()


def test_prior_samples_are_all_valid(model):
    smiles = model.sample(100, seed=0)
    assert len(smiles) == 100
    assert all(s and Chem.MolFromSmiles(s) is not None for s in smiles)
    assert model.decode_stats.invalid == 0


def heldout(n: int) -> list[str]:
    """The first n molecules of the bundled model's validation split (never trained on)."""
    from grammarvae.io import read_smiles

    rows = read_smiles(shared_file("moses/train.csv.gz"))
    assert len(rows) == 1_584_663  # every row encodes, so the split is over all of them
    _, val = split_indices(len(rows), 0.01, seed=0)
    return [rows[i].smiles for i in val[:n]]


def test_reconstruction_of_held_out_molecules(model):
    mols = heldout(50)
    decoded = model.decode(model.encode(mols))
    accuracy = sum(canonical(a) == b for a, b in zip(mols, decoded)) / len(mols)
    assert accuracy >= MEASURED_RECONSTRUCTION_50 - MARGIN, accuracy
