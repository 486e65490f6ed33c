"""Parse throughput: nltk's ChartParser (the reference) against `Grammar.parse`, one run.

    python benchmarks/parse.py [--data ../shared/data] [--n 20000] [--n-nltk 200]

For each data set: both throughputs and their ratio, how many of the molecules nltk
parsed got the identical production sequence from `Grammar.parse`, and the longest
production sequence seen. `Grammar.parse` memoises the LR stack effect of each
atom-sized chunk, so its throughput is reported twice: the first pass over the sample
(the memo starts empty) and a second pass (memo warm, as in training epochs).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


from grammarvae import Grammar
from grammarvae.io import sample_smiles

from common import add_data_argument

SETS = {"zinc": "zinc/zinc250k_part_a.smi.gz", "moses": "moses/train.csv.gz"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(ap)
    ap.add_argument("--n", type=int, default=20000, help="molecules per data set for Grammar.parse")
    ap.add_argument("--n-nltk", type=int, default=200, help="molecules per data set for nltk")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    for name, rel in SETS.items():
        path = Path(args.data) / rel
        if not path.exists():
            print(f"{name}: {path} missing, skipped")
            continue
        smiles = sample_smiles(path, args.n, seed=args.seed)
        g = Grammar(Grammar.load("zinc").cfg_text, name="zinc")  # fresh memo
        chart = g.chart_parser()
        ref_set = smiles[: args.n_nltk]
        t = time.perf_counter()
        ref = [[g.index[p] for p in next(chart.parse(g.tokenize(s))).productions()] for s in ref_set]
        t_nltk = (time.perf_counter() - t) / len(ref_set)
        t = time.perf_counter()
        ours = [g.parse(s) for s in smiles]
        t_cold = (time.perf_counter() - t) / len(smiles)
        t = time.perf_counter()
        for s in smiles:
            g.parse(s)
        t_warm = (time.perf_counter() - t) / len(smiles)
        same = sum(a == b for a, b in zip(ref, ours))
        longest = max(range(len(smiles)), key=lambda i: len(ours[i]))
        print(f"{name}: nltk ChartParser {1 / t_nltk:9.1f} mol/s ({len(ref_set)} molecules)")
        print(f"{name}: Grammar.parse    {1 / t_cold:9.1f} mol/s first pass ({len(smiles)} molecules), "
              f"ratio {t_nltk / t_cold:6.1f}x")
        print(f"{name}: Grammar.parse    {1 / t_warm:9.1f} mol/s second pass, ratio {t_nltk / t_warm:6.1f}x")
        print(f"{name}: identical sequences {same}/{len(ref_set)}; "
              f"longest sequence {len(ours[longest])} productions ({smiles[longest]})")


if __name__ == "__main__":
    main()
