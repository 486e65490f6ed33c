"""Data-parallel training throughput: N devices against one, measured in one run.

    python benchmarks/devices.py [--devices 2] [--rows 4096] [--batches 20] [--batch-size 128] [--processes]

Each setting trains the `small` preset through `grammarvae.train.train` (the command line's
path) on the same MOSES rows, on the JAX backend in a fresh process (KERAS_BACKEND is read
once), with XLA's host platform split into --devices CPU devices where no accelerator is
there: one device, then --devices devices with each batch split over them
(`train --devices`). The first epoch warms up (tracing); the next --batches batches are
timed. With --processes, also --devices processes of one device each, joined on 127.0.0.1
(`train --coordinator`), timed in process 0. Prints molecules/s of each and the ratio
against one device. On a CPU the devices
share the same cores, so the ratio shows the distribution's overhead, not a speed-up; on a
machine with several GPUs it is the scaling.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import add_data_argument  # noqa: E402


def run_one(data: str, out: str, devices: int | str, batch_size: int, batches: int, join: list | None = None) -> None:
    """In this process (the JAX backend): warm up one epoch, time `batches`; print a JSON line.
    `join`: (coordinator, processes, this one) of a run of several processes."""
    import keras

    from grammarvae.train import initialize_processes, train

    if join:
        initialize_processes(join[0], int(join[1]), int(join[2]))

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds = time.perf_counter() - self.start  # the last epoch's, the timed one

    clock = Clock()
    train(data, out, preset="small", epochs=2, steps_per_epoch=batches, batch_size=batch_size, val_split=0,
          verbose=0, seed=0, devices=devices, callbacks=[clock])
    print(json.dumps({"devices": devices, "seconds": clock.seconds, "molecules": batches * batch_size}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(ap)
    ap.add_argument("--devices", type=int, default=2)
    ap.add_argument("--rows", type=int, default=4096)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--processes", action="store_true", help="also --devices processes of one device each")
    ap.add_argument("--one", nargs=3, metavar=("DATA", "OUT", "DEVICES"), help=argparse.SUPPRESS)
    ap.add_argument("--join", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        devices = args.one[2] if args.one[2] == "all" else int(args.one[2])
        return run_one(args.one[0], args.one[1], devices, args.batch_size, args.batches, args.join)

    from grammarvae.io import iter_smiles

    rows = []
    for row in iter_smiles(Path(args.data) / "moses" / "train.csv.gz"):
        rows.append(row.smiles)
        if len(rows) == args.rows:
            break
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.setdefault("XLA_FLAGS", f"--xla_force_host_platform_device_count={args.devices}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "rows.smi"
        data.write_text("\n".join(rows) + "\n")
        for n in (1, args.devices):
            done = subprocess.run([sys.executable, __file__, "--one", str(data), str(Path(tmp) / f"m{n}.keras"), str(n),
                                   "--batches", str(args.batches), "--batch-size", str(args.batch_size)],
                                  env=env, capture_output=True, text=True)
            if done.returncode:
                sys.exit(f"the run on {n} device(s) failed:\n{done.stderr[-3000:]}")
            results[n] = json.loads(done.stdout.strip().splitlines()[-1])
        if args.processes:
            import socket

            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                coordinator = f"127.0.0.1:{sock.getsockname()[1]}"
            one_each = {k: v for k, v in env.items() if k != "XLA_FLAGS"}
            runs = [subprocess.Popen([sys.executable, __file__, "--one", str(data), str(Path(tmp) / f"p{i}.keras"), "all",
                                      "--batches", str(args.batches), "--batch-size", str(args.batch_size),
                                      "--join", coordinator, str(args.devices), str(i)],
                                     env=one_each, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                    for i in range(args.devices)]
            outputs = [r.communicate() for r in runs]
            if any(r.returncode for r in runs):
                sys.exit(f"the run of {args.devices} processes failed:\n{outputs[0][1][-3000:]}")
            results[f"{args.devices} processes"] = json.loads(outputs[0][0].strip().splitlines()[-1])
    base = results[1]["molecules"] / results[1]["seconds"]
    print(f"small preset, JAX backend, {args.batches} batches of {args.batch_size} MOSES molecules after one warm-up epoch")
    for n, r in results.items():
        rate = r["molecules"] / r["seconds"]
        name = n if isinstance(n, str) else f"{n} device{'s' if n > 1 else ' '}"
        print(f"{name}: {rate:8.1f} mol/s ({r['seconds']:.1f} s), {rate / base:.2f}x one device")


if __name__ == "__main__":
    main()
