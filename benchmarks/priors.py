"""Which prior to sample from: N(0, I) against aggregate posteriors of several widths.

    python benchmarks/priors.py [--model zinc] [--train FILE] [--test FILE] [-n 1000]
                                [--bank 5000] [--scales 2,2.5,3,4] [--fcd] [--seed 0]

Fits `GrammarVAE.with_prior` on `--bank` random training molecules for each scale, decodes
`-n` greedy samples from each prior and from N(0, I) (the reference, in the same run), and
prints for each: rings of 8+ / 3-4 atoms and aromatic rings (beside the test molecules' own),
uniqueness, novelty against the whole training file, SNN, Frag and Scaf against `--n-test`
random test molecules, the Wasserstein distances of logP, SA, QED and MW, and FCD with
`--fcd` (the `fcd` extra). Defaults: the ZINC-250k files of the shared data.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import add_data_argument, add_model_argument, load_model  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(ap)
    add_model_argument(ap)
    ap.add_argument("--train", help="training molecules (default: DATA/zinc/zinc250k_train.smi.gz)")
    ap.add_argument("--test", help="held-out molecules (default: DATA/zinc/zinc250k_part_b.smi.gz)")
    ap.add_argument("-n", type=int, default=1000, help="samples per prior")
    ap.add_argument("--n-test", type=int, default=2000, help="random test molecules to compare with")
    ap.add_argument("--bank", type=int, default=5000, help="training molecules whose posteriors the prior holds")
    ap.add_argument("--scales", default="2,2.5,3,4")
    ap.add_argument("--fcd", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from grammarvae.io import read_smiles, sample_smiles
    from grammarvae.metrics import sample_metrics
    from grammarvae.realism import realism

    data = Path(args.data)
    train_file = Path(args.train or data / "zinc" / "zinc250k_train.smi.gz")
    test_file = Path(args.test or data / "zinc" / "zinc250k_part_b.smi.gz")
    model = load_model(args)
    train = [row.smiles for row in read_smiles(train_file)]
    test = sample_smiles(test_file, args.n_test, seed=args.seed)
    print(f"model {args.model or 'default'}; {args.n} greedy samples per prior; bank of {args.bank} of "
          f"{len(train)} training molecules; {len(test)} random test molecules ({test_file.name})")
    head = (f"{'prior':<22}{'8+ ring':>8}{'3-4 ring':>9}{'arom.':>7}{'unique':>8}{'novel':>7}{'SNN':>7}"
            f"{'Frag':>7}{'Scaf':>7}{'W1 logP':>8}{'W1 SA':>7}{'W1 QED':>7}{'W1 MW':>7}" + ("   FCD" if args.fcd else ""))
    print(head)
    reference = None
    priors = [("N(0, I)", model, "normal")]
    for scale in (float(s) for s in args.scales.split(",")):
        t = time.perf_counter()
        fitted = model.with_prior(train, size=args.bank, scale=scale, seed=args.seed)
        priors.append((f"aggregate, s = {scale:g}", fitted, "aggregate"))
        print(f"  (fitted the prior of scale {scale:g} in {time.perf_counter() - t:.0f} s)", flush=True)
    for name, m, prior in priors:
        samples = m.sample(args.n, seed=args.seed, prior=prior)
        basic = sample_metrics(samples, train=train)
        r = realism(samples, test, with_fcd=args.fcd)
        reference = reference or r
        print(f"{name:<22}{100 * r['ring8_share']:7.1f}%{100 * r['ring34_share']:8.1f}%{100 * r['aromatic_share']:6.1f}%"
              f"{100 * basic['uniqueness']:7.1f}%{100 * basic['novelty']:6.1f}%{r['snn']:7.3f}"
              f"{r['fragment_similarity']:7.3f}{r['scaffold_similarity']:7.3f}{r['wasserstein_logp']:8.2f}"
              f"{r['wasserstein_sa']:7.2f}{r['wasserstein_qed']:7.3f}{r['wasserstein_mw']:7.1f}"
              + (f"{r['fcd']:7.2f}" if args.fcd else ""), flush=True)
    print(f"{'test molecules':<22}{100 * reference['reference_ring8_share']:7.1f}%{100 * reference['reference_ring34_share']:8.1f}%"
          f"{100 * reference['reference_aromatic_share']:6.1f}%")


if __name__ == "__main__":
    main()
