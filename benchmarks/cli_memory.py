"""Peak memory of the commands whose size a user gives: flat in the size, or refused in one line.

    python benchmarks/cli_memory.py [--small 1000] [--large 50000] [--model m.keras]

Each command runs twice in its own process, at the small and at the large size, on an
untrained `tiny` model (what is measured is the command's handling of the size, not the
network; `--model` for another): `sample -n N -o FILE` (streamed to the file), `encode` of an
N-line file, `decode` of an (N, d) latent file. Prints each process's peak resident memory
(`wait4`'s ru_maxrss), and the ratio large / small against the ratio of the sizes: memory that
grew with the size would show a ratio near the sizes' (50 by default); flat is near 1. Then the
sizes the issue listed as passing 6 GB or ending in MemoryError (`sample -n 1e9 --image`,
`decode --samples 1e9`, `interpolate --steps 1e9`), each of which must be refused in one line
(exit 2) at a small peak. (`--beam-width 100000` is not refused: a beam decodes a bounded number
of rows at a time, so its memory stays flat, about 2 GB on the tiny model, and it runs long.)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def run(argv: list[str]) -> tuple[int, float, float, str]:
    """Exit code, peak resident MiB, seconds and the last line of stderr of one command."""
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "grammarvae.cli.main", *argv], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    lines = [line for line in err.strip().splitlines() if line.strip()]
    return proc.returncode, usage.ru_maxrss / 1024, time.perf_counter() - t, (lines[-1] if lines else "")[-110:]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=1000)
    ap.add_argument("--large", type=int, default=50000)
    ap.add_argument("--model", help="a .keras model (default: an untrained tiny one)")
    args = ap.parse_args()

    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = args.model
        if model is None:
            from grammarvae import GrammarVAE

            model = str(tmp / "tiny.keras")
            GrammarVAE(preset="tiny", seed=0).save(model)
            latent_dim = GrammarVAE.load(model).latent_dim
        else:
            from grammarvae import GrammarVAE

            latent_dim = GrammarVAE.named(model).latent_dim
        base = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "CC(C)Cc1ccc(C(C)C(=O)O)cc1"]
        rng = np.random.default_rng(0)
        for n in (args.small, args.large):
            (tmp / f"in{n}.smi").write_text("".join(f"{base[i % len(base)]}\n" for i in range(n)))
            np.save(tmp / f"z{n}.npy", rng.standard_normal((n, latent_dim)).astype("float32"))
        commands = {
            "sample -n N -o FILE": lambda n: ["sample", "-n", str(n), "-o", str(tmp / f"s{n}.smi")],
            "encode N lines": lambda n: ["encode", str(tmp / f"in{n}.smi"), "-o", str(tmp / f"e{n}.npy")],
            "decode N latents": lambda n: ["decode", str(tmp / f"z{n}.npy"), "-o", str(tmp / f"d{n}.smi")],
        }
        ratio_sizes = args.large / args.small
        print(f"model {args.model or 'untrained tiny'}; sizes {args.small} and {args.large} (ratio {ratio_sizes:.0f})")
        print(f"  {'command':22s} {'small MiB':>10s} {'large MiB':>10s} {'ratio':>6s}  (sizes' ratio {ratio_sizes:.0f})")
        for name, argv in commands.items():
            peaks = []
            for n in (args.small, args.large):
                code, peak, seconds, last = run(argv(n) + ["--model", model])
                if code != 0:
                    raise SystemExit(f"{name} at {n}: exit {code}: {last}")
                peaks.append(peak)
            print(f"  {name:22s} {peaks[0]:10.0f} {peaks[1]:10.0f} {peaks[1] / peaks[0]:6.2f}")
        print("sizes refused before the work (exit 2, one line):")
        for argv in (["sample", "-n", "1000000000", "--image", str(tmp / "g.png")],
                     ["decode", str(tmp / f"z{args.small}.npy"), "--samples", "1000000000"],
                     ["interpolate", "CCO", "CCN", "--steps", "1000000000"]):
            code, peak, seconds, last = run(argv + ["--model", model])
            print(f"  {' '.join(a if len(a) < 20 else '...' for a in argv):48s} exit {code}, peak {peak:5.0f} MiB, "
                  f"{seconds:4.1f} s: {last}")


if __name__ == "__main__":
    main()
