"""Training throughput: the chosen setup against today's pipeline, measured in one run.

    python benchmarks/train_speed.py [--data ../shared/data/moses/train.csv.gz] [--rows 20000] [--batches 30]

Each setup trains the `small` preset with Keras `fit` on the same MOSES rows (Kekule
production sequences), warmed up first (tracing), then timed over --batches batches:

- today: the paper's one-shot decoder, every batch padded to 160 steps (TensorFlow);
- autoregressive, 160 steps: the autoregressive decoder, batches padded to 160 steps;
- autoregressive, by length (chosen): batches of similar lengths, each cut to its longest
  derivation (rounded up to 8 steps), which the masked loss scores exactly the same;
- the same with XLA (jit_compile) and with batches of 256, for comparison.

Prints molecules/s of each and the ratios against today's pipeline and against the same
network at 160 steps. The JAX backend was measured separately (KERAS_BACKEND=jax): slower
on this CPU (see the model card).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def throughput(X, decoder: str, by_length: bool, batch: int, batches: int, jit: bool = False) -> float:
    import keras

    from grammarvae import GrammarVAE
    from grammarvae.data import make_dataset

    m = GrammarVAE(preset="small", decoder=decoder, seed=0, beta=0.05)
    m.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit)
    ds = make_dataset(X, m.grammar.n_productions, batch_size=batch, by_length=by_length).repeat()
    m.fit(ds, steps_per_epoch=8 if not (jit and by_length) else 40, epochs=1, verbose=0)  # trace (every length)
    t = time.perf_counter()
    m.fit(ds, steps_per_epoch=batches, epochs=1, verbose=0)
    return batches * batch / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/moses/train.csv.gz"))
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--batches", type=int, default=30)
    args = ap.parse_args()
    from grammarvae.data import encode_smiles, sequence_lengths
    from grammarvae.io import iter_smiles

    if not Path(args.data).is_file():
        raise SystemExit(f"{args.data}: no such file (the MOSES training set, ../shared/data/moses/train.csv.gz)")
    smiles = [r.smiles for _, r in zip(range(args.rows), iter_smiles(args.data))]
    res = encode_smiles(smiles, 160)
    X = res.X[res.ok]
    lengths = sequence_lengths(X)
    print(f"{len(X)} MOSES rows, derivations {lengths.mean():.0f} steps on average (of 160); "
          f"{args.batches} timed batches per setup")
    setups = [("today: one-shot, 160 steps, batch 128", "one-shot", False, 128, False),
              ("autoregressive, 160 steps, batch 128", "autoregressive", False, 128, False),
              ("autoregressive, by length, batch 128 (chosen)", "autoregressive", True, 128, False),
              ("autoregressive, by length, batch 256", "autoregressive", True, 256, False),
              ("autoregressive, by length, batch 128, XLA", "autoregressive", True, 128, True)]
    rates = {}
    for name, decoder, by_length, batch, jit in setups:
        rates[name] = throughput(X, decoder, by_length, batch, args.batches, jit)
        print(f"{name:48s} {rates[name]:7.1f} molecules/s", flush=True)
    today, fixed = rates[setups[0][0]], rates[setups[1][0]]
    chosen = rates[setups[2][0]]
    print(f"chosen against today's pipeline: {chosen / today:.2f}x; against the same network at 160 steps: "
          f"{chosen / fixed:.2f}x")


if __name__ == "__main__":
    main()
