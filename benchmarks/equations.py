"""The Grammar VAE paper's symbolic-regression table, on the bundled equation model.

    python benchmarks/equations.py [--model equations] [--simulations 10] [--data-size 100000]
                                   [--prior-samples 1000] [--seed 0]

The paper's protocol (Kusner, Paige and Hernandez-Lobato 2017, section 4.1, and its released
code): the 100,000 training expressions (`grammarvae.equations.generate`, seed 0) are encoded
and scored (log(1 + MSE) against 1/3 + x + sin(x * x) on 1,000 points in [-10, 10]); in each of
`--simulations` runs, a sparse GP of 500 inducing points is fit to a random 90% of them and
5 iterations of batched expected improvement propose 50 latent points each, decoded and
scored, the GP refit each time (`grammarvae.design.optimize`, minimising). Printed: the
fraction of prior samples that are valid expressions, the fraction of proposals that are,
the average score of the proposals (all, and without those that score log(1 + 1000), the
cap, as the paper's code averages), and the three best expressions found with their scores.
`--data-size` encodes fewer expressions, for a quicker run (the GP's cost grows with it).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import add_model_argument  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_argument(ap)
    ap.add_argument("--simulations", type=int, default=10)
    ap.add_argument("--data-size", type=int, default=100_000)
    ap.add_argument("--prior-samples", type=int, default=1000)
    ap.add_argument("--max-iters", type=int, default=100, help="GP fit iterations (L-BFGS)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import numpy as np

    from grammarvae import GrammarVAE
    from grammarvae.design import optimize
    from grammarvae.equations import WORST, generate, score
    from grammarvae.grammar import Grammar

    model = GrammarVAE.named(args.model or "equations")
    g = model.grammar
    if g.cfg_text != Grammar.load("equations").cfg_text:
        raise SystemExit("the model's grammar is not the paper's expression grammar (grammars/equations.cfg)")
    t = time.perf_counter()
    data = generate(g, 100_000, max_steps=15, seed=0)[:args.data_size]
    scores = np.array([score(g, e) for e in data])
    print(f"{len(data)} expressions, scored in {time.perf_counter() - t:.0f} s: best {scores.min():.3f} "
          f"({data[int(scores.argmin())]}), mean {scores.mean():.2f}", flush=True)
    samples = model.sample(args.prior_samples, seed=args.seed)
    valid = int(g.encode_checked(samples, max_len=model.max_len).ok.sum())
    print(f"prior samples: {valid}/{len(samples)} valid expressions, {len(set(samples))} distinct", flush=True)

    def equation_score(text: str) -> float:
        return score(g, text)

    equation_score.__name__ = "log(1 + MSE)"
    rows, found = [], {}
    rng = np.random.default_rng(args.seed)
    for sim in range(1, args.simulations + 1):
        t = time.perf_counter()
        part = np.sort(rng.permutation(len(data))[:int(round(0.9 * len(data)))])
        run = optimize(model, [data[i] for i in part], equation_score, iterations=5, batch=50, seed=args.seed + sim,
                       num_inducing=500, max_iters=args.max_iters, score_decoded=False, minimize=True)
        s = np.array([p.score for p in run.proposals])
        capped = s[s < np.log1p(WORST)]
        rows.append((len(s) / 250, s.mean(), capped.mean() if len(capped) else np.nan, s.min()))
        for p in run.proposals:
            found[p.smiles] = min(p.score, found.get(p.smiles, np.inf))
        best = run.best(1)[0]
        print(f"simulation {sim}: {len(s)} proposals, mean score {s.mean():.2f} ({capped.mean():.2f} without the cap), "
              f"best {best.score:.3f} {best.smiles}  [{time.perf_counter() - t:.0f} s]", flush=True)
    r = np.array(rows)
    print(f"\n{'':34}{'ours':>16}")
    print(f"{'fraction of valid proposals':34}{r[:, 0].mean():10.2f} +- {r[:, 0].std() / np.sqrt(len(r)):.2f}")
    print(f"{'average score, all proposals':34}{r[:, 1].mean():10.2f} +- {r[:, 1].std() / np.sqrt(len(r)):.2f}")
    print(f"{'average score, the paper`s way':34}{np.nanmean(r[:, 2]):10.2f} +- {np.nanstd(r[:, 2]) / np.sqrt(len(r)):.2f}")
    print("best expressions found (over all simulations):")
    for text, value in sorted(found.items(), key=lambda kv: kv[1])[:3]:
        print(f"  {value:.3f}  {text}")


if __name__ == "__main__":
    main()
