"""Bad numbers and bad input are refused or reported, never decoded to junk or crashed on
(issue: nothing a user types crashes it or loses work)."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import numpy as np
import pytest

from grammarvae import GrammarError, GrammarVAE
from grammarvae.cli.main import main


@pytest.fixture(scope="module")
def tiny():
    return GrammarVAE(preset="tiny", seed=0)


def test_a_very_long_smiles_is_refused_before_rdkit_reads_it(tiny):
    t = time.perf_counter()
    with pytest.raises(GrammarError, match="20,000 characters: longer than any molecule that fits the model's 160"):
        tiny.encode(["C" * 20000])
    Z, errors = tiny.encode_checked(["CCO", "C" * 20000, "CCN"])[:2]
    assert time.perf_counter() - t < 5  # RDKit alone takes 17 s on 15,000 atoms
    assert np.isfinite(Z[[0, 2]]).all() and np.isnan(Z[1]).all()
    assert errors[0][0] == 1 and "characters" in errors[0][2]


def test_the_long_smiles_no_longer_kills_the_cli(tmp_path):
    """It segfaulted (exit 139) in RDKit's canonicalisation: run as a real process."""
    data = tmp_path / "long.smi"
    data.write_text("CCO\n" + "C" * 20000 + "\n")
    model = tmp_path / "tiny.keras"
    GrammarVAE(preset="tiny", seed=0).save(model)
    r = subprocess.run([sys.executable, "-m", "grammarvae.cli.main", "encode", str(data), "-o", str(tmp_path / "z.npy"),
                        "--model", str(model)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stderr[-2000:]
    assert "long.smi:2:" in r.stderr and "20,000 characters" in r.stderr and "Traceback" not in r.stderr
    line = next(l for l in r.stderr.splitlines() if "long.smi:2:" in l)
    assert len(line) < 400 and "C" * 81 not in line  # the input is quoted cut, not 20,000 characters
    Z = np.load(tmp_path / "z.npy")
    assert Z.shape == (2, 8) and np.isfinite(Z[0]).all() and np.isnan(Z[1]).all()


def test_non_finite_latents_and_numbers_are_refused(tiny):
    z = np.zeros((4, tiny.latent_dim), dtype="float32")
    z[1, 3], z[3, 0] = np.inf, np.nan
    with pytest.raises(ValueError, match=r"latent rows 1, 3 are not finite \(NaN or inf\): 2 of 4"):
        tiny.decode(z)
    with pytest.raises(ValueError, match="scale must be a finite number >= 0, got nan"):
        tiny.sample_around("CCO", scale=float("nan"))
    with pytest.raises(ValueError, match="temperature must be a positive number, got 0"):
        tiny.decode(z[:1], greedy=False, temperature=0)


def test_a_model_with_nan_weights_refuses_to_encode_or_decode(tmp_path, capsys):
    m = GrammarVAE(preset="tiny", seed=1, decoder="autoregressive")
    m.set_weights([np.full_like(w, np.nan) for w in m.get_weights()])
    with pytest.raises(ValueError, match="encoder's outputs are not finite"):
        m.encode(["CCO"])
    with pytest.raises(ValueError, match="decoder's outputs are not finite"):
        m.decode(np.zeros((2, m.latent_dim), dtype="float32"))
    one_shot = GrammarVAE(preset="tiny", seed=1)
    one_shot.set_weights([np.full_like(w, np.nan) for w in one_shot.get_weights()])
    with pytest.raises(ValueError, match="decoder's outputs are not finite"):
        one_shot.decode(np.zeros((2, one_shot.latent_dim), dtype="float32"))
    path = tmp_path / "nan.keras"
    one_shot.save(path)
    assert main(["sample", "-n", "3", "--model", str(path)]) == 2
    err = capsys.readouterr().err
    assert "decoder's outputs are not finite" in err and err.count("\n") == 1


def test_decode_cli_reports_each_non_finite_row_and_writes_the_rest(tmp_path, capsys):
    model = tmp_path / "tiny.keras"
    GrammarVAE(preset="tiny", seed=0).save(model)
    z = np.random.default_rng(0).normal(size=(3, 8)).astype("float32")
    z[1, 2] = np.inf
    np.save(tmp_path / "z.npy", z)
    assert main(["decode", str(tmp_path / "z.npy"), "--model", str(model), "-o", str(tmp_path / "out.smi")]) == 1
    err = capsys.readouterr().err
    assert "z.npy: row 2: latent not finite (inf, or NaN in part of it), left empty" in err
    lines = (tmp_path / "out.smi").read_text().split("\n")
    assert lines[0] and lines[1] == "" and lines[2]


def test_a_diverging_run_stops_and_keeps_the_good_checkpoint(tmp_path):
    from grammarvae.train import TrainingDiverged, train

    data = tmp_path / "d.smi"
    data.write_text("\n".join(["CCO", "CCN", "CCC", "c1ccccc1", "CC(=O)O", "CCOC", "CNC", "C1CCCCC1"] * 10))
    out = tmp_path / "m.keras"
    train(data, out, preset="tiny", epochs=1, batch_size=16, verbose=0)
    good = out.read_bytes()
    with pytest.raises(TrainingDiverged, match="the loss became NaN or inf in epoch 1; training stopped"):
        train(data, out, preset="tiny", epochs=3, batch_size=16, verbose=0, resume=True, learning_rate=1e6)
    assert out.read_bytes() == good  # never overwritten by NaN weights
    assert not (tmp_path / "m.backup").exists()  # nor left to be restored by --resume
    weights = GrammarVAE.load(out).get_weights()
    assert all(np.isfinite(w).all() for w in weights)


SMILES = ["CCO", "CCN", "CCC", "c1ccccc1", "CC(=O)O", "CCOC", "CNC", "C1CCCCC1"]


@pytest.mark.parametrize("extra, message", [
    (["--val-split", "1.5"], "argument --val-split: 1.5 is not in [0, 1)"),
    (["--val-split", "-0.5"], "argument --val-split: -0.5 is not in [0, 1)"),
    (["--steps-per-epoch", "-3"], "argument --steps-per-epoch: -3 is below 1"),
    (["--batch-size", "0"], "argument --batch-size: 0 is below 1"),
    (["--learning-rate", "nan"], "argument --learning-rate: nan is not a finite number > 0"),
    (["--epochs", "0"], "argument --epochs: 0 is below 1"),
    (["--mmd-weight", "-1"], "argument --mmd-weight: -1 is not a finite number >= 0"),
])
def test_bad_training_settings_are_refused_before_any_work(tmp_path, capsys, extra, message):
    data = tmp_path / "d.smi"
    data.write_text("\n".join(SMILES * 4))
    with pytest.raises(SystemExit) as e:  # argparse's own refusal, before TensorFlow is imported
        main(["train", str(data), "-o", str(tmp_path / "m.keras"), "--preset", "tiny"] + extra)
    err = capsys.readouterr().err
    assert e.value.code == 2 and message in err and err.count("\n") == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.smi"]  # nothing written


@pytest.mark.parametrize("setting, message", [
    (dict(val_split=1.5), "validation split must be in [0, 1), got 1.5"),
    (dict(steps_per_epoch=-3), "steps per epoch must be at least 1, got -3"),
    (dict(batch_size=0), "batch size must be at least 1, got 0"),
    (dict(learning_rate=float("nan")), "learning rate must be a positive number, got nan"),
    (dict(epochs=0), "epochs must be at least 1, got 0"),
    (dict(beta=-1.0), "beta must be a number >= 0, got -1.0"),
])
def test_the_library_refuses_bad_training_settings_before_any_work(tmp_path, setting, message):
    from grammarvae.train import train

    data = tmp_path / "d.smi"
    data.write_text("\n".join(SMILES * 4))
    with pytest.raises(ValueError, match=re.escape(message)):
        train(data, tmp_path / "m.keras", preset="tiny", **setting)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.smi"]


def test_training_inputs_and_output_folders(tmp_path, capsys):
    empty = tmp_path / "bad.smi"
    empty.write_text("not a smiles\nC1CC\n")
    assert main(["train", str(empty), "-o", str(tmp_path / "m.keras"), "--preset", "tiny"]) == 2
    assert "bad.smi: no SMILES in it could be encoded" in capsys.readouterr().err
    assert not (tmp_path / "m.keras").exists()
    assert main(["train", str(empty), "-o", str(tmp_path / "missing" / "m.keras"), "--preset", "tiny"]) == 2
    err = capsys.readouterr().err
    assert f"no such folder {tmp_path / 'missing'}" in err and not (tmp_path / "missing").exists()


def test_a_new_input_is_not_served_from_the_old_cache(tmp_path):
    from grammarvae.train import train

    first, second = tmp_path / "a.smi", tmp_path / "b.smi"
    first.write_text("\n".join(SMILES * 10))
    second.write_text("\n".join(SMILES[:4] * 5))
    out = tmp_path / "m.keras"
    train(first, out, preset="tiny", epochs=1, batch_size=16, verbose=0)
    train(second, out, preset="tiny", epochs=1, batch_size=16, verbose=0)
    import json

    info = json.loads((tmp_path / "m.train.json").read_text())
    assert info["train_rows"] + info["val_rows"] == 20  # the second file's rows, not the first's 80
    assert len((tmp_path / "m.log.csv").read_text().strip().splitlines()) == 2  # a new log: header + 1 epoch
    with pytest.raises(ValueError, match="a.smi: not the input this run was trained on"):
        train(first, out, preset="tiny", epochs=2, batch_size=16, verbose=0, resume=True)


def test_the_same_content_elsewhere_is_the_same_input(tmp_path):
    """The cache is keyed by content: a data set copied to another machine (new path, new
    modification time) resumes; a file of the same size with other content does not."""
    import os
    import shutil

    from grammarvae.train import train

    first = tmp_path / "a.smi"
    first.write_text("\n".join(SMILES * 10))
    out = tmp_path / "m.keras"
    train(first, out, preset="tiny", epochs=1, batch_size=16, verbose=0)
    moved = tmp_path / "elsewhere" / "a.smi"
    moved.parent.mkdir()
    shutil.copy(first, moved)
    os.utime(moved, ns=(1, 1))
    train(moved, out, preset="tiny", epochs=2, batch_size=16, verbose=0, resume=True)
    assert len((tmp_path / "m.log.csv").read_text().strip().splitlines()) == 3  # header + epochs 0 and 1
    other = tmp_path / "b.smi"
    other.write_text(first.read_text().replace("CCO", "OCC"))  # same size, other molecules
    assert other.stat().st_size == first.stat().st_size
    with pytest.raises(ValueError, match="b.smi: not the input this run was trained on"):
        train(other, out, preset="tiny", epochs=3, batch_size=16, verbose=0, resume=True)


def test_a_log_that_does_not_match_its_header_stops_a_resume_before_any_work(tmp_path):
    """Keras's CSVLogger appended rows longer than the header when a column appeared; such a
    log used to crash the resumed run at the end of its first epoch."""
    from grammarvae.train import train

    data = tmp_path / "d.smi"
    data.write_text("\n".join(SMILES * 10))
    out = tmp_path / "m.keras"
    train(data, out, preset="tiny", epochs=1, batch_size=16, verbose=0)
    log = tmp_path / "m.log.csv"
    log.write_text(log.read_text() + "1,0.5,2.0,3.0,4.0,5.0,6.0,7.0,8.0,9.0,10.0,11.0\n")
    before = out.read_bytes()
    with pytest.raises(ValueError, match=r"m.log.csv: line 3 does not match the header \(epoch, "):
        train(data, out, preset="tiny", epochs=3, batch_size=16, verbose=0, resume=True)
    assert out.read_bytes() == before


def test_encode_then_decode_passes_failed_inputs_through_as_empty_rows(tmp_path, capsys):
    from grammarvae.io import read_smiles

    model = tmp_path / "tiny.keras"
    GrammarVAE(preset="tiny", seed=0).save(model)
    (tmp_path / "in.smi").write_text("CCO\nC1CC\nc1ccccc1O\n")
    assert main(["encode", str(tmp_path / "in.smi"), "-o", str(tmp_path / "z.npy"), "--model", str(model)]) == 1
    capsys.readouterr()
    assert main(["decode", str(tmp_path / "z.npy"), "--model", str(model), "-o", str(tmp_path / "out.smi")]) == 0
    err = capsys.readouterr().err
    assert "1 of 3 rows are NaN (inputs encode could not read): left empty" in err
    lines = (tmp_path / "out.smi").read_text().split("\n")
    assert lines[0] and lines[1] == "" and lines[2] and lines[3] == ""
    # sampled: one molecule a line with its row, read back by the package as a CSV
    assert main(["decode", str(tmp_path / "z.npy"), "--model", str(model), "--samples", "3",
                 "-o", str(tmp_path / "s.csv")]) == 0
    rows = read_smiles(tmp_path / "s.csv")
    assert len(rows) == 7 and rows[3].smiles == ""  # 3 + 1 (the failed row, empty) + 3
    text = (tmp_path / "s.csv").read_text().splitlines()
    assert [t.split(",")[0] for t in text] == ["row", "1", "1", "1", "2", "3", "3", "3"]
