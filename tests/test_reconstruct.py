"""`reconstruct` and `grammarvae reconstruct`: per molecule, what comes back, checked against
encode and decode called directly, and an independent fingerprint similarity."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import AllChem

from grammarvae.cli.main import main

MOLECULES = ["CC(=O)Nc1ccc(O)cc1", "C1CC", "[Na+].CC(=O)[O-]", "CN1CCC[C@H]1c1cccnc1",
             "Cn1cnc2c1c(=O)n(C)c(=O)n2C", "CC(C)Cc1ccc(C(C)C(=O)O)cc1", "C[Pt]C"]


@pytest.fixture(scope="module")
def model():
    from grammarvae import GrammarVAE

    return GrammarVAE.pretrained("moses")


def _tanimoto(a, b):  # written apart from the package's: bit vectors from the older RDKit call
    fa, fb = (AllChem.GetMorganFingerprintAsBitVect(Chem.MolFromSmiles(s), 2, nBits=2048) for s in (a, b))
    return DataStructs.TanimotoSimilarity(fa, fb)


def test_each_row_is_what_encode_and_decode_give(model):
    from grammarvae.reconstruct import reconstruct

    rows = reconstruct(model, MOLECULES)
    assert [r.input for r in rows] == MOLECULES
    assert [r.reason is not None for r in rows] == [False, True, False, False, False, False, True]
    assert "RDKit cannot read it" in rows[1].reason and "no element Pt" in rows[6].reason
    # a salt: its largest fragment is what the model reads, and the MOSES model, which never saw
    # a charge or a stereo mark, reads it neutralised and nicotine without its mark, and says so
    assert rows[2].encoded == "CC(=O)O" and "charges removed" in rows[2].note
    assert rows[3].encoded == "CN1CCCC1c1cccnc1" and "stereo marks removed" in rows[3].note
    assert rows[0].note is None or "removed" not in rows[0].note
    for r in rows:
        if r.encoded is None:
            assert r.decoded is None and not r.same and math.isnan(r.similarity)
            continue
        direct = model.decode(model.encode([r.encoded]))[0]
        assert r.decoded == direct
        same = Chem.CanonSmiles(direct) == Chem.CanonSmiles(r.encoded)
        assert r.same == same
        assert r.similarity == pytest.approx(_tanimoto(r.encoded, r.decoded))
        assert (r.similarity == 1.0) or not r.same


def test_the_command_writes_one_row_per_input_line_and_a_picture(model, tmp_path, capsys):
    (tmp_path / "in.smi").write_text("".join(f"{s} name{i}\n" for i, s in enumerate(MOLECULES)))
    code = main(["reconstruct", str(tmp_path / "in.smi"), "-o", str(tmp_path / "back.csv"),
                 "--image", str(tmp_path / "back.png")])
    err = capsys.readouterr().err
    assert code == 1  # two inputs could not be read
    with open(tmp_path / "back.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [int(t["line"]) for t in table] == list(range(1, 8))
    assert [t["input"] for t in table] == MOLECULES
    same = [t["same"] == "yes" for t in table]
    assert f"came back: {sum(same)} of 7 ({100 * sum(same) / 7:.1f}%)" in err
    assert "2 could not be encoded" in err and f"{tmp_path / 'in.smi'}:2: 'C1CC': RDKit cannot read it" in err
    assert table[1]["decoded"] == "" and table[1]["similarity"] == "" and table[1]["reason"]
    from PIL import Image

    with Image.open(tmp_path / "back.png") as im:
        assert im.size == (6 * 250, 2 * 250)  # 5 pairs, three a row
