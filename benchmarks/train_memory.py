"""Peak memory of the training input path on the full MOSES file.

    python benchmarks/train_memory.py [--data ../shared/data] [--encoded runs/x.npy]

Step 1 streams `moses/train.csv.gz` into an int16 .npy on disk (skipped with --encoded);
step 2 runs one full pass of the tf.data pipeline that one-hots each batch. Prints the
peak resident memory of this process (and of the encoding workers) after each step,
against the reference of a float32 one-hot array of the whole set held in memory.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from common import add_data_argument

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def peak_mib(who=resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(ap)
    ap.add_argument("--encoded", help="an .npy made by encode_file (skips step 1)")
    ap.add_argument("--max-len", type=int, default=160)
    ap.add_argument("--batch-size", type=int, default=256)
    args = ap.parse_args()
    import numpy as np

    from grammarvae.data import encode_file, make_dataset
    from grammarvae.grammar import Grammar

    g = Grammar.load("zinc")
    t = time.perf_counter()
    if args.encoded:
        X = np.load(args.encoded, mmap_mode="r")[:, :args.max_len]
    else:
        out = Path(tempfile.mkdtemp()) / "moses.npy"
        X, ok, errors = encode_file(Path(args.data) / "moses" / "train.csv.gz", out, max_len=args.max_len)
        print(f"step 1, encode {len(X):,} rows ({len(errors)} failed): {time.perf_counter() - t:.0f} s, "
              f"peak {peak_mib():.0f} MiB here, {peak_mib(resource.RUSAGE_CHILDREN):.0f} MiB in a worker")
    t = time.perf_counter()
    rows = 0
    for batch in make_dataset(X, g.n_productions, batch_size=args.batch_size, shuffle=True):
        rows += int(batch.shape[0])
    full = len(X) * X.shape[1] * g.n_productions * 4 / 2 ** 30
    print(f"step 2, one pipeline pass over {rows:,} rows: {time.perf_counter() - t:.0f} s, "
          f"peak {peak_mib():.0f} MiB ({peak_mib() / 1024:.2f} GiB)")
    print(f"reference: the whole set as a float32 one-hot would take {full:.1f} GiB; "
          f"ratio {full * 1024 / peak_mib():.0f}x less here")


if __name__ == "__main__":
    main()
