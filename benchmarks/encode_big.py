"""`grammarvae encode` over a big file: molecules/s after start-up and peak memory.

    python benchmarks/encode_big.py ../shared/data/moses/train.csv.gz --rows 1000000

Writes the first --rows SMILES of the input to a plain file, and encodes it and a tenth of it,
each in a fresh process (the CLI, bundled model), so that the peak memory of the two can be
compared: the reference is the small run, and the goal is a ratio near 1 (memory flat in the
file size) at 2,000 molecules/s or more on this 2-core CPU.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import resource, sys, time
from grammarvae.cli.main import main
t = time.perf_counter()
code = main(["encode", sys.argv[1], "-o", sys.argv[2]])
wall = time.perf_counter() - t
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"RESULT {wall:.2f} {own} {workers} {code}")
"""


def encode(path: Path, out: Path) -> tuple[float, int, int]:
    r = subprocess.run([sys.executable, "-c", CHILD, str(path), str(out)], capture_output=True, text=True)
    line = next((l for l in r.stdout.splitlines() if l.startswith("RESULT")), None)
    if line is None:
        sys.exit(f"encode failed:\n{r.stderr[-2000:]}")
    wall, own, workers, _ = line.split()[1:]
    return float(wall), int(own), int(workers)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", help="a SMILES CSV (MOSES train.csv.gz: first column SMILES)")
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        opener = gzip.open if args.data.endswith(".gz") else open
        with opener(args.data, "rt") as fh:
            next(fh)  # header
            lines = [l.split(",")[0] + "\n" for l in itertools.islice(fh, args.rows)]
        sizes = {}
        for n in (len(lines) // 10, len(lines)):
            path = d / f"in{n}.smi"
            path.write_text("".join(lines[:n]))
            # start-up (imports, model load, worker start) measured on a 100-row file
            (d / "tiny.smi").write_text("".join(lines[:100]))
            start, _, _ = encode(d / "tiny.smi", d / "tiny.npy")
            wall, own, workers = encode(path, d / f"out{n}.npy")
            rate = (n - 100) / max(wall - start, 1e-9)
            sizes[n] = own
            print(f"{n:>9,} molecules: {wall:7.1f} s ({start:.1f} s start-up), {rate:,.0f} molecules/s after "
                  f"start-up; peak memory {own / 1024:,.0f} MB (main), {workers / 1024:,.0f} MB (largest child: "
                  f"a worker, or a helper forked from the main process, whose shared pages count)")
        small, big = sorted(sizes)
        print(f"peak memory ratio, {big:,} against {small:,} rows (reference: the small run): "
              f"{sizes[big] / sizes[small]:.2f} for {big / small:.0f}x the rows")


if __name__ == "__main__":
    main()
