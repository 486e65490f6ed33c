"""The grammarvae command line, driven as a user drives it."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tempfile

import numpy as np
import pytest
from PIL import Image

from conftest import shared_file
from grammarvae import GrammarVAE
from grammarvae.cli.main import main


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    from grammarvae import GrammarVAE

    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    GrammarVAE(preset="tiny", seed=0).save(path)
    return str(path)


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_encode_keeps_rows_aligned_and_reports_bad_lines(tmp_path, model_path, capsys):
    from grammarvae import GrammarVAE

    smiles = ["CCO", "c1ccccc1O", "C1CC", "CC(=O)Nc1ccc(O)cc1", "CC[Xe]", "CCN"]
    inp = tmp_path / "in.smi"
    inp.write_text("\n".join(smiles) + "\n")
    out, errs = tmp_path / "z.npy", tmp_path / "errors.csv"
    code, _, err = run(["encode", str(inp), "-o", str(out), "--errors", str(errs), "--model", model_path], capsys)
    assert code == 1
    Z = np.load(out)
    assert Z.shape[0] == len(smiles)
    bad = [2, 4]
    assert np.isnan(Z[bad]).all() and not np.isnan(np.delete(Z, bad, 0)).any()
    good = [s for i, s in enumerate(smiles) if i not in bad]
    np.testing.assert_allclose(np.delete(Z, bad, 0), GrammarVAE.load(model_path).encode(good), rtol=1e-5, atol=1e-6)
    with open(errs) as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["line"], r["input"]) for r in rows] == [("3", "C1CC"), ("5", "CC[Xe]")]
    assert f"{inp}:3: 'C1CC'" in err and "encoded 4 of 6, failed 2" in err


def test_encode_streams_in_chunks_and_lists_salts(tmp_path, model_path, capsys):
    """Chunks of 3 rows over 8: the same latents as encoding the list in memory, failures and
    salts named by their line across chunk boundaries, salts counted in the summary."""
    from grammarvae import GrammarVAE
    from grammarvae.latent_files import encode_to_file

    smiles = ["CCO", "[Na+].CC(=O)[O-]", "C1CC", "CCN", "c1ccccc1O", "C[Pt]C", "Cl.CCN(CC)CC", "CCCC"]
    inp = tmp_path / "in.smi"
    inp.write_text("\n".join(smiles) + "\n")
    m = GrammarVAE.load(model_path)
    seen = []
    s = encode_to_file(m, inp, tmp_path / "z.npy", errors=tmp_path / "e.csv", chunk=3, workers=1,
                       report=lambda *row: seen.append(row))
    assert (s.rows, s.encoded, s.failed, s.mixtures) == (8, 6, 2, 2)
    Z = np.load(tmp_path / "z.npy")
    expected = m.encode_checked(smiles).Z
    np.testing.assert_allclose(Z, expected, rtol=1e-5, atol=1e-6)
    assert np.isnan(Z[[2, 5]]).all()
    assert [row[0] for row in seen] == [2, 3, 6, 7]
    assert seen[0][2] == "a salt or mixture: encoded its largest fragment, CC(=O)[O-]"
    with open(tmp_path / "e.csv") as fh:
        assert [r["line"] for r in csv.DictReader(fh)] == ["2", "3", "6", "7"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.csv", "in.smi", "z.npy"]  # no part files left
    code, _, err = run(["encode", str(inp), "-o", str(tmp_path / "z2.npy"), "--model", model_path], capsys)
    assert code == 1 and "encoded 6 of 8, failed 2; 2 salts or mixtures encoded as the largest fragment" in err
    assert f"{inp}:7: 'Cl.CCN(CC)CC': a salt or mixture: encoded its largest fragment, CCN(CC)CC" in err


def test_encode_csv_column_and_csv_output(tmp_path, model_path, capsys):
    inp = tmp_path / "in.csv"
    inp.write_text("name,smiles\na,CCO\nb,CCN\n")
    code, _, err = run(["encode", str(inp), "--column", "smiles", "-o", str(tmp_path / "z.csv"),
                        "--model", model_path], capsys)
    assert code == 0, err
    assert np.loadtxt(tmp_path / "z.csv", delimiter=",").shape == (2, 8)
    code, _, err = run(["encode", str(inp), "--column", "nope", "--model", model_path], capsys)
    assert code == 2 and "no column 'nope'" in err and err.count("\n") == 1


def test_sample_is_reproducible_and_draws_a_png(tmp_path, model_path, capsys):
    argv = ["sample", "-n", "6", "--seed", "3", "--model", model_path]
    code, first, _ = run(argv, capsys)
    assert code == 0 and len(first.splitlines()) == 6
    assert run(argv, capsys)[1] == first
    img = tmp_path / "grid.png"
    code, out, _ = run(["sample", "--around", "CCO", "-n", "4", "--image", str(img), "--model", model_path], capsys)
    assert code == 0
    assert out.splitlines()[0] == "CCO"  # the seed molecule first
    with Image.open(img) as im:
        assert im.format == "PNG" and im.size == (3 * 250, 2 * 250)  # 5 molecules, near square: 3 + 2


def test_decode_round_trip_and_wrong_width(tmp_path, model_path, capsys):
    z = tmp_path / "z.npy"
    np.save(z, np.random.default_rng(0).normal(size=(3, 8)).astype("float32"))
    code, out, _ = run(["decode", str(z), "--model", model_path], capsys)
    assert code == 0 and len(out.splitlines()) == 3
    code, out, _ = run(["decode", str(z), "--samples", "2", "--model", model_path], capsys)
    lines = out.splitlines()
    assert code == 0 and lines[0] == "row,smiles" and [line.split(",")[0] for line in lines[1:]] == list("112233")
    np.save(z, np.zeros((3, 5), dtype="float32"))
    code, _, err = run(["decode", str(z), "--model", model_path], capsys)
    assert code == 2 and "latents must be (n, 8)" in err and err.count("\n") == 1


def test_interpolate_prints_the_path(model_path, capsys):
    code, out, _ = run(["interpolate", "CCO", "c1ccccc1O", "--steps", "4", "--model", model_path], capsys)
    assert code == 0 and len(out.splitlines()) == 4
    code, beam, _ = run(["interpolate", "CCO", "c1ccccc1O", "--steps", "4", "--beam-width", "3", "--model",
                         model_path], capsys)
    assert code == 0 and beam.split() == GrammarVAE.load(model_path).interpolate("CCO", "c1ccccc1O", 4, beam_width=3)


@pytest.mark.parametrize("argv, message", [
    (["sample", "-n", "x"], "'x' is not a whole number"),
    (["frobnicate"], "invalid choice"),
    (["encode"], "required"),
])
def test_bad_usage_exits_2_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and message in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("grammarvae")]) == 1


def test_bad_files_give_one_line_errors(tmp_path, model_path, capsys):
    empty = tmp_path / "empty.smi"
    empty.write_text("")
    notmodel = tmp_path / "notmodel.keras"
    notmodel.write_text("hello")
    cases = [
        (["encode", str(tmp_path / "missing.smi"), "--model", model_path], "missing.smi: no such file"),
        (["encode", str(empty), "--model", model_path], "empty.smi: no SMILES in the file"),
        (["sample", "--model", str(notmodel)], "notmodel.keras: not a grammarvae model"),
        (["decode", str(empty), "--model", model_path], "empty.smi: no latent rows in the file"),
    ]
    for argv, message in cases:
        code, _, err = run(argv, capsys)
        assert code == 2, argv
        assert message in err and err.strip().count("\n") == 0, err


def test_evaluate_prints_and_writes_figures(tmp_path, model_path, capsys):
    test = tmp_path / "test.smi"
    test.write_text("CCO\nCCN\nc1ccccc1\n")
    out = tmp_path / "m.json"
    code, text, _ = run(["evaluate", "--test", str(test), "--train", str(test), "-n", "20", "--json", str(out),
                         "--model", model_path], capsys)
    assert code == 0
    figures = json.loads(out.read_text())
    assert figures["validity"] == 1.0 and 0 <= figures["novelty"] <= 1
    assert {"uniqueness", "internal_diversity", "reconstruction_accuracy"} <= set(figures)
    assert "reconstruction_accuracy" in text


def test_train_then_resume(tmp_path, capsys):
    data = tmp_path / "train.smi"
    data.write_text("\n".join(["CCO", "CCN", "CCC", "c1ccccc1", "CC(=O)O", "CCOC", "CNC", "C1CCCCC1"] * 10))
    model = tmp_path / "m.keras"
    base = ["train", str(data), "-o", str(model), "--preset", "tiny", "--batch-size", "16", "--val-split", "0.1"]
    assert run(base + ["--epochs", "1"], capsys)[0] == 0
    assert run(base + ["--epochs", "2", "--resume"], capsys)[0] == 0
    log = (tmp_path / "m.log.csv").read_text().strip().splitlines()
    assert len(log) == 3 and log[0].startswith("epoch")  # header + epochs 0 and 1
    assert [line.split(",")[0] for line in log[1:]] == ["0", "1"]


def test_entry_point_runs_in_a_subprocess():
    r = subprocess.run([sys.executable, "-m", "grammarvae.cli.main", "parse", "C1CC"], capture_output=True,
                       text=True, cwd=tempfile.gettempdir())
    assert r.returncode == 1 and "ring bond 1 is opened but never closed" in r.stderr


def test_moleculenet_set_goes_through_encode(tmp_path, model_path, capsys):
    path = shared_file("moleculenet/freesolv.csv.gz")
    out = tmp_path / "z.npy"
    code, _, err = run(["encode", str(path), "--column", "smiles", "-o", str(out), "--model", model_path], capsys)
    import gzip

    with gzip.open(path, "rt") as fh:
        n = sum(1 for _ in fh) - 1
    Z = np.load(out)
    failed = int(np.isnan(Z).any(axis=1).sum())
    assert Z.shape[0] == n and code == (1 if failed else 0)
    assert f"encoded {n - failed} of {n}, failed {failed}" in err


def test_autoregressive_train_decode_by_beam_and_evaluate(tmp_path, capsys):
    data = tmp_path / "train.smi"
    data.write_text("\n".join(["CCO", "CCN", "CCC", "c1ccccc1", "CC(=O)O", "CCOC", "CNC", "C1CCCCC1"] * 10))
    model = tmp_path / "ar.keras"
    code, _, err = run(["train", str(data), "-o", str(model), "--preset", "tiny", "--decoder", "autoregressive",
                        "--batch-size", "16", "--epochs", "1"], capsys)
    assert code == 0, err
    z = tmp_path / "z.npy"
    np.save(z, np.random.default_rng(0).normal(size=(3, 8)).astype("float32"))
    code, out, _ = run(["decode", str(z), "--beam-width", "3", "--model", str(model)], capsys)
    assert code == 0 and len(out.splitlines()) == 3
    with pytest.raises(SystemExit) as info:
        main(["decode", str(z), "--beam-width", "0", "--model", str(model)])
    assert info.value.code == 2 and "--beam-width: 0 is below 1" in capsys.readouterr().err
    test = tmp_path / "test.smi"
    test.write_text("CCO\nCCN\nc1ccccc1\n")
    out = tmp_path / "m.json"
    code, text, _ = run(["evaluate", "--test", str(test), "-n", "20", "--beam-width", "2", "--unique-n", "30",
                         "--sampled-protocol", "2", "--json", str(out), "--model", str(model)], capsys)
    assert code == 0
    figures = json.loads(out.read_text())
    for key in ("kl_nats", "reconstruction_shuffled_z", "reconstruction_beam_2", "uniqueness_30",
                "reconstruction_sampled_10x10", "ring8_share", "reference_aromatic_share", "snn",
                "wasserstein_qed", "fragment_similarity", "scaffold_similarity"):
        assert key in figures and key in text, key
    assert figures["reference_aromatic_share"] == 1 / 3  # benzene, of the three test molecules
    from grammarvae.figures import explain

    for line in text.splitlines():  # every figure printed says what it is
        name = line.split()[0]
        assert explain(name) and line.rstrip().endswith(explain(name)), line
    assert explain("uniqueness_30") == "share of distinct molecules among 30 prior samples"
    # The KL is the analytic one of the encoder's q(z|x), recomputed here in numpy.
    from grammarvae import GrammarVAE

    m = GrammarVAE.load(model)
    mean, log_var = m.encode_ids(m.to_ids(["CCO", "CCN", "c1ccccc1"]), return_log_var=True)
    kl = 0.5 * (mean ** 2 + np.exp(log_var) - 1 - log_var).sum(1).mean()
    assert figures["kl_nats"] == pytest.approx(float(kl), rel=1e-5)


def test_parse_shows_the_kekule_count_the_model_reads_and_whether_it_fits(model_path, capsys):
    from rdkit import Chem

    from grammarvae import Grammar, GrammarVAE

    imatinib = "CN1CCN(Cc2ccc(cc2)C(=O)Nc2ccc(C)c(Nc3nccc(n3)-c3cccnc3)c2)CC1"
    mol = Chem.MolFromSmiles(imatinib)
    Chem.Kekulize(mol, clearAromaticFlags=True)
    kekule = Chem.MolToSmiles(mol, kekuleSmiles=True)
    g = Grammar.load("zinc")
    steps = len(g.parse(kekule))
    assert steps != len(g.parse(imatinib))  # the count as written is not what the model reads
    max_len = GrammarVAE.load(model_path).max_len
    code, out, _ = run(["parse", imatinib, "--model", model_path], capsys)
    assert code == 0
    fits = "fits" if steps <= max_len else "does NOT fit"
    assert out.strip().splitlines()[-1] == (f"the model reads its Kekule form {kekule}: {steps} productions; "
                                             f"{fits} the model's {max_len} steps")


def test_parse_says_whether_the_models_decoder_can_write_the_molecule(model_path, capsys):
    code, out, _ = run(["parse", "CN1CCC[C@H]1c1cccnc1", "--model", model_path], capsys)  # nicotine, a stereocentre
    assert code == 0 and out.strip().splitlines()[-1] == "its decoder can write it: CN1CCC[C@H]1c1cccnc1"
    code, out, _ = run(["parse", "OCl(=O)(=O)=O", "--model", model_path], capsys)  # perchloric acid: RDKit reads [Cl+3], left out of the table
    assert out.strip().splitlines()[-1] == ("its decoder cannot write it: step 17, aliphatic_organic -> 'Cl', "
                                             "is refused")


@pytest.mark.parametrize("flags, best", [([], np.nanmax), (["--minimize"], np.nanmin)])
def test_optimize_that_finds_no_new_molecule_says_so_and_draws_no_grid(tmp_path, model_path, capsys, flags, best):
    """A model whose decoder ignores z (its kernels zeroed: every point decodes to the one
    molecule the data's own points decode to, scored already): the run ends with an empty CSV,
    the curve and a line saying why there is no grid, not a crash. (Runs that find molecules:
    tests/test_design.py.)"""
    from grammarvae import GrammarVAE

    m = GrammarVAE.load(model_path)
    for w in m.decoder.weights:
        if "kernel" in w.path:
            w.assign(np.zeros(w.shape, dtype="float32"))
    model_path = str(tmp_path / "constant.keras")
    m.save(model_path)
    inp = tmp_path / "start.smi"
    inp.write_text("CCO\nc1ccccc1O\nCC(=O)Nc1ccc(O)cc1\nCCCCCC\nC1CCNCC1\nC1CC\n")
    out, top, plot = tmp_path / "r.csv", tmp_path / "top.png", tmp_path / "best.png"
    code, stdout, err = run(["optimize", str(inp), "--property", "logp", "--iterations", "2", "--batch", "3",
                             "--inducing", "4", "--top", "2", "-o", str(out), "--image", str(top), "--plot", str(plot),
                             "--model", model_path, *flags], capsys)
    assert code == 0, err
    with open(out, newline="") as f:
        reader = csv.DictReader(f)
        assert list(reader) == [] and {"iteration", "smiles", "score"} <= set(reader.fieldnames)
    from grammarvae.properties import score

    data_best = best(score(["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCCCCC", "C1CCNCC1"], "logp").values)
    assert stdout.strip().splitlines() == [f"best logp in the data: {data_best:.3f}"]
    assert "wrote 0 proposals" in err and f"no picture was written to {top}" in err
    assert not top.exists() and Image.open(plot).size[0] > 300


def test_shift_prints_each_step_with_its_property(tmp_path, model_path, capsys):
    data = tmp_path / "data.smi"
    data.write_text("CCO\nCCCCCCCC\nc1ccccc1O\nCCCCCCCCCCCC\nOCC(O)CO\nCC(=O)O\nc1ccc2ccccc2c1\nCCN\nCCCl\nOC=O\n")
    image = tmp_path / "shift.png"
    code, stdout, err = run(["shift", "CC(=O)Nc1ccc(O)cc1", "--steps", "3", "--data", str(data), "--image", str(image),
                             "--model", model_path], capsys)
    assert code == 0, err
    lines = [line.split() for line in stdout.strip().splitlines()]
    assert [float(t) for t, *_ in lines] == [0.0, 1.0, 2.0]
    from grammarvae.properties import score

    np.testing.assert_allclose([float(v) for _, _, v, _ in lines], score([s for *_, s in lines], "logp").values,
                               atol=1e-3)
    assert Image.open(image).size == (500, 500)  # 3 molecules: the near-square grid of 2 + 1


def test_improve_prints_better_similar_molecules_and_writes_every_decode(tmp_path, model_path, capsys):
    from rdkit import Chem, DataStructs
    from rdkit.Chem import rdFingerprintGenerator

    from grammarvae.properties import score

    data = tmp_path / "data.smi"
    data.write_text("CCO\nCCCCCCCC\nc1ccccc1O\nCCCCCCCCCCCC\nOCC(O)CO\nCC(=O)O\nc1ccc2ccccc2c1\nCCN\nCCCl\nOC=O\n")
    out, image = tmp_path / "improved.csv", tmp_path / "pairs.png"
    code, stdout, err = run(["improve", "OCC(O)CO", "CCN", "--property", "logp", "--similarity", "0", "--steps", "4",
                             "--samples", "1", "--data", str(data), "--inducing", "4", "-o", str(out),
                             "--image", str(image), "--model", model_path], capsys)
    assert code == 0, err
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["start"] for r in rows} == {"OCC(O)CO", "CCN"}
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    fp = lambda s: gen.GetFingerprint(Chem.MolFromSmiles(s))  # noqa: E731
    decoded = [r for r in rows if r["smiles"]]
    for r in decoded:
        assert float(r["similarity"]) == pytest.approx(DataStructs.TanimotoSimilarity(fp(r["start"]), fp(r["smiles"])),
                                                       abs=1e-4)
        assert 1 <= int(r["step"]) <= 4
    np.testing.assert_allclose([float(r["score"]) for r in decoded], score([r["smiles"] for r in decoded], "logp").values,
                               rtol=1e-5)
    better = {(r["start"], r["smiles"]) for r in decoded if float(r["score"]) > float(r["start_score"])}
    printed = [line.split() for line in stdout.splitlines() if line.startswith("  ") and "none better" not in line]
    assert all(p[0] == f"{float(p[0]):.3f}" and len(p) == 7 for p in printed)
    assert len(printed) == sum(min(3, sum(1 for s, _ in better if s == start)) for start in ("OCC(O)CO", "CCN"))
    assert Image.open(image).format == "PNG" or not better


def test_improve_refuses_a_molecule_it_cannot_read_by_its_place(model_path, capsys):
    code, _, err = run(["improve", "CCO", "C1CC", "--model", model_path], capsys)
    assert code == 2 and "molecule 2 'C1CC'" in err and "Traceback" not in err
