"""Start-up: how long the command line takes to answer, against importing TensorFlow alone.

    python benchmarks/startup.py [--repeats 3]

Times, as fresh processes, the best of --repeats runs of: `python -c "import tensorflow"` (the
reference: what any Keras-on-TensorFlow command pays once), a usage error (`sample -n 0`),
`--help`, `parse CCO` (no network), and `sample -n 5` (the bundled model loaded, five molecules
decoded, to the first line of output). Goals: bad usage under 3 s, `sample -n 5` under 8 s.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time

CASES = {
    "python -c 'import tensorflow' (reference)": [sys.executable, "-c", "import tensorflow"],
    "grammarvae sample -n 0 (bad usage)": [sys.executable, "-m", "grammarvae.cli.main", "sample", "-n", "0"],
    "grammarvae sample --help": [sys.executable, "-m", "grammarvae.cli.main", "sample", "--help"],
    "grammarvae parse CCO": [sys.executable, "-m", "grammarvae.cli.main", "parse", "CCO"],
    "grammarvae sample -n 5": [sys.executable, "-m", "grammarvae.cli.main", "sample", "-n", "5"],
}


def first_output(cmd: list[str]) -> tuple[float, float]:
    """Seconds to the first byte on stdout or stderr, and to the end."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tempfile.gettempdir(),
                         env={**__import__("os").environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    p.stdout.read(1)
    first = time.perf_counter() - t
    p.communicate()
    return first, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    results = {name: min((first_output(cmd) for _ in range(args.repeats)), key=lambda r: r[1])
               for name, cmd in CASES.items()}
    reference = results["python -c 'import tensorflow' (reference)"][1]
    for name, (first, total) in results.items():
        print(f"{name:45s} first output {first:5.2f} s, done {total:5.2f} s = {total / reference:4.2f}x "
              "the TensorFlow import")


if __name__ == "__main__":
    main()
