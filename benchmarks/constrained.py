"""Similarity-constrained optimisation of penalised logP: JT-VAE's protocol, beside its table.

    python benchmarks/constrained.py --model zinc [--data ../shared/data] [--molecules 800]
                                     [--train 5000] [--inducing 500] [--steps 80] [--samples 1]
                                     [--image pairs.png]

Protocol (Jin, Barzilay and Jaakkola, JT-VAE, ICML 2018, section 3.3): the `--molecules` molecules
of lowest penalised logP (unstandardised: logP - SA - long rings, `penalized_logp_raw`) of the
ZINC-250k test split (zinc/zinc250k_part_b.smi.gz, 5,000 molecules), each improved by `--steps`
steps of gradient ascent from its latent mean; at each similarity threshold delta (Morgan radius 2,
2,048 bits) a molecule succeeds when a decode as similar as delta scores above it, and its
improvement is the best such decode's score minus its own. JT-VAE ascends the gradient of a
property network trained with the VAE; ours, of a sparse GP (`LatentGP`, `--inducing` points) fit
to `--train` training molecules (a seeded random draw of zinc250k_train.smi.gz). Step sizes
(0.002, 0.01, 0.05), one path each; every point decoded greedily and `--samples` times more by
sampling (seeded). Prints, per delta: the improvement and similarity (mean and standard deviation
over the successes), the success share, and the improvement over all molecules (failures count 0),
beside JT-VAE's table 3, with the ratio of our improvement to theirs.
"""

from __future__ import annotations

import argparse
import gzip
import os
import time
from pathlib import Path

from common import add_data_argument, add_model_argument, load_model

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# JT-VAE, table 3: delta -> (improvement, its std, similarity, its std, success)
JTVAE = {0.0: (1.91, 2.04, 0.28, 0.15, 0.975), 0.2: (1.68, 1.85, 0.33, 0.13, 0.971),
         0.4: (0.84, 1.45, 0.51, 0.10, 0.836), 0.6: (0.21, 0.71, 0.69, 0.06, 0.464)}


def _read(path: Path) -> list[str]:
    with gzip.open(path, "rt") as f:
        return [line.split()[0] for line in f if line.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_argument(ap)
    add_data_argument(ap)
    ap.add_argument("--molecules", type=int, default=800)
    ap.add_argument("--train", type=int, default=5000, help="training molecules the GP is fit to")
    ap.add_argument("--inducing", type=int, default=500)
    ap.add_argument("--steps", type=int, default=80)
    ap.add_argument("--samples", type=int, default=1, help="sampled decodes per point, besides the greedy one")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--image", help="write starts and their best decodes at delta 0.4 here (.png)")
    args = ap.parse_args()

    import numpy as np
    from rdkit import RDLogger

    RDLogger.DisableLog("rdApp.*")
    from grammarvae import GrammarVAE
    from grammarvae.design import LatentGP, improve, summarize
    from grammarvae.properties import score

    zinc = Path(args.data) / "zinc"
    for name in ("zinc250k_part_b.smi.gz", "zinc250k_train.smi.gz"):
        if not (zinc / name).is_file():
            raise SystemExit(f"needs {zinc / name} (the shared data folder beside the project root)")
    target = "penalized_logp_raw"
    test = _read(zinc / "zinc250k_part_b.smi.gz")
    values = score(test, target).values
    starts = [test[i] for i in np.argsort(values, kind="stable")[:args.molecules]]
    train = _read(zinc / "zinc250k_train.smi.gz")
    draw = [train[i] for i in np.random.default_rng(args.seed).choice(len(train), args.train, replace=False)]
    model = load_model(args)
    print(f"protocol: the {len(starts)} lowest {target} of {len(test)} ZINC-250k test molecules; GP of "
          f"{args.inducing} inducing points on {len(draw)} training molecules; {args.steps} steps; "
          f"greedy + {args.samples} sampled decodes; model {args.model or 'bundled default'}")

    t0 = time.time()
    Z = model.encode_checked(draw).Z.astype("float64")
    y = score(draw, target).values
    keep = np.isfinite(Z).all(1) & np.isfinite(y)
    gp = LatentGP(num_inducing=args.inducing, seed=args.seed).fit(Z[keep], y[keep])
    print(f"GP fit on {keep.sum()} molecules in {time.time() - t0:.0f} s")

    t0 = time.time()
    runs = improve(model, starts, gp, target, steps=args.steps, samples=args.samples, seed=args.seed, batch=100,
                   progress=lambda d, n: print(f"  {d}/{n} molecules ({time.time() - t0:.0f} s)", flush=True))
    encoded = sum(np.isfinite(r.start_score) and bool(r.path) for r in runs)
    print(f"\n{encoded} of {len(runs)} start molecules encoded; mean start score "
          f"{np.nanmean([r.start_score for r in runs]):.2f} ({time.time() - t0:.0f} s)")
    print(f"  {'delta':5s} {'':7s} {'improvement':>13s} {'similarity':>12s} {'success':>8s} {'all':>6s}")
    for delta, (imp, imp_sd, sim, sim_sd, success) in JTVAE.items():
        s = summarize(runs, delta)
        print(f"  {delta:5.1f} {'ours':7s} {s['improvement']:6.2f} ± {s['improvement_std']:4.2f} "
              f"{s['similarity']:5.2f} ± {s['similarity_std']:4.2f} {s['success']:8.1%} {s['improvement_all']:6.2f}")
        print(f"  {'':5s} {'JT-VAE':7s} {imp:6.2f} ± {imp_sd:4.2f} {sim:5.2f} ± {sim_sd:4.2f} {success:8.1%} "
              f"{imp * success:6.2f}   ratio (ours/JT-VAE): improvement {s['improvement'] / imp:.2f}, "
              f"over all {s['improvement_all'] / (imp * success):.2f}")
    if args.image:
        pairs = [(r, r.best(0.4)) for r in runs if r.best(0.4) is not None][:6]
        smiles = [s for r, b in pairs for s in (r.start, b.smiles)]
        legends = [t for r, b in pairs for t in (f"start {r.start_score:.2f}",
                                                 f"{b.score:.2f} (+{b.score - r.start_score:.2f}), sim {b.similarity:.2f}")]
        GrammarVAE.draw(smiles, args.image, legends=legends, mols_per_row=4)
        print(f"wrote {args.image}")


if __name__ == "__main__":
    main()
