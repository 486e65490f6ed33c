"""Similarity-constrained improvement (JT-VAE's task): the path's bookkeeping against a model whose
decodes are known, the selection rules of `best` and the summary against hand arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from grammarvae.design import Improvement, Step, improve, summarize
from grammarvae.properties import score

# the molecule decoded at a latent point is LADDER[round(z[0])]: a fake model whose decodes are known
LADDER = ["CCO", "CCCO", "CCCO", "CCCCO", "CCO", "CCCCCO", "c1ccccc1O", "CCCCCCO"]


class LadderModel:
    latent_dim = 2

    def __init__(self):
        self.decoded = []

    def encode_checked(self, smiles):
        Z = np.array([[0.0, 0.0] if s == "CCO" else [np.nan, np.nan] for s in smiles], dtype="float32")
        return type("R", (), {"Z": Z})()

    def decode(self, z, greedy=True, temperature=1.0, seed=0):
        self.decoded.append((len(z), greedy, seed))
        rows = np.clip(np.round(np.asarray(z)[:, 0]).astype(int), 0, len(LADDER) - 1)
        return [LADDER[i] if greedy else "CCN" for i in rows]


class UpTheFirstAxis:
    """A property model whose gradient is (1, 0) everywhere."""

    def gradient(self, Z):
        return np.tile([1.0, 0.0], (len(Z), 1))


def _tanimoto(a, b):
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    fa, fb = (gen.GetFingerprint(Chem.MolFromSmiles(s)) for s in (a, b))
    return DataStructs.TanimotoSimilarity(fa, fb)


def test_the_path_holds_each_new_molecule_once_at_the_step_it_first_appears():
    model = LadderModel()
    run, failed = improve(model, ["CCO", "not a molecule"], UpTheFirstAxis(), "logp", steps=7, step_size=1.0)
    # steps 1..7 decode LADDER[1..7]; CCCO twice and CCO (the start) dropped
    assert [(s.smiles, s.step) for s in run.path] == [("CCCO", 1), ("CCCCO", 3), ("CCCCCO", 5),
                                                      ("Oc1ccccc1", 6), ("CCCCCCO", 7)]
    for s in run.path:
        assert s.score == pytest.approx(score([s.smiles], "logp").values[0])
        assert s.similarity == pytest.approx(_tanimoto("CCO", s.smiles))
    assert run.start_score == pytest.approx(score(["CCO"], "logp").values[0])
    assert failed.path == [] and np.isnan(failed.start_score)


def test_several_step_sizes_walk_one_path_each_and_samples_add_decodes():
    model = LadderModel()
    run = improve(model, ["CCO"], UpTheFirstAxis(), "logp", steps=2, step_size=(1.0, 3.0), samples=1, seed=5)[0]
    # size 1: LADDER[1], LADDER[2]; size 3: LADDER[3], LADDER[6]; the sampled decode: CCN
    assert sorted((s.smiles, s.step) for s in run.path) == [("CCCCO", 1), ("CCCO", 1), ("CCN", 1),
                                                            ("Oc1ccccc1", 2)]
    assert [(n, greedy) for n, greedy, _ in model.decoded] == [(4, True), (4, False)]


def test_best_takes_the_highest_score_within_the_similarity_and_above_the_start():
    run = Improvement("CCO", 1.0, [Step("A", 0.5, 0.9, 1), Step("B", 3.0, 0.3, 2), Step("C", 2.0, 0.5, 3)])
    assert run.best(0.0).smiles == "B"
    assert run.best(0.4).smiles == "C"
    assert run.best(0.6) is None          # A is similar enough but no better than the start
    assert Improvement("CCO", 1.0).best(0.0) is None


def test_summary_matches_hand_arithmetic():
    runs = [Improvement("a", 1.0, [Step("x", 3.0, 0.5, 1), Step("y", 5.0, 0.2, 2)]),
            Improvement("b", -1.0, [Step("z", 0.0, 0.7, 1)]),
            Improvement("c", 0.0, [Step("w", -1.0, 0.9, 1)]),
            Improvement("d", float("nan"))]
    at0 = summarize(runs, 0.0)     # gains 4 (y) and 1 (z); c fails; d did not encode
    assert at0["molecules"] == 3 and at0["success"] == pytest.approx(2 / 3)
    assert at0["improvement"] == pytest.approx(2.5) and at0["improvement_std"] == pytest.approx(1.5)
    assert at0["similarity"] == pytest.approx(0.45) and at0["improvement_all"] == pytest.approx(5 / 3)
    at6 = summarize(runs, 0.6)     # only z
    assert at6["success"] == pytest.approx(1 / 3) and at6["improvement"] == pytest.approx(1.0)
    assert at6["improvement_all"] == pytest.approx(1 / 3)
    assert np.isnan(summarize(runs, 0.95)["improvement"])


@pytest.mark.parametrize("kwargs, message", [
    ({"steps": 0}, "steps must be >= 1"),
    ({"step_size": -0.1}, "step_size positive"),
    ({"step_size": ()}, "step_size positive"),
    ({"samples": -1}, "samples >= 0"),
    ({"batch": 0}, "batch must be >= 1"),
])
def test_bad_settings_are_refused_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        improve(LadderModel(), ["CCO"], UpTheFirstAxis(), "logp", **kwargs)


def test_raw_penalized_logp_rises_on_the_bundled_model_along_a_gp_gradient():
    """End to end on the bundled model: with a GP fitted to real latents, the best decode of a
    low-scoring molecule scores above it and is scored as RDKit scores it."""
    from grammarvae import GrammarVAE
    from grammarvae.design import LatentGP

    pretrained = GrammarVAE.pretrained("moses")
    train = ["CCOC(=O)c1ccc(NC(=O)C2CC2)cc1", "Cc1ccc(S(=O)(=O)N2CCCC2)cc1", "O=C(Nc1ccccc1)c1ccco1",
             "CC(C)Cc1ccc(C(C)C(=O)O)cc1", "COc1ccc(CCN)cc1", "Clc1ccc(Cl)c(Cl)c1", "CCCCCCCCc1ccccc1",
             "OCC(O)CO", "NC(=O)CN", "c1ccc2ccccc2c1", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CCOC(=O)c1ccccc1"]
    Z = pretrained.encode(train)
    gp = LatentGP(num_inducing=8, max_iters=50, seed=0).fit(Z, score(train, "penalized_logp_raw").values)
    start = "OCC(O)CO"
    runs = [improve(pretrained, [start], gp, steps=10, step_size=0.05, seed=1)[0] for _ in range(2)]
    assert runs[0].path == runs[1].path          # the same seed, the same molecules
    best = runs[0].best(0.0)
    assert best is not None and best.score > runs[0].start_score
    assert best.score == pytest.approx(score([best.smiles], "penalized_logp_raw").values[0])


def test_a_property_model_needs_two_molecules_that_score():
    from grammarvae import GrammarVAE
    from grammarvae.design import property_model

    with pytest.raises(ValueError, match="at least 2 molecules that encode and score, got 1"):
        property_model(GrammarVAE(preset="tiny", seed=0), "logp", ["CCO", "C1CC"])
