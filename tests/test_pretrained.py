"""The bundled models, each: loads offline in safe mode, samples valid molecules, and
reconstructs held-out molecules better than two baselines measured in the same test: its own
decodes of other molecules' latents (shuffled latents) and an untrained model of the same
network. The ZINC model, the default, also gives back charges and stereo marks."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from conftest import shared_file
from grammarvae import GrammarVAE
from grammarvae.data import split_indices


STEPS = {"moses": 160, "zinc": 277}  # every MOSES molecule fits 160 steps, every ZINC-250k one 277


@pytest.fixture(scope="module", params=sorted(STEPS))
def model(request):
    m = GrammarVAE.pretrained(request.param)
    m.bundled_name = request.param
    return m


def test_bundled_model_loads_in_safe_mode(model):
    assert isinstance(model, GrammarVAE)
    assert model.preset == "small" and model.latent_dim == 56 and model.max_len == STEPS[model.bundled_name]


def test_the_default_is_the_zinc_model():
    """The default is the model that gives back more of what users bring (README): ZINC's,
    which saw charges and stereo marks and so prepares nothing away."""
    default = GrammarVAE.pretrained()
    assert default.max_len == 277 and GrammarVAE.named(None).max_len == 277
    assert default.preparation() == (False, False)
    assert GrammarVAE.pretrained("moses").preparation() == (True, True)


def test_prior_samples_are_all_valid(model):
    smiles = model.sample(100, seed=0)
    assert len(smiles) == 100
    assert all(s and Chem.MolFromSmiles(s) is not None for s in smiles)
    assert model.decode_stats.invalid == 0
    assert smiles == model.sample(100, seed=0)


def heldout(name: str, n: int) -> list[str]:
    """n molecules the bundled model never trained on: the first of the MOSES model's
    validation split, or of the ZINC-250k test split (zinc250k_part_b, JT-VAE's)."""
    from grammarvae.io import read_smiles

    if name == "zinc":
        return [r.smiles for r in read_smiles(shared_file("zinc/zinc250k_part_b.smi.gz"))[:n]]
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
    mols = heldout(model.bundled_name, 100)
    z = model.encode(mols)
    decoded = model.decode(z)
    assert all(Chem.MolFromSmiles(s) is not None for s in decoded)
    own = similarities(mols, decoded)
    shuffled = similarities(mols, model.decode(z[np.random.default_rng(0).permutation(len(z))]))
    untrained = GrammarVAE(preset=model.preset, decoder=model.decoder_kind, max_len=model.max_len, seed=0)
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


def test_the_zinc_model_gives_back_charges_and_stereo_marks():
    """Of held-out ZINC molecules with a formal charge or a stereo mark, some come back
    exactly, marks included; an untrained model of the same network gives back none."""
    mols = [s for s in heldout("zinc", 300) if "@" in s or "/" in s or "\\" in s or "+" in s or "-]" in s][:60]
    assert len(mols) == 60
    canon = [Chem.CanonSmiles(s) for s in mols]
    model = GrammarVAE.pretrained("zinc")
    back = [Chem.CanonSmiles(s) for s in model.decode(model.encode(mols))]
    untrained = GrammarVAE(preset="small", decoder="autoregressive", max_len=277, seed=0)
    blank = [Chem.CanonSmiles(s) for s in untrained.decode(untrained.encode(mols))]
    exact = [a for a, b in zip(canon, back) if a == b]
    assert sum(a == b for a, b in zip(canon, blank)) == 0
    assert any("@" in s for s in exact) and any("+" in s or "-]" in s for s in exact)
