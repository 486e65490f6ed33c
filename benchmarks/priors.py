"""Which prior to sample from: N(0, I) against aggregate posteriors of several widths.

    python benchmarks/priors.py [--model zinc] [--train FILE] [--test FILE] [-n 1000]
                                [--bank 5000] [--scales 2,2.5,3,4] [--fcd] [--seed 0]
                                [--avoid-rings none]

Fits `GrammarVAE.with_prior` on `--bank` random training molecules for each scale, decodes
`-n` greedy samples from each prior and from N(0, I) (the reference, in the same run), and
prints for each: rings of 8+ / 3-4 atoms and aromatic rings (beside the test molecules' own),
uniqueness, novelty against the whole training file, SNN, Frag and Scaf against `--n-test`
random test molecules, the Wasserstein distances of logP, SA, QED and MW, and FCD with
`--fcd` (the `fcd` extra). Samples are decoded with no ring-size preference unless
`--avoid-rings` names one (`sample`'s default, 4,8+, is measured by `ring_sizes.py`).
Defaults: the ZINC-250k files of the shared data.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (REALISM_HEAD, add_data_argument, add_model_argument, add_sample_arguments, load_model,  # noqa: E402
                    realism_row, reference_row, sample_data)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(ap)
    add_model_argument(ap)
    add_sample_arguments(ap)
    ap.add_argument("--bank", type=int, default=5000, help="training molecules whose posteriors the prior holds")
    ap.add_argument("--scales", default="2,2.5,3,4")
    ap.add_argument("--fcd", action="store_true")
    ap.add_argument("--avoid-rings", default="none", help="ring sizes the samples avoid (default: none)")
    args = ap.parse_args()

    model = load_model(args)
    train, test, test_file = sample_data(args)
    print(f"model {args.model or 'default'}; {args.n} greedy samples per prior; bank of {args.bank} of "
          f"{len(train)} training molecules; {len(test)} random test molecules ({test_file.name})")
    print(f"{'prior':<22}" + REALISM_HEAD[22:] + ("   FCD" if args.fcd else ""))
    reference = None
    priors = [("N(0, I)", model, "normal")]
    for scale in (float(s) for s in args.scales.split(",")):
        t = time.perf_counter()
        fitted = model.with_prior(train, size=args.bank, scale=scale, seed=args.seed)
        priors.append((f"aggregate, s = {scale:g}", fitted, "aggregate"))
        print(f"  (fitted the prior of scale {scale:g} in {time.perf_counter() - t:.0f} s)", flush=True)
    for name, m, prior in priors:
        samples = m.sample(args.n, seed=args.seed, prior=prior, avoid_rings=args.avoid_rings)
        row, r = realism_row(name, samples, test, train, fcd=args.fcd)
        reference = reference or r
        print(row, flush=True)
    print(reference_row(reference))


if __name__ == "__main__":
    main()
