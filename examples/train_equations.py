"""Train the bundled equation model: a Grammar VAE over the paper's expression grammar.

    python examples/train_equations.py -o grammarvae/pretrained/grammarvae_equations.keras [--epochs 50]

The recipe follows the Grammar VAE paper's equation model (section 4.1; its released code)
where it could be measured to work: 100,000 distinct random expressions of at most 15
productions (`grammarvae.equations.generate`, seed 0), derivations of 15 steps, convolutions
with kernels 2, 3 and 4, a dense layer of 100, a latent space of 25, three GRUs of 100 and the
one-shot decoder, the plain language (the text itself: no RDKit), Adam at 1e-3 in batches of
256. Two changes, each measured on 18,000 expressions over 6 epochs (the model card): 32
filters per convolution where the paper has 2, 3 and 4, and the objective reconstruction +
0.01 KL. With the paper's 2-4 filters the encoder carried little (reconstruction 19.5 -> 14.5
nats even with no KL at all); with KL weights of 0.05 (and the molecule models' MMD term) or
1, the decoder learned to ignore z (KL under 0.01 nats, every decode the same); the paper's
code avoids that by sampling z with 0.01 times the posterior's standard deviation. A
fixed-seed 10% is held out; the script prints each epoch's losses and, at the end, the
share of held-out expressions decoded back exactly and of 1,000 prior samples that are
distinct.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--beta", type=float, default=0.01)
    ap.add_argument("--mmd-weight", type=float, default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import keras
    import numpy as np

    from grammarvae import GrammarVAE
    from grammarvae.batches import split_indices
    from grammarvae.equations import generate
    from grammarvae.grammar import Grammar
    from grammarvae.train import save_atomically

    g = Grammar.load("equations")
    t = time.perf_counter()
    expressions = generate(g, args.n, max_steps=15, seed=args.seed)
    model = GrammarVAE(preset="equations", grammar="equations", language="plain", seed=args.seed,
                       beta=args.beta, mmd_weight=args.mmd_weight)
    X = model.to_ids(expressions)
    train, held = split_indices(len(X), 0.1, seed=args.seed)
    print(f"{len(expressions)} expressions drawn and parsed in {time.perf_counter() - t:.0f} s; "
          f"training on {len(train)}, holding out {len(held)}", flush=True)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(model.dataset(X[train], batch_size=256, seed=args.seed),
              validation_data=model.dataset(X[held], batch_size=1000, shuffle=False),
              epochs=args.epochs, verbose=2)
    model.trained_productions = sorted(int(p) for p in np.unique(X[train]))
    from pathlib import Path

    save_atomically(model, Path(args.output))
    back = model.decode(model.encode([expressions[i] for i in held]))
    exact = np.mean([a == b for a, b in zip(back, (expressions[i] for i in held))])
    samples = model.sample(1000, seed=0)
    print(f"held-out expressions back exactly: {100 * exact:.1f}% of {len(held)}; 1,000 prior samples: "
          f"all of the grammar, {len(set(samples))} distinct; wrote {args.output}")


if __name__ == "__main__":
    main()
