"""Bad usage on the command line: one line on stderr, exit 2, and nothing written, checked
before any work. Each row: argv (with {tmp} and {model} filled in), the exit code, a
fragment of the one line, and the files that must not exist afterwards."""

from __future__ import annotations

import gzip
import subprocess
import sys
import tempfile

import numpy as np
import pytest

from grammarvae.cli.main import main


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from grammarvae import GrammarVAE

    d = tmp_path_factory.mktemp("catalogue")
    GrammarVAE(preset="tiny", seed=0).save(d / "tiny.keras")
    (d / "in.smi").write_text("CCO\nCCN\n")
    (d / "drugs.smi").write_text("CCO\n")
    np.save(d / "z.npy", np.zeros((2, 8), dtype="float32"))
    np.save(d / "strings.npy", np.array([["a"] * 8, ["b"] * 8]))
    (d / "folder").mkdir()
    (d / "empty.smi").write_text("")
    (d / "in.csv").write_text("smiles,name\nCCO,ethanol\n")
    (d / "long.smi").write_text("CCO\n" + "C" * 200_000 + "\n")
    (d / "long.csv").write_text('smiles\nCCO\n"' + "C" * 200_000 + '"\n')
    whole = gzip.compress(b"CCO\n" * 1000)
    (d / "torn.smi.gz").write_bytes(whole[: len(whole) // 2])  # cut off in the middle
    with open(d / "archive.npy", "wb") as fh:
        np.savez(fh, z=np.zeros((2, 8), dtype="float32"))
    return d


CATALOGUE = [
    # outputs that cannot be written, refused before the work
    (["encode", "{tmp}/in.smi", "-o", "{tmp}/missing/z.npy"], "no such folder", ["missing"]),
    (["encode", "{tmp}/in.smi", "-o", "{tmp}/folder"], "must end in .npy or .csv", []),
    (["encode", "{tmp}/in.smi", "-o", "{tmp}/z.txt"], "must end in .npy or .csv", ["z.txt"]),
    (["encode", "{tmp}/in.smi", "-o", "{tmp}/ok.npy", "--errors", "{tmp}/missing/e.csv"], "--errors", ["ok.npy"]),
    (["decode", "{tmp}/z.npy", "-o", "{tmp}/missing/out.smi"], "no such folder", ["missing"]),
    (["decode", "{tmp}/z.npy", "-o", "{tmp}/folder"], "is a folder", []),
    (["sample", "-o", "{tmp}/missing/s.smi"], "no such folder", ["missing"]),
    (["sample", "--image", "{tmp}/grid.jpg"], "must end in .png or .svg", ["grid.jpg"]),
    (["sample", "-o", "{tmp}/s.smi", "--image", "{tmp}/missing/g.png"], "--image", ["s.smi"]),
    (["interpolate", "CCO", "CCN", "--image", "{tmp}/missing/p.png"], "no such folder", ["missing"]),
    (["evaluate", "--test", "{tmp}/in.smi", "--json", "{tmp}/missing/m.json"], "no such folder", ["missing"]),
    (["train", "{tmp}/in.smi", "-o", "{tmp}/missing/dir/m.keras", "--preset", "tiny"], "no such folder", ["missing"]),
    (["train", "{tmp}/in.smi", "-o", "{tmp}/m.h5", "--preset", "tiny"], "must end in .keras", ["m.h5"]),
    # numbers out of range
    (["sample", "-n", "-5"], "-n: -5 is below 1", []),
    (["sample", "-n", "0"], "-n: 0 is below 1", []),
    (["decode", "{tmp}/z.npy", "--samples", "-1"], "--samples: -1 is below 1", []),
    (["decode", "{tmp}/z.npy", "--samples", "0"], "--samples: 0 is below 1", []),
    (["decode", "{tmp}/z.npy", "--samples", "2", "--temperature", "0"], "not a finite number > 0", []),
    (["decode", "{tmp}/z.npy", "--samples", "2", "--temperature", "-1"], "not a finite number > 0", []),
    (["decode", "{tmp}/z.npy", "--samples", "2", "--temperature", "nan"], "not a finite number > 0", []),
    (["sample", "--around", "CCO", "--scale", "-1"], "not a finite number >= 0", []),
    (["sample", "--around", "CCO", "--scale", "inf"], "not a finite number >= 0", []),
    (["sample", "--around", ""], "--around: empty", []),
    (["sample", "--seed", "-1"], "--seed: -1 is below 0", []),
    (["interpolate", "CCO", "CCN", "--steps", "1"], "--steps: 1 is below 2", []),
    (["evaluate", "--test", "{tmp}/in.smi", "--limit", "0"], "--limit: 0 is below 1", []),
    # files and names that are not what they should be
    (["parse", "CCO", "--grammar", "nosuch"], "--grammar nosuch", []),
    (["decode", "{tmp}/strings.npy"], "not numbers", []),
    (["sample", "--model", "{tmp}/drugs.smi"], "drugs.smi: not a grammarvae model", []),
    (["sample", "--around", "C\udcffC"], "not valid UTF-8", []),
    # SMILES arguments the model cannot read: named as typed, the element named
    (["sample", "--around", "C[Pt]C", "-o", "{tmp}/s.smi"],
     "--around 'C[Pt]C': bracket atom '[Pt]': the grammar has no element Pt", ["s.smi"]),
    (["sample", "--around", "C1CC"], "--around 'C1CC': RDKit cannot read it", []),
    (["interpolate", "CCO", "C[Pt]C", "--image", "{tmp}/p.png"], "end 'C[Pt]C': bracket atom '[Pt]'", ["p.png"]),
    (["interpolate", "C1CC", "CCO"], "start 'C1CC': RDKit cannot read it", []),
    (["encode", "{tmp}/empty.smi", "-o", "{tmp}/e.npy"], "empty.smi: no SMILES in the file", ["e.npy", "e.npy.part"]),
    (["encode", "{tmp}/in.csv", "-o", "{tmp}/c.npy", "--column", "nosuch"], "no column 'nosuch'", ["c.npy", "c.npy.part"]),
    # latent-space design
    (["optimize", "{tmp}/in.smi", "-o", "{tmp}/missing/r.csv"], "no such folder", ["missing"]),
    (["optimize", "{tmp}/in.smi", "-o", "{tmp}/r.txt"], "must end in .csv", ["r.txt"]),
    (["optimize", "{tmp}/in.smi", "-o", "{tmp}/r.csv", "--image", "{tmp}/top.jpg"], "--image", ["r.csv", "top.jpg"]),
    (["optimize", "{tmp}/in.smi", "-o", "{tmp}/r.csv", "--plot", "{tmp}/missing/c.png"], "--plot", ["r.csv"]),
    (["optimize", "{tmp}/in.smi", "-o", "{tmp}/r.csv", "--batch", "0"], "--batch: 0 is below 1", ["r.csv"]),
    (["optimize", "{tmp}/in.smi", "-o", "{tmp}/r.csv", "--iterations", "-2"], "--iterations: -2 is below 1", ["r.csv"]),
    (["optimize", "{tmp}/in.smi", "-o", "{tmp}/r.csv", "--property", "colour"], "invalid choice: 'colour'", ["r.csv"]),
    (["optimize", "{tmp}/nosuch.smi", "-o", "{tmp}/r.csv"], "nosuch.smi: no such file", ["r.csv"]),
    (["optimize", "{tmp}/empty.smi", "-o", "{tmp}/r.csv"], "empty.smi: no SMILES in the file", ["r.csv"]),
    (["optimize", "{tmp}/drugs.smi", "-o", "{tmp}/r.csv"], "only 1 of 1 molecules could be encoded and scored", ["r.csv"]),
    (["shift", "CCO", "--steps", "1"], "--steps: 1 is below 2", []),
    (["shift", "CCO", "--scale", "nan"], "not a finite number", []),
    (["shift", "CCO", "--image", "{tmp}/missing/s.png"], "no such folder", ["missing"]),
    (["shift", "C1CC", "--image", "{tmp}/s.png"], "smiles 'C1CC': RDKit cannot read it", ["s.png"]),
    (["shift", "CCO", "--data", "{tmp}/nosuch.smi"], "nosuch.smi", []),
    # sizes beyond what the machine holds, refused before the work
    (["sample", "-n", "100000000000", "--image", "{tmp}/g.png"], "-n 100000000000: needs about 409600.0 GB", ["g.png"]),
    (["sample", "-n", "2", "--beam-width", "1000000000000"], "--beam-width 1000000000000: needs about", []),
    (["interpolate", "CCO", "CCN", "--steps", "100000000000"], "--steps 100000000000: needs about", []),
    (["shift", "CCO", "--steps", "100000000000"], "--steps 100000000000: needs about", []),
    (["optimize", "{tmp}/in.smi", "-o", "{tmp}/r.csv", "--batch", "100000000000"], "--batch 100000000000", ["r.csv"]),
    (["evaluate", "--test", "{tmp}/in.smi", "-n", "100000000000"], "-n 100000000000: needs about", []),
    (["decode", "{tmp}/z.npy", "--samples", "100000000000"], "2 points x --samples 100000000000 =", []),
    # hostile files: one line naming the file and line
    (["encode", "{tmp}/long.smi", "-o", "{tmp}/l.npy"], "long.smi: line 2: longer than 100,000 characters", ["l.npy"]),
    (["encode", "{tmp}/long.csv", "-o", "{tmp}/l.npy"], "long.csv: line 3: field larger than field limit", ["l.npy"]),
    (["encode", "{tmp}/torn.smi.gz", "-o", "{tmp}/t.npy"], "torn.smi.gz: cannot read as text", ["t.npy"]),
    (["decode", "{tmp}/archive.npy"], "archive.npy: an archive of arrays (z), not one array of latents", []),
    (["sample", "--around", "\u0421\u0421O"], "non-ASCII character '\u0421' (U+0421; SMILES are ASCII)", []),
]


@pytest.mark.parametrize("argv, fragment, absent", CATALOGUE, ids=[" ".join(c[0])[:60] for c in CATALOGUE])
def test_bad_usage_is_one_line_exit_2_and_writes_nothing(files, argv, fragment, absent, capsys):
    argv = [a.format(tmp=files) for a in argv]
    if "--model" not in argv:
        argv += ["--model", str(files / "tiny.keras")] if argv[0] not in ("parse", "train") else []
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own errors
        code = e.code
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in err, err
    for name in absent:
        assert not (files / name).exists(), name


@pytest.mark.parametrize("argv, fragment", [
    (["sample", "-n", "-5"], "-n: -5 is below 1"),
    (["decode", "z.npy", "-o", "missing/out.smi"], "no such folder"),
    (["sample", "--around", b"C\xffC"], "not valid UTF-8"),
])
def test_as_a_real_process(files, argv, fragment):
    argv = [a if isinstance(a, bytes) else str(files / a) if a.endswith((".npy", ".smi")) else a for a in argv]
    r = subprocess.run([sys.executable, "-m", "grammarvae.cli.main", *argv, "--model", str(files / "tiny.keras")],
                       capture_output=True, cwd=tempfile.gettempdir())
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode == 2 and fragment in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1
