"""Prior samples decoded with ring sizes avoided, against no preference, in one run.

    python benchmarks/ring_sizes.py [--model zinc] [--train FILE] [--test FILE] [-n 1000]
                                    [--avoid none,4,8+;3,4,8+;4,7+] [--beam-width K] [--seed 0]

Decodes `-n` greedy samples of the model's default prior (the same latent points for every
preference; `--avoid` lists them, separated by ';', the first the reference) and prints for
each the figures of `priors.py` (rings of 8+ / 3-4 atoms and aromatic rings beside the test
molecules' own, uniqueness, novelty against the whole training file, SNN, Frag and Scaf
against `--n-test` random test molecules, the Wasserstein distances), then the shares with a
ring of 3, 4, 7 and 8+ atoms, the share that passes every filter of `grammarvae.filters`,
the ring bonds left open and removed per sample, and the decoding time against the
reference's. Defaults: the ZINC-250k files of the shared data.
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


def ring_size_shares(smiles) -> dict:
    """Shares of molecules with a ring of 3, 4, 7, and 8 or more atoms."""
    from rdkit import Chem

    mols = [m for m in (Chem.MolFromSmiles(s) for s in smiles) if m is not None]
    sizes = [{len(r) for r in m.GetRingInfo().AtomRings()} for m in mols]
    share = lambda test: sum(map(test, sizes)) / max(1, len(sizes))  # noqa: E731
    return {"3": share(lambda x: 3 in x), "4": share(lambda x: 4 in x), "7": share(lambda x: 7 in x),
            "8+": share(lambda x: max(x, default=0) >= 8)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(ap)
    add_model_argument(ap)
    add_sample_arguments(ap)
    ap.add_argument("--avoid", default="none;4,8+;3,4,8+;4,7+", help="preferences, ';'-separated (first: the reference)")
    ap.add_argument("--beam-width", type=int, help="decode by a beam of K (default: greedy)")
    args = ap.parse_args()

    from grammarvae.filters import FILTERS, keep

    model = load_model(args)
    train, test, test_file = sample_data(args)
    decoding = f"beam of {args.beam_width}" if args.beam_width else "greedy"
    print(f"model {args.model or 'default'}; {args.n} {decoding} samples of its {model.default_prior} prior per "
          f"preference; {len(test)} random test molecules ({test_file.name})")
    print(f"{'avoided ring sizes':<22}" + REALISM_HEAD[22:] + f"{'3':>6}{'4':>6}{'7':>6}{'8+':>6}{'filters':>8}"
          f"{'dropped':>8}{'time':>7}")
    reference = base_time = None
    for spec in args.avoid.split(";"):
        model.sample(8, seed=args.seed, avoid_rings=spec, beam_width=args.beam_width)  # the decoder made, stepping compiled
        t = time.perf_counter()
        samples = model.sample(args.n, seed=args.seed, avoid_rings=spec, beam_width=args.beam_width)
        seconds = time.perf_counter() - t
        base_time = base_time or seconds
        row, r = realism_row(spec, samples, test, train)
        reference = reference or r
        shares = ring_size_shares(samples)
        passing = sum(keep(samples, FILTERS)) / len(samples)
        print(row + "".join(f"{100 * v:5.1f}%" for v in shares.values()) + f"{100 * passing:7.1f}%"
              f"{model.decode_stats.dropped_rings / args.n:8.2f}{seconds / base_time:6.2f}x", flush=True)
    shares, first = ring_size_shares(test), reference_row(reference)
    print(first + " " * (len(REALISM_HEAD) - len(first)) + "".join(f"{100 * v:5.1f}%" for v in shares.values()) + f"{100 * sum(keep(test, FILTERS)) / len(test):7.1f}%")


if __name__ == "__main__":
    main()
