"""Masked decoding speed: the vectorised `MaskedDecoder` against a straightforward reference.

    python benchmarks/decode.py [--n 1000] [--preset small [--max-len 277] | --pretrained]
    python benchmarks/decode.py --autoregressive [--model runs/ar.keras]

References, on the same logits: the same decoding written independently per molecule
(`grammarvae.decoding.reference`: atoms, bonds and rings in plain Python; its output must
be identical, a check of the vectorised code as well as a timing); and two grammar-only
loops without the chemistry,
the paper's (Python stacks of nltk nonterminals per molecule, exp-masked logits batched
per step) and a lean per-molecule one. Both decode the same logits: those of an untrained `preset` model at n prior
points. Prints both throughputs and their ratio, and the share of a full decode (network
forward pass + masking) spent masking. Each decoder's time is the best of --repeats runs.
"""

from __future__ import annotations

import argparse
import time
from typing import Callable

import numpy as np


def paper_decode(g, logits: np.ndarray) -> np.ndarray:
    """The paper's loop: per step, pop every molecule's Python stack, mask exp(logits) by
    the popped nonterminal across the batch, take the best, push the chosen production's
    nonterminal children (read from the nltk production) molecule by molecule."""
    import nltk

    B, T, P = logits.shape
    stacks = [[g.start] for _ in range(B)]
    nothing = nltk.Nonterminal("Nothing")
    out = np.zeros((B, T), dtype=np.int64)
    for t in range(T):
        tops = [s.pop() if s else nothing for s in stacks]
        mask = g.masks[[g.nt_index[x.symbol()] for x in tops]]
        masked = np.exp(logits[:, t, :]) * mask + 1e-100
        with np.errstate(divide="ignore"):  # 1e-100 underflows to 0 in float32: log(0) = -inf
            chosen = np.argmax(np.log(masked), axis=-1)
        out[:, t] = chosen
        for b in range(B):
            rhs = [a for a in g.productions[chosen[b]].rhs()
                   if isinstance(a, nltk.Nonterminal) and a.symbol() != "None"]
            stacks[b].extend(rhs[::-1])
    return out


def reference_decode(g, logits: np.ndarray) -> np.ndarray:
    """A leaner per-molecule loop: int stacks, numpy mask and argmax per molecule and step."""
    B, T, _ = logits.shape
    out = np.full((B, T), g.pad, dtype=np.int64)
    start = g.nt_index[g.start.symbol()]
    for b in range(B):
        stack = [start]
        for t in range(T):
            if not stack:
                break
            top = stack.pop()
            p = int(np.argmax(np.where(g.masks[top], logits[b, t], -np.inf)))
            out[b, t] = p
            stack.extend(reversed(g.rhs_nonterminals[p]))
    return out


def best_of(repeats: int, fn: Callable[[], object]) -> tuple[float, object]:
    """The shortest of `repeats` timed calls, and the last call's result."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--preset", default="small")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-len", type=int, help="steps of the untrained model (default: the preset's; ZINC: 277)")
    ap.add_argument("--pretrained", action="store_true", help="the bundled trained model's logits instead of an untrained preset")
    ap.add_argument("--batch", type=int, default=None, help="molecules decoded together (default: GrammarVAE.decode's chunk)")
    ap.add_argument("--repeats", type=int, default=3, help="time each decoder as the best of this many runs")
    ap.add_argument("--autoregressive", action="store_true",
                    help="time autoregressive decoding (network stepped per production): greedy, and beam search by width")
    ap.add_argument("--model", help="a saved autoregressive model (default: an untrained one of --preset)")
    ap.add_argument("--widths", default="1,2,4,8", help="beam widths to time (--autoregressive)")
    args = ap.parse_args()
    from grammarvae import GrammarVAE
    from grammarvae.models.gvae import DECODE_CHUNK

    args.batch = args.batch or DECODE_CHUNK

    from grammarvae.decoding.reference import reference_decode as independent_decode

    if args.autoregressive:
        return autoregressive(args)
    m = GrammarVAE.pretrained() if args.pretrained else GrammarVAE(preset=args.preset, seed=args.seed,
                                                                   max_len=args.max_len)
    z = np.random.default_rng(args.seed).standard_normal((args.n, m.latent_dim)).astype("float32")
    m.decoder.predict(z, batch_size=256, verbose=0)  # warm up: trace every batch shape first
    t = time.perf_counter()
    logits = m.decoder.predict(z, batch_size=256, verbose=0)
    t_net = time.perf_counter() - t
    engine = m.decoder_engine
    r = args.repeats
    t_ours, parts = best_of(r, lambda: [engine.decode_ids(logits[i:i + args.batch])
                                        for i in range(0, len(logits), args.batch)])
    ids = np.concatenate([p[0] for p in parts])
    drop = [d for p in parts for d in p[1]]
    t_ref, ref = best_of(r, lambda: reference_decode(m.grammar, logits))
    t_paper, paper = best_of(r, lambda: paper_decode(m.grammar, logits))
    t_scalar, scalar = best_of(r, lambda: independent_decode(m.grammar, logits))
    t = time.perf_counter()
    smiles = engine.to_smiles(ids, drop)
    t_rdkit = time.perf_counter() - t
    valid = sum(s is not None for s in smiles)
    ref_done = sum(1 for r in ref if r[-1] == m.grammar.pad)
    print(f"{'bundled model' if args.pretrained else 'untrained ' + args.preset}: {args.n} molecules, {logits.shape[1]} steps, {logits.shape[2]} productions")
    print(f"reference, the same decoding per molecule (independent): {args.n / t_scalar:9.1f} mol/s  ({t_scalar:.2f} s), "
          f"identical output for {int((scalar == ids).all(axis=1).sum())}/{args.n} molecules")
    print(f"reference, the paper's loop (grammar masks): {args.n / t_paper:9.1f} mol/s  ({t_paper:.2f} s)")
    print(f"reference, lean per-molecule loop:           {args.n / t_ref:9.1f} mol/s  ({t_ref:.2f} s)")
    print(f"MaskedDecoder (vectorised, batches of {args.batch}):  {args.n / t_ours:9.1f} mol/s  ({t_ours:.2f} s)")
    print(f"ratio against the same decoding per molecule: {t_scalar / t_ours:.1f}x; against the paper's "
          f"grammar-only loop: {t_paper / t_ours:.1f}x; against the lean grammar-only loop: {t_ref / t_ours:.1f}x")
    same = int((paper == ref).all(axis=1).sum())
    print(f"the two references agree on {same}/{args.n} molecules")
    print(f"network forward {t_net:.2f} s, masking {t_ours:.2f} s, SMILES + RDKit {t_rdkit:.2f} s: "
          f"masking is {100 * t_ours / (t_net + t_ours):.1f}% of forward + masking, "
          f"{100 * t_ours / (t_net + t_ours + t_rdkit):.1f}% of the whole decode")
    print(f"valid molecules: {valid}/{args.n} (reference derivations finished: {ref_done}/{args.n}); "
          f"rings dropped at the end: {sum(map(len, drop))}")


class _Timed:
    """A network whose `step` calls are timed, to split a decode into network and masking."""

    def __init__(self, network):
        self.network, self.seconds = network, 0.0

    def start(self, z):
        t = time.perf_counter()
        out = self.network.start(z)
        self.seconds += time.perf_counter() - t
        return out

    def step(self, previous, state):
        t = time.perf_counter()
        logits, state = self.network.step(previous, state)
        logits = np.asarray(logits)
        self.seconds += time.perf_counter() - t
        return logits, state


def autoregressive(args) -> None:
    """Greedy autoregressive decoding of n prior points in one batch (network and masking
    together), the masking's share, and beam search's cost per width on n / 10 points."""
    from grammarvae import GrammarVAE
    from grammarvae.models.autoregressive import masked_beam_search, masked_generate

    m = GrammarVAE.named(args.model) if args.model else GrammarVAE(preset=args.preset, seed=args.seed,
                                                                  decoder="autoregressive", max_len=args.max_len)
    if not m.autoregressive:
        raise SystemExit(f"{args.model}: not an autoregressive model")
    z = np.random.default_rng(args.seed).standard_normal((args.n, m.latent_dim)).astype("float32")
    def greedy(precision: str):
        """(seconds, network seconds, ids) of the best of --repeats greedy decodes of z."""
        m.set_step_precision(precision)
        masked_generate(m.decoder_engine, m.decoder, z[:16], m.max_len)  # warm up
        best = None
        for _ in range(args.repeats):
            net = _Timed(m.decoder)
            t = time.perf_counter()
            ids, _ = masked_generate(m.decoder_engine, net, z, m.max_len)
            total = time.perf_counter() - t
            if best is None or total < best[0]:
                best = (total, net.seconds, ids)
        return best

    total, network, ids = greedy("float32")
    steps = int((ids != m.grammar.pad).sum(1).mean())
    print(f"{'model ' + args.model if args.model else 'untrained ' + args.preset} (autoregressive): "
          f"{args.n} prior points in one batch, mean derivation {steps} steps")
    print(f"greedy: {args.n / total:9.1f} mol/s ({total:.2f} s): network {network:.2f} s, masking "
          f"{total - network:.2f} s = {100 * (total - network) / total:.1f}% of the decode")
    low, low_network, low_ids = greedy("bfloat16")  # the same, the step's matrix products in bfloat16
    m.set_step_precision("float32")
    same = int((low_ids == ids).all(axis=1).sum())
    print(f"greedy, products in bfloat16 (set_step_precision): {args.n / low:9.1f} mol/s ({low:.2f} s): "
          f"network {low_network:.2f} s; {total / low:.2f}x float32; the same derivation for {same}/{args.n}")
    n = max(1, args.n // 10)
    base = None
    for width in (int(w) for w in args.widths.split(",")):
        t = time.perf_counter()
        masked_beam_search(m.decoder_engine, m.decoder, z[:n], m.max_len, width)
        dt = time.perf_counter() - t
        base = base or dt
        print(f"beam width {width:2d}: {n / dt:8.1f} mol/s ({dt:.2f} s for {n}), {dt / base:.1f}x the time of width "
              f"{args.widths.split(',')[0]}")


if __name__ == "__main__":
    main()
