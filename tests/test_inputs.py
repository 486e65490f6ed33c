"""Input files as people have them: a byte-order mark, quoted records over several lines,
a space inside a SMILES cell, standard input; failures named by their line."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from grammarvae.chem import standardize
from grammarvae.cli.main import main
from grammarvae.errors import GrammarError
from grammarvae.io import read_smiles


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    from grammarvae import GrammarVAE

    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    GrammarVAE(preset="tiny", seed=0).save(path)
    return str(path)


def test_a_csv_with_a_byte_order_mark_reads_its_header(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffsmiles,name\nCCO,ethanol\n".encode("utf-8"))
    assert [tuple(r) for r in read_smiles(path)] == [(2, "CCO")]


def test_a_record_over_several_lines_keeps_the_line_numbers_true(tmp_path):
    path = tmp_path / "multi.csv"
    path.write_text('name,smiles\n"a\nlong name",CCO\nb,CCN\n')
    assert [tuple(r) for r in read_smiles(path)] == [(2, "CCO"), (4, "CCN")]


def test_a_space_inside_a_smiles_is_refused_not_cut():
    with pytest.raises(GrammarError, match="whitespace inside the SMILES"):
        standardize("CCO extra")
    with pytest.raises(GrammarError, match="not a SMILES string but NoneType"):
        standardize(None)


def test_encode_names_the_line_of_a_cell_with_a_space_and_writes_lf_errors(tmp_path, model_path, capsys):
    path = tmp_path / "in.csv"
    path.write_text("smiles\nCCO\nCCN extra\n")
    errors = tmp_path / "e.csv"
    code = main(["encode", str(path), "-o", str(tmp_path / "z.npy"), "--errors", str(errors), "--model", model_path])
    err = capsys.readouterr().err
    assert code == 1 and f"{path}:3: 'CCN extra': whitespace inside the SMILES" in err
    assert b"\r" not in errors.read_bytes() and errors.read_text().splitlines()[1].startswith("3,CCN extra,")


def test_encode_reads_standard_input(tmp_path, model_path):
    out = tmp_path / "z.npy"
    r = subprocess.run([sys.executable, "-m", "grammarvae.cli.main", "encode", "-", "-o", str(out), "--model",
                        model_path], input="CCO\nc1ccccc1O\n", capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert np.load(out).shape == (2, 8)
    r = subprocess.run([sys.executable, "-m", "grammarvae.cli.main", "encode", "-", "--model", model_path],
                       input="CCO\n", capture_output=True, text=True)
    assert r.returncode == 2 and "name the output with -o" in r.stderr


def test_evaluate_names_the_lines_it_could_not_encode(tmp_path, model_path, capsys):
    test = tmp_path / "test.smi"
    test.write_text("CCO\nC[Xe]C\nCCN\n")
    code = main(["evaluate", "--test", str(test), "-n", "10", "--model", model_path])
    captured = capsys.readouterr()
    assert code == 0 and f"{test}:2: 'C[Xe]C'" in captured.err
    assert re.search(r"^test_not_encodable +1 ", captured.out, re.M)
