"""Ring sizes the decoder avoids (`MaskedDecoder(avoid_rings=)`): the graph distances it
tracks against RDKit's, the soft rule in decodes of any logits, and the option through the
library and the command line."""

import numpy as np
import pytest
from rdkit import Chem

from grammarvae import GrammarVAE
from grammarvae.cli.main import main
from grammarvae.data import encode_smiles
from grammarvae.decoding import N_LABELS, MaskedDecoder
from grammarvae.decoding.decoder import RING_SIZES, ring_sizes
from grammarvae.decoding.state import DISTANCE_ATOMS, NO_PATH
from grammarvae.grammar import Grammar

# Fused, bridged, spiro, caged and macrocyclic rings, and rings closed by several labels on one atom.
RINGS = ["c1ccc2ccccc2c1", "C1CC2CCC1C2", "C12(CCCC1)CCCC2", "C1CCCCCCCCCC1", "C12C3C4C1C5C2C3C45",
         "c1ccc2c(c1)ccc1ccccc12", "C1CC2(C1)CC1(C2)CC1", "O=C1NC2=C(N1)C(=O)NC(=O)N2", "C1=CC2=CC=C1C=C2",
         "CN1CCC[C@H]1c1cccnc1", "OC(=O)C1CCCCC1"]


@pytest.fixture(scope="module")
def grammar():
    return Grammar.load("zinc")


def test_the_spec_names_sizes_and_open_ended_ranges():
    table = ring_sizes("4, 8+")
    assert np.flatnonzero(table).tolist() == [4] + list(range(8, RING_SIZES))
    assert ring_sizes(None) is None and ring_sizes("none") is None
    for bad in ("2", "4,x", "8++", "", str(RING_SIZES)):
        with pytest.raises(ValueError, match="ring size .* a size of 3 to"):
            ring_sizes(bad)


def test_distances_are_the_molecules_own(grammar):
    """Fed the derivations of molecules whose rings fuse, bridge and share atoms, the state's
    atom distances at the end are RDKit's distance matrix of the molecule written."""
    dec = MaskedDecoder(grammar, avoid_rings=f"{RING_SIZES - 1}")  # tracked, never met
    X = encode_smiles(RINGS, 277, grammar).X
    state = dec.start(len(X), X.shape[1])
    while not state.all_finished:
        state.advance(X[state.batch_row, state.t])
    ids, drop = state.result()
    for i, smiles in enumerate(RINGS):
        mol = Chem.MolFromSmiles(grammar.unparse(ids[i], skip_steps=set(drop[i])))
        assert Chem.MolToSmiles(mol) == Chem.MolToSmiles(Chem.MolFromSmiles(smiles))
        n = mol.GetNumAtoms()
        np.testing.assert_array_equal(state.distance[i, :n, :n], Chem.GetDistanceMatrix(mol).astype(int))
        assert (state.distance[i, n:, :n] == NO_PATH).all()


def _small_rings(smiles):
    """Per molecule: its smallest ring (0: none; -1 for one of DISTANCE_ATOMS atoms or more,
    whose distances are not all tracked)."""
    out = []
    for s in smiles:
        mol = Chem.MolFromSmiles(s)
        assert mol is not None, s
        small = min((len(r) for r in mol.GetRingInfo().AtomRings()), default=0)
        out.append(small if mol.GetNumAtoms() < DISTANCE_ATOMS else -1)
    return np.array(out)


@pytest.mark.parametrize("greedy", [True, False])
def test_no_avoided_ring_closes_in_decodes_of_random_logits(grammar, greedy):
    """Random logits (any weights): every decode valid, and with 3- and 4-rings avoided, only
    molecules that had to close one (every ring label in use) hold one, where the same logits
    without the preference give many. (A ring of 3 or 4 atoms holds a bond that, when it
    closed, closed a ring of at most that size.)"""
    logits = np.random.default_rng(5).normal(scale=3.0, size=(300, 277, grammar.n_productions)).astype("float32")
    plain = _small_rings(MaskedDecoder(grammar).decode(logits, greedy=greedy, seed=0))
    dec = MaskedDecoder(grammar, avoid_rings="3,4")
    state, rng, forced = dec.start(len(logits), 277), np.random.default_rng(0), set()
    while not state.all_finished:
        state.drop_finished()
        if (state.n_open == N_LABELS).any():
            forced |= set(state.batch_row[state.n_open == N_LABELS].tolist())
        state.advance(state.choose(logits[state.batch_row, state.t], greedy=greedy, rng=rng))
    smiles = dec.to_smiles(*state.result())
    small = _small_rings(smiles)
    assert np.isin(plain, (3, 4)).sum() > 10 and len(small) == len(plain) > 100
    assert set(np.flatnonzero(np.isin(small, (3, 4)))) <= forced, "a ring avoided though a label was free"


def test_prior_samples_avoid_4_and_8_plus_rings_by_default():
    """The bundled ZINC model's prior samples: by default as with "4,8+", with fewer 4- and
    8+-rings than with no preference."""
    model = GrammarVAE.pretrained("zinc")
    assert model.default_avoid_rings == "4,8+"
    default, plain = model.sample(200, seed=3), model.sample(200, seed=3, avoid_rings="none")
    assert default == model.sample(200, seed=3, avoid_rings="4,8+") and default != plain

    def odd(smiles):
        mols = [Chem.MolFromSmiles(s) for s in smiles]  # held: ring info lives in its molecule
        sizes = [{len(r) for r in mol.GetRingInfo().AtomRings()} for mol in mols]
        return sum(4 in x or max(x, default=0) >= 8 for x in sizes)

    assert odd(default) < odd(plain)
    assert model.sample_around("c1ccccc1CC1CCC1", n=5, seed=0) == model.sample_around(
        "c1ccccc1CC1CCC1", n=5, seed=0, avoid_rings="none")  # neighbours: no preference by default


def test_a_plain_text_model_refuses_a_ring_preference(capsys):
    model = GrammarVAE.pretrained("equations")
    assert model.default_avoid_rings == "none" and len(model.sample(3, seed=0)) == 3
    with pytest.raises(ValueError, match="avoid_rings is for molecules; this model's language is plain text"):
        model.sample(3, avoid_rings="4")
    assert main(["sample", "-n", "3", "--model", "equations", "--avoid-rings", "4"]) == 2
    assert "--avoid-rings is for molecule models" in capsys.readouterr().err


def test_the_command_line_checks_the_sizes(capsys):
    with pytest.raises(SystemExit) as e:
        main(["sample", "-n", "3", "--avoid-rings", "4,2"])
    assert e.value.code == 2
    assert "argument --avoid-rings: ring size '2' in '4,2'" in capsys.readouterr().err
