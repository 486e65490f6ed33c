"""Real-world SMILES through `grammarvae encode`: the nine MoleculeNet sets.

    python benchmarks/moleculenet_encode.py [--data ../shared/data] [--model m.keras | --preset paper]

For each set: rows, encoded, failed, and the most common failure reasons (grouped by the
reason's first words), from the same command a user runs.
"""

from __future__ import annotations

import argparse
import collections
import csv
import re
import tempfile
import time
from pathlib import Path

from grammarvae.cli.main import main as cli

from common import add_data_argument


def reason_kind(reason: str) -> str:
    if not reason.startswith("unknown symbol"):  # keep which symbol; group the rest
        reason = re.sub(r"'[^']*'", "'X'", reason)
    reason = re.sub(r"\d+", "N", reason)
    return reason.replace(" at position N", "")


def run(args) -> None:
    folder = Path(args.data) / "moleculenet"
    sets = sorted(folder.glob("*.csv.gz"))
    if not sets:
        print(f"{folder}: no data, skipped")
        return
    tmp = Path(tempfile.mkdtemp())
    model = args.model
    if model is None:
        from grammarvae import GrammarVAE

        model = str(tmp / f"{args.preset}.keras")  # coverage depends on the grammar and max_len only
        GrammarVAE(preset=args.preset, seed=0).save(model)
    total = collections.Counter()
    for path in sets:
        name = path.name.split(".")[0]
        errs = tmp / f"{name}.errors.csv"
        t = time.perf_counter()
        code = cli(["encode", str(path), "--column", "smiles", "-o", str(tmp / f"{name}.npy"),
                    "--errors", str(errs), "--model", model])
        with open(errs) as fh:
            rows = list(csv.DictReader(fh))
        import gzip

        with gzip.open(path, "rt") as fh:
            n = sum(1 for _ in fh) - 1
        kinds = collections.Counter(reason_kind(r["reason"]) for r in rows)
        total.update(kinds)
        top = "; ".join(f"{k} ({v})" for k, v in kinds.most_common(3))
        print(f"{name:9s} rows {n:6d}  encoded {n - len(rows):6d} ({100 * (n - len(rows)) / n:5.1f}%)  "
              f"failed {len(rows):5d}  exit {code}  {time.perf_counter() - t:5.1f}s  {top}")
    print("all sets, most common reasons:")
    for k, v in total.most_common(8):
        print(f"  {v:6d}  {k}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(ap)
    ap.add_argument("--model", help="a model file (default: an untrained model of --preset)")
    ap.add_argument("--preset", default="small", help="small: 160 steps, as the bundled model; paper: 277")
    run(ap.parse_args())
