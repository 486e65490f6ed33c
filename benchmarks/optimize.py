"""Bayesian optimisation of penalised logP in the latent space: the Grammar VAE paper's protocol,
scaled to this CPU.

    python benchmarks/optimize.py [--model m.keras] [--data ../shared/data] [--molecules 5000]
                                  [--iterations 5] [--batch 50] [--seeds 2] [--plot best.png]
                                  [--image top.png]

Protocol (the paper: all 250k ZINC molecules, a sparse GP of 500 inducing points, batches of
50, 10 runs; here by default): the first `--molecules` ZINC-250k molecules of the shared data
(zinc/zinc250k_part_a.smi.gz), encoded to latent means and scored by penalised logP with the
papers' ZINC-250k standardisation; a sparse GP of `--inducing` points; `--iterations` rounds of
`--batch` proposals; seeds 0 to `--seeds` - 1. Prints:

- the GP's held-out log-likelihood and RMSE on penalised logP (fit on 90% of the encoded
  molecules, tested on the other 10%), beside the JT-VAE paper's table for the same measure;
- the top-3 penalised logP found over all seeds, beside the papers' top-3 (CVAE, GVAE, SD-VAE,
  JT-VAE as JT-VAE's table reports them), and the best in the starting molecules;
- the shares of proposals that are valid and novel (not among the starting molecules).
"""

from __future__ import annotations

import argparse
import gzip
import os
import time
from pathlib import Path

from common import add_data_argument, add_model_argument, load_model

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Jin et al. 2018 (JT-VAE), table 2: the three best penalised logP found by BO, and the sparse
# GP's held-out log-likelihood and RMSE on penalised logP.
PAPERS = {"CVAE": ((1.98, 1.42, 1.19), -1.812, 1.504), "GVAE": ((2.94, 2.89, 2.80), -1.739, 1.404),
          "SD-VAE": ((4.04, 3.50, 2.96), -1.697, 1.366), "JT-VAE": ((5.30, 4.93, 4.49), -1.658, 1.290)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_argument(ap)
    add_data_argument(ap)
    ap.add_argument("--molecules", type=int, default=5000)
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--inducing", type=int, default=500)
    ap.add_argument("--plot", help="write the best score per iteration of each seed here (.png)")
    ap.add_argument("--image", help="write a grid of the best 12 distinct proposals here (.png)")
    args = ap.parse_args()

    import numpy as np
    from rdkit import RDLogger

    RDLogger.DisableLog("rdApp.*")
    from grammarvae import GrammarVAE
    from grammarvae.design import LatentGP, Optimization, optimize
    from grammarvae.properties import score

    path = Path(args.data) / "zinc" / "zinc250k_part_a.smi.gz"
    if not path.is_file():
        raise SystemExit(f"needs {path} (the shared data folder beside the project root)")
    with gzip.open(path, "rt") as f:
        smiles = [line.split()[0] for line in f if line.strip()][:args.molecules]
    model = load_model(args)
    print(f"protocol: {len(smiles)} ZINC-250k molecules, sparse GP of {args.inducing} inducing points, "
          f"{args.iterations} iterations of {args.batch}, seeds 0-{args.seeds - 1}; model {args.model or 'bundled'}")

    t0 = time.time()
    Z = model.encode_checked(smiles).Z.astype("float64")
    y = score(smiles, "penalized_logp").values
    keep = np.isfinite(Z).all(1) & np.isfinite(y)
    print(f"encoded and scored {keep.sum()} of {len(smiles)} ({time.time() - t0:.0f} s); "
          f"best penalised logP among them {y[keep].max():.2f}")
    idx = np.flatnonzero(keep)
    order = np.random.default_rng(0).permutation(len(idx))
    cut = int(0.9 * len(idx))
    tr, te = idx[order[:cut]], idx[order[cut:]]
    t0 = time.time()
    gp = LatentGP(num_inducing=args.inducing, seed=0).fit(Z[tr], y[tr])
    ll, rmse = gp.log_likelihood(Z[te], y[te]), gp.rmse(Z[te], y[te])
    print(f"\nGP on penalised logP, fit on {len(tr)}, held out {len(te)} ({time.time() - t0:.0f} s):")
    print(f"  {'':8s} {'log-lik':>8s} {'RMSE':>6s}")
    print(f"  {'ours':8s} {ll:8.3f} {rmse:6.3f}   (the mean predictor's RMSE: {y[te].std():.3f})")
    for name, (_, p_ll, p_rmse) in PAPERS.items():
        print(f"  {name:8s} {p_ll:8.3f} {p_rmse:6.3f}")

    runs, t0 = [], time.time()
    for seed in range(args.seeds):
        runs.append(optimize(model, smiles, "penalized_logp", iterations=args.iterations, batch=args.batch,
                             seed=seed, num_inducing=args.inducing,
                             progress=lambda d, n: print(f"  seed {seed}: iteration {d}/{n} "
                                                         f"({time.time() - t0:.0f} s)", flush=True)))
    # all seeds' proposals as one run, so that best() and shares() count them together
    merged = Optimization("penalized_logp", runs[0].data_best, runs[0].known,
                          [p for r in runs for p in r.proposals])
    top, shares = merged.best(3), merged.shares()
    print(f"\n{shares['proposals']} proposals in {time.time() - t0:.0f} s: valid {shares['valid']:.1%}, "
          f"novel {shares['novel']:.1%}, distinct {shares['unique']:.1%}")
    print(f"  {'':8s} {'1st':>6s} {'2nd':>6s} {'3rd':>6s}")
    print(f"  {'ours':8s} " + " ".join(f"{p.score:6.2f}" for p in top[:3]))
    for name, (t3, _, _) in PAPERS.items():
        print(f"  {name:8s} " + " ".join(f"{v:6.2f}" for v in t3))
    print(f"ratio of our best to JT-VAE's: {top[0].score / PAPERS['JT-VAE'][0][0]:.2f}")
    for p in top[:3]:
        print(f"  {p.score:6.2f}  seed run, iteration {p.iteration}: {p.smiles}")
    if args.plot:
        from grammarvae.plots import curve

        curve(args.plot, range(args.iterations + 1), {f"seed {i}": r.best_per_iteration() for i, r in enumerate(runs)},
              xlabel="iteration (0: the starting molecules)", ylabel="best penalised logP",
              title="Bayesian optimisation in the latent space",
              references={f"{n} best": t3[0] for n, (t3, _, _) in PAPERS.items() if n in ("GVAE", "JT-VAE")})
        print(f"wrote {args.plot}")
    if args.image:
        best = merged.best(12)
        GrammarVAE.draw([p.smiles for p in best], args.image,
                        legends=[f"{p.score:.2f}, iteration {p.iteration}" for p in best])
        print(f"wrote {args.image}")


if __name__ == "__main__":
    main()
