"""Training throughput: the chosen setup against today's pipeline, measured in one run.

    python benchmarks/train_speed.py [--data ../shared/data/moses/train.csv.gz] [--rows 20000] [--batches 30]
    python benchmarks/train_speed.py --set zinc [--data ../shared/data/zinc/zinc250k_train.smi.gz]

--set moses (the default):
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

--set zinc: the ZINC-250k run's choices, on ZINC batches (277 steps, batches by length).
Every setup starts from the bundled ZINC model's weights (or from scratch where the network
differs) and trains --batches batches with Adam at 1.25e-4, as the run does today:

- today's recipe: float32, batch 128, GRU 256;
- mixed_bfloat16 (this CPU's AVX-512 BF16), batch 128; float32 and mixed_bfloat16 at batch 256;
- GRU 384 and GRU 192 from scratch (the width), against GRU 256 from scratch.

Beside molecules/s and the ratio against today's recipe, each prints the reconstruction
loss of the first 1,000 molecules of the validation file (zinc250k_part_a) after its
batches, computed in float32 (bfloat16's weights cast back) and, for bfloat16, in the policy
itself: what bfloat16 costs in accuracy, not only what it gains in speed.
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


def zinc_setup(X, V, policy: str, batch: int, batches: int, gru: int | None) -> tuple[float, float, float]:
    """Molecules/s of one ZINC setup, and the held-out reconstruction loss after its batches
    (float32, and in its own policy). gru=None: the bundled ZINC network and weights."""
    import keras

    from grammarvae import GrammarVAE
    from grammarvae.data import make_dataset

    src = GrammarVAE.pretrained("zinc")
    config = src.get_config() if gru is None else {**src.get_config(), "gru": [gru], "seed": 0}
    keras.config.set_dtype_policy(policy)
    try:
        m = GrammarVAE.from_config(config)
        if gru is None:
            m.set_weights(src.get_weights())
        m.compile(optimizer=keras.optimizers.Adam(1.25e-4))
        ds = make_dataset(X, m.grammar.n_productions, batch_size=batch, by_length=True, seed=0).repeat()
        m.fit(ds, steps_per_epoch=8, epochs=1, verbose=0)  # trace (the lengths met first)
        t = time.perf_counter()
        m.fit(ds, steps_per_epoch=batches, epochs=1, verbose=0)
        rate = batches * batch / (time.perf_counter() - t)
        held = make_dataset(V, m.grammar.n_productions, batch_size=128, by_length=True, shuffle=False)
        own = m.evaluate(held, return_dict=True, verbose=0)["reconstruction_loss"]
        weights = m.get_weights()
    finally:
        keras.config.set_dtype_policy("float32")
    f32 = GrammarVAE.from_config(config)
    f32.set_weights(weights)
    f32.compile(optimizer="adam")
    held = make_dataset(V, f32.grammar.n_productions, batch_size=128, by_length=True, shuffle=False)
    return rate, f32.evaluate(held, return_dict=True, verbose=0)["reconstruction_loss"], own


def zinc(args) -> None:
    from grammarvae.data import encode_smiles, sequence_lengths
    from grammarvae.io import iter_smiles

    valid = Path(args.data).with_name("zinc250k_part_a.smi.gz")
    for f in (args.data, valid):
        if not Path(f).is_file():
            raise SystemExit(f"{f}: no such file (ZINC-250k, ../shared/data/zinc/)")
    res = encode_smiles([r.smiles for _, r in zip(range(args.rows), iter_smiles(args.data))], 277)
    X = res.X[res.ok]
    held = encode_smiles([r.smiles for _, r in zip(range(1000), iter_smiles(valid))], 277)
    V = held.X[held.ok]
    print(f"{len(X)} ZINC-250k rows, derivations {sequence_lengths(X).mean():.0f} steps on average (of 277); "
          f"{args.batches} timed batches per setup; held-out: {len(V)} rows of {valid.name}")
    setups = [("today: float32, batch 128, GRU 256 (bundled)", "float32", 128, None),
              ("mixed_bfloat16, batch 128, GRU 256 (bundled)", "mixed_bfloat16", 128, None),
              ("float32, batch 256, GRU 256 (bundled)", "float32", 256, None),
              ("mixed_bfloat16, batch 256, GRU 256 (bundled)", "mixed_bfloat16", 256, None),
              ("float32, batch 128, GRU 256 (from scratch)", "float32", 128, 256),
              ("float32, batch 128, GRU 384 (from scratch)", "float32", 128, 384),
              ("float32, batch 128, GRU 192 (from scratch)", "float32", 128, 192)]
    print(f"{'setup':48s} {'mol/s':>7s} {'ratio':>6s} {'held-out loss (f32 / own)':>26s}")
    today = None
    for name, policy, batch, gru in setups:
        rate, loss, own = zinc_setup(X, V, policy, batch, args.batches, gru)
        today = today or rate
        own_text = f" / {own:.3f}" if policy != "float32" else ""
        print(f"{name:48s} {rate:7.1f} {rate / today:5.2f}x {loss:18.3f}{own_text}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", choices=("moses", "zinc"), default="moses")
    ap.add_argument("--data", default=None)
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--batches", type=int, default=30)
    args = ap.parse_args()
    shared = Path(__file__).resolve().parents[2] / "shared/data"
    if args.set == "zinc":
        args.data = args.data or str(shared / "zinc/zinc250k_train.smi.gz")
        return zinc(args)
    args.data = args.data or str(shared / "moses/train.csv.gz")
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
