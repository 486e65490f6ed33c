"""README code blocks run as written (those that need no data or trained model beyond the package)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SELF_CONTAINED = ["state = decoder.start(4, steps=60)", "AutoregressiveGRUDecoder(latent_dim=4",
                  "VectorQuantizer(num_codes=16", "m = GrammarVAE.pretrained()",
                  "run = optimize(vae, start", "runs = improve(vae", "ids = g.parse(\"c1ccccc1O\")", "x_train = ",
                  "expressions = generate(g"]


def block(marker: str) -> str:
    if not README.is_file():
        pytest.skip(f"{README} is not beside the tests (an installed copy without the source tree)")
    found = [b for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.S) if marker in b]
    assert len(found) == 1, f"one README block holds {marker!r}"
    return found[0]


@pytest.mark.parametrize("marker", SELF_CONTAINED)
def test_readme_block_runs(marker, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a block may write files (grid.png)
    namespace: dict = {}
    exec(compile(block(marker), f"README.md block with {marker!r}", "exec"), namespace)
    if "decoder.start" in marker:
        from rdkit import Chem

        printed = capsys.readouterr().out
        molecules = ast.literal_eval(printed.strip())  # the block prints a list of four SMILES
        assert len(molecules) == 4 and all(Chem.MolFromSmiles(s) is not None for s in molecules)
    elif "improve" in marker:
        printed = capsys.readouterr().out.strip().splitlines()
        assert len(printed) == 3 and len(namespace["runs"]) == 2
        for run in namespace["runs"]:            # a best decode is similar enough and better
            best = run.best(0.4)
            assert best is None or (best.similarity >= 0.4 and best.score > run.start_score)
        assert ast.literal_eval(printed[-1])["molecules"] == 2
    elif "optimize" in marker:
        import csv

        with open(tmp_path / "results.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        # a batch keeps only new molecules: at most 5 an iteration, none twice
        its = [r["iteration"] for r in rows]
        assert its == sorted(its) and set(its) == {"1", "2"} and max(map(its.count, its)) <= 5
        assert len({r["smiles"] for r in rows}) == len(rows) and all(r["score"] for r in rows)
        assert namespace["mean"].shape == namespace["std"].shape == (1,) and namespace["std"][0] > 0
        printed = capsys.readouterr().out.strip().splitlines()
        assert len(printed) == 1 + min(3, len(rows)) + 4 and printed[-4].startswith("0.0 ")
    elif "pretrained" in marker:
        from PIL import Image

        with Image.open(tmp_path / "grid.png") as im:
            assert im.format == "PNG"
        assert len(namespace["smiles"]) == 10 and namespace["X"].shape == (60, 277)
        from rdkit import Chem  # the interpolation gives both molecules back at its ends

        path = namespace["path"]
        assert len(path) == 8 and path[0] == Chem.CanonSmiles("COc1ccc2[nH]cc(CCNC(C)=O)c2c1")
        assert path[-1] == Chem.CanonSmiles("CN[C@H]1CC[C@@H](c2ccc(Cl)c(Cl)c2)c2ccccc21")  # stereo kept
    elif "generate(g" in marker:
        assert capsys.readouterr().out == "0.10536051565782632 0.0\nTrue\n"
        assert len(set(namespace["expressions"])) == 1000
    elif "g.parse" in marker:
        assert capsys.readouterr().out == "True\n"
        assert namespace["X"].shape == (2, 277) and namespace["onehot"].shape == (2, 277, 76)
    elif "x_train" in marker:
        assert {"loss", "reconstruction_loss", "kl_loss"} <= set(namespace["history"].history)
        assert namespace["z"].shape == (8, 2) and namespace["samples"].shape[0] == 16
        assert (tmp_path / "vae.keras").is_file()
    elif "VectorQuantizer" in marker:
        assert {"mmd", "kl_loss"} <= set(namespace["info"].history.history)
        assert 1.0 <= namespace["history"]["perplexity"][-1] <= 16.0
        assert namespace["codes"].shape == (3, 2)
    else:
        assert namespace["tokens"].shape == (4, 12) and namespace["logits"].shape == (4, 12, 6)


def test_every_python_block_is_one_the_tests_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S) if README.is_file() else []
    for b in blocks:
        assert any(m in b for m in SELF_CONTAINED), f"a README block no test runs: {b.splitlines()[0]!r}"


# ---------------------------------------------------------------------------- the bash blocks
# The files the README's commands read, small so that every command runs here as written.
INPUTS = {
    "smiles.txt": ["CC(=O)Nc1ccc(O)cc1", "Cn1cnc2c1c(=O)n(C)c(=O)n2C", "not a smiles", "CCO"],
    "data.smi": ["CC(=O)Nc1ccc(O)cc1", "CCO", "c1ccccc1O", "CCN(CC)CC(=O)Nc1c(C)cccc1C", "OC(=O)c1ccccc1",
                 "COc1ccc2[nH]cc(CCNC(C)=O)c2c1", "CC(=O)Oc1ccccc1C(=O)O", "CCOC(=O)c1ccc(N)cc1"],
    "mine.smi": ["CC(=O)Nc1ccc(O)cc1", "CN1CCC[C@H]1c1cccnc1", "CCO"],
    "held_out.smi": ["CC(=O)Nc1ccc(O)cc1", "Cn1cnc2c1c(=O)n(C)c(=O)n2C", "CCO"],
    "train.smi": ["CCO", "CCN", "c1ccccc1O"],
    "known.smi": ["CC(=O)Nc1ccc(O)cc1", "CCO", "c1ccccc1O", "OCC(O)CO", "CCCCCCCC", "Cc1ccccc1", "CCOC(C)=O",
                  "CC(C)Cc1ccc(C(C)C(=O)O)cc1"],
}
# What each command must leave behind (beyond exit 0), by its first words.
WRITES = {"encode": ["latents.npy", "failed.csv"], "decode": ["decoded.smi"], "sample -n 100 --seed": ["prior.png"],
          "interpolate": ["path.png"], "train data.smi --preset": ["model.keras"], "train data.smi --decoder": ["ar.keras"],
          "train mine.smi": ["tuned.keras"], "fit-prior": ["sampler.keras"], "evaluate": ["metrics.json"], "reconstruct": ["back.csv", "back.png"],
          "optimize data.smi --property penalized": ["results.csv", "top.png", "best.png"],
          "optimize data.smi --property sa": ["easy.csv"], "shift": ["shift.png"],
          "improve": ["improved.csv", "improved.png"]}


def bash_commands() -> list[str]:
    """Every `grammarvae ...` command of the README's bash blocks, continuation lines joined,
    comments dropped; the quick start's, after its install."""
    if not README.is_file():
        return []
    out = []
    for b in re.findall(r"```bash\n(.*?)```", README.read_text(), re.S):
        for line in b.replace("\\\n", " ").splitlines():
            line = line.split("&&")[-1].strip()
            if line.startswith("grammarvae "):
                out.append(line)
    return out


def test_the_readme_bash_blocks_hold_the_commands_this_test_runs():
    commands = bash_commands()
    if not commands:
        pytest.skip(f"{README} is not beside the tests")
    assert len(commands) == 18 and all(any(c[len("grammarvae "):].startswith(k) for k in WRITES) or
                                       c.split()[1] in ("sample", "parse") for c in commands), commands


def test_every_readme_command_runs_as_written(tmp_path, monkeypatch, capsys):
    """In one folder, in the README's order (decode reads encode's latents, the fine-tune the
    model trained before it): each exits 0, or 1 where the README's input holds a bad line on
    purpose (encode's `not a smiles`), and writes what it names."""
    import shlex

    from grammarvae.cli.main import main

    commands = bash_commands()
    if not commands:
        pytest.skip(f"{README} is not beside the tests")
    monkeypatch.chdir(tmp_path)
    for name, rows in INPUTS.items():
        (tmp_path / name).write_text("\n".join(rows) + "\n")
    for command in commands:
        argv = shlex.split(command, comments=True)[1:]
        code = main(argv)
        err = capsys.readouterr().err
        expected = 1 if argv[0] == "encode" else 0
        assert code == expected and "Traceback" not in err, f"{command}: exit {code}\n{err[-2000:]}"
        for key, files in WRITES.items():
            if " ".join(argv).startswith(key):
                missing = [f for f in files if not (tmp_path / f).is_file()]
                assert not missing, f"{command}: did not write {missing}"
