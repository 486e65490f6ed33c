"""How alike the molecules sampled around a molecule are to it, by radius.

    python benchmarks/neighbourhood.py [--model m.keras] [-n 50]

For five drugs that the MOSES model reads (paracetamol, caffeine, lidocaine, melatonin,
diazepam), `-n` neighbours each from `sample_around` at radii of 1, 1.5, 2 and 3 posterior
standard deviations; the reference is the radius the package used before, 0.5 of the prior's
unit in every dimension (z = mean + 0.5 eps), and prior samples. Prints, per radius, the mean
Tanimoto similarity of a neighbour to its molecule (Morgan radius 2, 2,048 bits), the distinct
molecules of `-n`, the share that is the molecule itself, and the ring shares of realism.
"""

from __future__ import annotations

import argparse
import os

from common import add_model_argument, load_model

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DRUGS = {"paracetamol": "CC(=O)Nc1ccc(O)cc1", "caffeine": "Cn1cnc2c1c(=O)n(C)c(=O)n2C",
         "lidocaine": "CCN(CC)CC(=O)Nc1c(C)cccc1C", "melatonin": "COc1ccc2[nH]cc(CCNC(C)=O)c2c1",
         "diazepam": "CN1C(=O)CN=C(c2ccccc2)c2cc(Cl)ccc21"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_argument(ap)
    ap.add_argument("-n", type=int, default=50, help="neighbours of each molecule")
    args = ap.parse_args()

    import numpy as np
    from rdkit import RDLogger

    from grammarvae.chem import canonical
    from grammarvae.metrics import mean_similarity, reconstruction_accuracy
    from grammarvae.realism import ring_shares

    RDLogger.DisableLog("rdApp.*")
    model = load_model(args)
    means = model.encode(list(DRUGS.values()))
    eps = np.random.default_rng(0).standard_normal((args.n, model.latent_dim)).astype("float32")

    def around(scale):
        return lambda i, smiles: model.sample_around(smiles, n=args.n, scale=scale, seed=0)

    ways = {f"{r:g} posterior std": around(r) for r in (1.0, 1.5, 2.0, 3.0)}
    ways["0.5 prior unit (before)"] = lambda i, smiles: model.decode(means[i] + 0.5 * eps)  # the earlier radius
    ways["prior samples"] = lambda i, smiles: model.sample(args.n, seed=i)
    print(f"{'radius':24s} {'similarity':>10s} {'distinct':>9s} {'itself':>7s} {'8+ ring':>8s} {'3-4 ring':>9s} "
          f"{'aromatic':>9s}")
    figures = {}
    for name, draw in ways.items():
        sims, distinct, itself, every = [], [], [], []
        for i, smiles in enumerate(DRUGS.values()):
            out = draw(i, smiles)
            sims.append(mean_similarity([smiles] * len(out), out))
            distinct.append(len({canonical(s) for s in out}))
            itself.append(reconstruction_accuracy([smiles] * len(out), out))
            every += out
        rings = ring_shares(every)
        figures[name] = np.mean(sims)
        print(f"{name:24s} {np.mean(sims):10.3f} {np.mean(distinct):9.1f} {np.mean(itself):7.0%} "
              f"{rings['ring8_share']:8.1%} {rings['ring34_share']:9.1%} {rings['aromatic_share']:9.1%}")
    print(f"ratio of similarity, the default (2 posterior std) to the earlier radius: "
          f"{figures['2 posterior std'] / figures['0.5 prior unit (before)']:.2f}")

if __name__ == "__main__":
    main()
