"""What a model saw in training (`grammarvae.scope`), what it removes from its input by
default, and how it says a molecule holds what it never saw."""

from __future__ import annotations

import csv
import warnings

import numpy as np
import pytest

from grammarvae.chem import standardize
from grammarvae.cli.main import main
from grammarvae.data import encode_smiles
from grammarvae.grammar import Grammar
from grammarvae.models.gvae import GrammarVAE
from grammarvae.reconstruct import reconstruct
from grammarvae.scope import UnseenWarning, describe, productions_used, writes_charges, writes_stereo
from grammarvae.train import train

G = Grammar.load("zinc")
ALANINATE = "C[C@H](N)C(=O)[O-]"  # a stereocentre and a charge a proton can neutralise
QUAT = "C[N+](C)(C)C"  # a charge nothing can take away


def _ids(*names: str) -> list[int]:
    """Production ids whose rule, as text, is one of `names`."""
    return [i for i, p in enumerate(G.productions) if str(p) in names]


def _all_but(*lhs: str, bonds: tuple[str, ...] = ()) -> list[int]:
    return [i for i, p in enumerate(G.productions)
            if str(p.lhs()) not in lhs and not (str(p.lhs()) == "bond" and p.rhs()[0] in bonds)]


@pytest.fixture(scope="module")
def model():
    return GrammarVAE(preset="tiny", decoder="autoregressive", seed=0)


def test_productions_used_are_those_the_derivations_hold():
    smiles = ["CCO", "C[NH3+]", "C/C=C/Cl", "c1ccccc1"]
    X = encode_smiles(smiles, 60, G).X
    expected = sorted({i for s in smiles for i in G.parse(standardize(s, kekule=True))} | {G.pad})
    assert productions_used(X, G.n_productions) == expected
    assert productions_used(X, G.n_productions, rows=np.array([0]), chunk=1) == sorted(
        set(G.parse("CCO")) | {G.pad})
    assert describe(G, _ids("charge -> '+'", "chiral -> '@'")) == "charge -> '+', chiral -> '@'"


def test_charge_and_stereo_productions_are_recognised():
    assert writes_charges(G, _ids("charge -> '-'")) and not writes_charges(G, _all_but("charge"))
    assert writes_stereo(G, _ids("chiral -> '@@'")) and writes_stereo(G, _ids("bond -> '/'"))
    assert not writes_stereo(G, _all_but("chiral", bonds=("/", "\\")))


def test_a_model_removes_by_default_only_what_it_never_saw(model):
    model.trained_productions = None  # records nothing: keeps everything
    assert model.preparation() == (False, False)
    model.trained_productions = _all_but("charge", "chiral", bonds=("/", "\\"))  # a MOSES-like model
    assert model.preparation() == (True, True)
    assert model.preparation(neutralize=False, strip_stereo=False) == (False, False)
    model.trained_productions = list(range(G.n_productions))  # a ZINC-like model
    assert model.preparation() == (False, False)
    assert model.preparation(True, True) == (True, True)


def test_preparation_neutralises_and_strips_stereo_and_lists_what_it_changed():
    res = encode_smiles([ALANINATE, "CCO", QUAT, "C/C=C/C"], 60, G, neutralize=True, strip_stereo=True)
    assert res.ok.all()
    assert [standardize(s) for s in res.standard] == ["CC(N)C(=O)O", "CCO", QUAT, "CC=CC"]
    assert res.prepared == [(0, ALANINATE, "charges and stereo marks removed: encoded CC(N)C(=O)O"),
                            (3, "C/C=C/C", "stereo marks removed: encoded CC=CC")]
    kept = encode_smiles([ALANINATE], 60, G)
    assert kept.prepared == [] and standardize(kept.standard[0]) == ALANINATE


def test_a_molecule_holding_what_the_model_never_saw_is_named_with_a_warning(model):
    model.trained_productions = _all_but("charge", "chiral", bonds=("/", "\\"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.to_ids(["CCO", QUAT, ALANINATE])
    messages = [str(w.message) for w in caught if issubclass(w.category, UnseenWarning)]
    # the quaternary ammonium keeps its charge; the alaninate lost both (the default here)
    assert messages == [f"'{QUAT}': holds what the model never saw in training (charge -> '+'): "
                        "it may not come back as written"]
    res = model.encode_checked(["CCO", QUAT, ALANINATE], neutralize=False, strip_stereo=False)
    assert res.unseen == [(1, QUAT, "charge -> '+'"), (2, ALANINATE, "charge -> '-', chiral -> '@'")]
    assert res.prepared == []
    model.trained_productions = None
    assert model.encode_checked([QUAT]).unseen == []


def test_reconstruct_compares_with_what_was_encoded_and_notes_it(model):
    model.trained_productions = _all_but("charge", "chiral", bonds=("/", "\\"))
    rows = reconstruct(model, [ALANINATE, "CCO"])
    assert rows[0].encoded == "CC(N)C(=O)O"
    assert rows[0].note == "charges and stereo marks removed: encoded CC(N)C(=O)O"
    assert rows[1].note is None and rows[1].encoded == "CCO"
    assert reconstruct(model, [ALANINATE], neutralize=False, strip_stereo=False)[0].encoded == ALANINATE


def test_training_records_the_productions_of_its_training_rows_and_keeps_them_across_runs(tmp_path):
    first, second = tmp_path / "a.smi", tmp_path / "b.smi"
    first.write_text("\n".join(["CCO", "CCN", "CCC", "CC(=O)O", "CCOC", "CNC", "C1CCCCC1", "CCCl"] * 4))
    second.write_text("\n".join(["C[NH3+]", "CC[O-]", "C[C@H](O)CC", "CCCO"] * 8))
    common = dict(batch_size=8, val_split=0.25, verbose=0, epochs=1, preset="tiny", decoder="autoregressive")
    train(first, tmp_path / "a.keras", **common)
    split = np.load(tmp_path / "a.split.npz")
    rows = first.read_text().split()
    used = {G.pad} | {i for r in split["train"] for i in G.parse(standardize(rows[r], kekule=True))}
    a = GrammarVAE.load(tmp_path / "a.keras")
    assert a.trained_productions == sorted(used)
    assert a.preparation() == (True, True)  # it saw neither charges nor stereo
    train(second, tmp_path / "b.keras", init_from=tmp_path / "a.keras", **{**common, "val_split": 0.01})
    b = GrammarVAE.load(tmp_path / "b.keras")
    assert set(a.trained_productions) < set(b.trained_productions)
    assert b.preparation() == (False, False)


def test_cli_encode_and_reconstruct_say_what_was_removed_and_what_the_model_never_saw(tmp_path, capsys, model):
    model.trained_productions = _all_but("charge", "chiral", bonds=("/", "\\"))
    path = tmp_path / "m.keras"
    model.save(path)
    smi = tmp_path / "in.smi"
    smi.write_text(f"CCO\n{ALANINATE}\n{QUAT}\n")
    assert main(["encode", str(smi), "-o", str(tmp_path / "z.npy"), "--errors", str(tmp_path / "e.csv"),
                 "--model", str(path)]) == 0
    err = capsys.readouterr().err
    assert f"in.smi:2: '{ALANINATE}': charges and stereo marks removed: encoded CC(N)C(=O)O" in err
    assert f"in.smi:3: '{QUAT}': holds what the model never saw in training (charge -> '+')" in err
    assert "1 encoded without their charges or stereo marks" in err and "1 hold what the model never saw" in err
    notes = list(csv.DictReader(open(tmp_path / "e.csv")))
    assert [r["line"] for r in notes] == ["2", "3"]
    assert main(["encode", str(smi), "-o", str(tmp_path / "z.npy"), "--model", str(path),
                 "--no-neutralize", "--no-strip-stereo"]) == 0
    err = capsys.readouterr().err
    assert "removed" not in err and f"'{ALANINATE}': holds what the model never saw in training (charge -> '-', chiral -> '@')" in err
    assert main(["reconstruct", str(smi), "-o", str(tmp_path / "r.csv"), "--model", str(path)]) == 0
    table = list(csv.DictReader(open(tmp_path / "r.csv")))
    assert table[1]["encoded"] == "CC(N)C(=O)O" and table[1]["note"].startswith("charges and stereo marks removed")
    assert table[0]["note"] == ""
    assert main(["parse", QUAT, "--model", str(path)]) == 0
    assert "the model never saw in training: charge -> '+'" in capsys.readouterr().out
