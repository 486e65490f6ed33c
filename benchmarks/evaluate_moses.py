"""Measure a GrammarVAE on the MOSES held-out split, as the model card reports it.

    python benchmarks/evaluate_moses.py [--model m.keras] [--limit 2000] [--data ../shared/data]
    python benchmarks/evaluate_moses.py --write-split runs/   # heldout.smi, train.smi for the CLI:
    grammarvae evaluate --test runs/heldout.smi --train runs/train.smi --limit 2000 -n 1000

The split is the one `grammarvae train` made for the bundled model: over the rows of
moses/train.csv.gz that encode (all 1,584,663 do), a fixed-seed 1% (seed 0) held out.
Prints prior validity, uniqueness, novelty against the 99% trained on, internal diversity
(1,000 prior samples, seed 0) and reconstruction accuracy on held-out molecules: `--limit` of
them drawn at random (seed 0; until 7 December 2026 the first ones, which lie early in the file).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from common import add_data_argument, add_model_argument, load_model

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def moses_split(path: Path, val_fraction: float = 0.01, seed: int = 0) -> tuple[list[str], list[str]]:
    from grammarvae.data import split_indices
    from grammarvae.io import read_smiles

    rows = [r.smiles for r in read_smiles(path)]
    tr, va = split_indices(len(rows), val_fraction, seed=seed)
    return [rows[i] for i in tr], [rows[i] for i in va]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_argument(ap)
    add_data_argument(ap)
    ap.add_argument("--limit", type=int, default=2000, help="held-out molecules to reconstruct")
    ap.add_argument("-n", type=int, default=1000, help="prior samples")
    ap.add_argument("--no-novelty", action="store_true", help="skip canonicalising the training set")
    ap.add_argument("--prior-decoding", default="greedy", choices=["greedy", "sampled"])
    ap.add_argument("--sampled-protocol", type=int, default=0, metavar="K",
                    help="also the sampled 10 x 10 reconstruction protocol on the first K held-out molecules")
    ap.add_argument("--beam-width", type=int, metavar="K", help="also reconstruct by a beam of K")
    ap.add_argument("--seed", type=int, default=0, help="seed of the prior samples and sampled decodes (default: 0)")
    ap.add_argument("--json")
    ap.add_argument("--write-split", metavar="DIR", help="write DIR/heldout.smi and DIR/train.smi and stop")
    args = ap.parse_args()
    if args.write_split:
        train, val = moses_split(Path(args.data) / "moses" / "train.csv.gz")
        for name, rows in (("heldout", val), ("train", train)):
            path = Path(args.write_split) / f"{name}.smi"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(rows) + "\n")
            print(f"{path}: {len(rows)} SMILES")
        return
    from grammarvae.evaluate import draw, evaluate

    model = load_model(args)
    train, val = moses_split(Path(args.data) / "moses" / "train.csv.gz")
    t = time.perf_counter()
    figures = evaluate(model, draw(val, args.limit, seed=0), train=None if args.no_novelty else train, n_prior=args.n, seed=args.seed,
                       prior_decoding=args.prior_decoding, sampled_protocol=args.sampled_protocol,
                       beam_width=args.beam_width)
    figures["seconds"] = round(time.perf_counter() - t, 1)
    print(json.dumps({"model": args.model or "bundled", **figures}))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
