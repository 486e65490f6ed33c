"""SIGKILL at random points of `encode` and `train`: nothing lost, nothing wrong, at most one epoch redone.

    python benchmarks/kill_sweep.py [--trials 6] [--seed 0]

On an untrained `tiny` model, in a temporary folder. First one whole run of each command, to
time it and to have the right answer. Then `--trials` runs of each, each killed with SIGKILL
at a random moment (seeded) between its start and the whole run's duration, wherever it is:
importing, reading, in a worker, writing, between epochs, in a checkpoint or a backup.

- `encode` (40,000 lines to an `-o` that holds an earlier run's complete output): after the
  kill the output is the earlier one byte for byte, or the new one whole where the kill came
  after its rename, and no worker outlives its parent; the next
  run on the same output exits 0, gives the latents of the whole run, and leaves no temporary
  or lock file.
- `train` (a tiny run of 12 epochs): after the kill, `--resume` with the same arguments exits 0;
  the log then holds epochs 0-11 once each, the checkpoint loads, and the resumed run starts at
  the first epoch the log lacks or one before it (at most one epoch redone).

Prints one line per trial and the tally; exits 1 if any trial lost or corrupted something.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "OC(=O)c1ccccc1", "CCOC(=O)C", "CNC", "CC#N"]
EPOCHS = 12


def cli(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "grammarvae.cli.main", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tempfile.gettempdir())


def whole(args: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "grammarvae.cli.main", *args], capture_output=True, text=True,
                       cwd=tempfile.gettempdir())
    return time.perf_counter() - t, r


def descendants(pid: int) -> set[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    found = {int(x) for x in out.split()}
    for child in list(found):
        found |= descendants(child)
    return found


def alive(pids: set[int], within: float = 10.0) -> set[int]:
    end = time.time() + within
    while True:
        left = set()
        for p in pids:
            try:
                if "zombie" not in Path(f"/proc/{p}/status").read_text().lower():
                    left.add(p)
            except OSError:
                pass
        if not left or time.time() > end:
            return left
        time.sleep(0.2)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and (".tmp" in p.name or p.name.endswith(".lock")))


def kill_at(args: list[str], delay: float) -> tuple[int | None, set[int]]:
    """Start the command, SIGKILL it after `delay` s (if still running); its exit code and its workers."""
    p = cli(args)
    end, workers = time.time() + delay, set()
    while time.time() < end and p.poll() is None:
        workers |= descendants(p.pid)
        time.sleep(0.05)
    workers |= descendants(p.pid)
    if p.poll() is None:
        p.kill()
    p.communicate()
    return p.returncode, workers


def encode_trials(d: Path, model: Path, rng, trials: int) -> list[str]:
    import numpy as np

    (d / "in.smi").write_text("\n".join(SMILES * 5000) + "\n")
    (d / "earlier.smi").write_text("CCO\nCCN\nCCC\n")
    out, ref = d / "z.npy", d / "ref.npy"
    took, r = whole(["encode", str(d / "in.smi"), "-o", str(ref), "--model", str(model)])
    assert r.returncode == 0, r.stderr[-2000:]
    print(f"encode, whole run: {took:.1f} s, {np.load(ref).shape[0]} rows")
    bad = []
    for i in range(trials):
        _, r = whole(["encode", str(d / "earlier.smi"), "-o", str(out), "--model", str(model)])
        assert r.returncode == 0, r.stderr[-2000:]
        earlier = out.read_bytes()
        delay = float(rng.uniform(0.2, took))
        code, workers = kill_at(["encode", str(d / "in.smi"), "-o", str(out), "--model", str(model)], delay)
        problems = []
        now = out.read_bytes()
        if code == 0:
            note = "finished before the kill"
        elif now == earlier:
            note = "killed, the earlier output whole"
        elif now == ref.read_bytes():
            note = "killed after its output was complete"  # renamed into place, then killed on the way out
        else:
            note = "killed"
            problems.append("the output is neither the earlier one nor the new one")
        outlived = alive(workers)
        if outlived:
            problems.append(f"{len(outlived)} workers outlived their parent")
        _, r = whole(["encode", str(d / "in.smi"), "-o", str(out), "--model", str(model)])
        if r.returncode != 0:
            problems.append(f"the next run failed: {r.stderr.strip().splitlines()[-1:]}")
        elif not np.array_equal(np.load(out), np.load(ref), equal_nan=True):
            problems.append("the next run's latents differ from the whole run's")
        if leftovers(d):
            problems.append(f"left {leftovers(d)}")
        print(f"encode trial {i}: {note} at {delay:.1f} s (exit {code}): " + ("; ".join(problems) or "intact"))
        if problems:
            bad.append(f"encode {i}")
    return bad


def train_trials(d: Path, rng, trials: int) -> list[str]:
    (d / "train.smi").write_text("\n".join(SMILES * 25) + "\n")
    base = ["--preset", "tiny", "--epochs", str(EPOCHS), "--steps-per-epoch", "5", "--batch-size", "8"]
    (d / "ref").mkdir()
    took, r = whole(["train", str(d / "train.smi"), "-o", str(d / "ref" / "m.keras"), *base])
    assert r.returncode == 0, r.stderr[-2000:]
    print(f"train, whole run of {EPOCHS} epochs: {took:.1f} s")
    bad = []
    for i in range(trials):
        run = d / f"t{i}"
        run.mkdir()
        args = ["train", str(d / "train.smi"), "-o", str(run / "m.keras"), *base]
        delay = float(rng.uniform(0.5, took))
        code, _ = kill_at(args, delay)
        log = run / "m.log.csv"
        logged = len(log.read_text().splitlines()) - 1 if log.exists() else 0
        _, r = whole([*args, "--resume"])
        problems = []
        if r.returncode != 0:
            problems.append(f"the resume failed: {(r.stderr.strip().splitlines() or ['?'])[-1]}")
        rows = [int(x.split(",")[0]) for x in log.read_text().splitlines()[1:]] if log.exists() else []
        if rows != list(range(EPOCHS)):
            problems.append(f"log epochs {rows}")
        started = [int(m) - 1 for m in re.findall(r"Epoch (\d+)/", r.stdout)]
        first = started[0] if started else EPOCHS
        redone = logged - first
        if redone > 1:
            problems.append(f"{redone} epochs redone")
        try:
            from grammarvae import GrammarVAE

            GrammarVAE.load(run / "m.keras")
        except Exception as e:  # noqa: BLE001 - any failure to load is what the sweep looks for
            problems.append(f"checkpoint does not load: {e}")
        if leftovers(run):
            problems.append(f"left {leftovers(run)}")
        print(f"train trial {i}: killed at {delay:.1f} s (exit {code}) after {logged} epochs; resumed at epoch "
              f"{first} ({max(redone, 0)} redone): " + ("; ".join(problems) or "intact"))
        if problems:
            bad.append(f"train {i}")
    return bad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=6, help="kills of each command")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import numpy as np

    from grammarvae import GrammarVAE

    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        GrammarVAE(preset="tiny", seed=0).save(d / "tiny.keras")
        bad = encode_trials(d, d / "tiny.keras", rng, args.trials) + train_trials(d, rng, args.trials)
    total = 2 * args.trials
    print(f"intact after SIGKILL: {total - len(bad)} of {total}" + (f"; lost or wrong: {', '.join(bad)}" if bad else ""))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    main()
