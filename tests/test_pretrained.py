"""The bundled model: loads offline in safe mode, samples valid molecules, and reconstructs
held-out molecules better than two baselines measured in the same test: its own decodes of
other molecules' latents (shuffled latents) and an untrained model of the same network."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from conftest import shared_file
from grammarvae import GrammarVAE
from grammarvae.data import split_indices


@pytest.fixture(scope="module")
def model():
    return GrammarVAE.pretrained()


def test_bundled_model_loads_in_safe_mode(model):
    assert isinstance(model, GrammarVAE)
    assert model.preset == "small" and model.latent_dim == 56 and model.max_len == 160


def test_prior_samples_are_all_valid(model):
    smiles = model.sample(100, seed=0)
    assert len(smiles) == 100
    assert all(s and Chem.MolFromSmiles(s) is not None for s in smiles)
    assert model.decode_stats.invalid == 0
    assert smiles == model.sample(100, seed=0)


def heldout(n: int) -> list[str]:
    """The first n molecules of the bundled model's validation split (never trained on)."""
    from grammarvae.io import read_smiles

    rows = read_smiles(shared_file("moses/train.csv.gz"))
    assert len(rows) == 1_584_663  # every row encodes, so the split is over all of them
    _, val = split_indices(len(rows), 0.01, seed=0)
    return [rows[i].smiles for i in val[:n]]


def similarities(inputs, decoded) -> np.ndarray:
    """Tanimoto similarity (Morgan radius 2, 2,048 bits) of each input to its decode."""
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    fp = lambda s: gen.GetFingerprint(Chem.MolFromSmiles(s))  # noqa: E731
    return np.array([DataStructs.TanimotoSimilarity(fp(a), fp(b)) for a, b in zip(inputs, decoded)])


def _clearly_above(a: np.ndarray, b: np.ndarray) -> bool:
    """Paired: the mean of a - b exceeds four standard errors."""
    d = a - b
    return d.mean() > 4 * d.std(ddof=1) / np.sqrt(len(d))


def test_reconstruction_beats_shuffled_latents_and_an_untrained_model(model):
    mols = heldout(100)
    z = model.encode(mols)
    decoded = model.decode(z)
    assert all(Chem.MolFromSmiles(s) is not None for s in decoded)
    own = similarities(mols, decoded)
    shuffled = similarities(mols, model.decode(z[np.random.default_rng(0).permutation(len(z))]))
    untrained = GrammarVAE(preset=model.preset, decoder=model.decoder_kind, seed=0)
    blank = similarities(mols, untrained.decode(untrained.encode(mols)))
    assert _clearly_above(own, shuffled) and _clearly_above(own, blank)
    exact = sum(Chem.CanonSmiles(a) == Chem.CanonSmiles(b) for a, b in zip(mols, decoded))
    assert exact > (shuffled == 1).sum() and exact > (blank == 1).sum()


def test_neighbours_resemble_the_molecule_more_than_prior_samples_do(model):
    seed = "CN1C(=O)CN=C(c2ccccc2)c2cc(Cl)ccc21"  # diazepam
    around = model.sample_around(seed, n=50, seed=0)
    prior = model.sample(50, seed=0)
    assert _clearly_above(similarities([seed] * 50, around), similarities([seed] * 50, prior))
    assert len(set(around)) > 25  # neighbours, not the molecule's decode over and over


def test_distinct_neighbours_are_neither_the_molecule_nor_each_other(model):
    from rdkit import Chem

    seed = "CC(=O)Nc1ccc(O)cc1"
    plain = model.sample_around(seed, n=12, scale=1.0, seed=0)
    assert len(set(plain)) < 12 or Chem.CanonSmiles(seed) in plain  # near the molecule, repeats are the rule
    found = model.sample_around(seed, n=12, scale=1.0, seed=0, distinct=True)
    assert 0 < len(found) <= 12 and len(set(found)) == len(found) and Chem.CanonSmiles(seed) not in found
    assert found == model.sample_around(seed, n=12, scale=1.0, seed=0, distinct=True)  # the same seed, the same
    assert found[0] in plain  # the first round is the plain draw, kept in order
