"""Training on several devices: Keras's DataParallel distribution on the JAX backend.

The runs that need JAX go in subprocesses (KERAS_BACKEND is read once, at import), with XLA's
host platform split into two CPU devices; they skip where jax is not installed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from grammarvae.batches import make_dataset

ROWS = ["CCO", "CCN", "CCC", "c1ccccc1", "CC(=O)O", "CCOC", "CNC", "C1CCCCC1"]

RUN = textwrap.dedent("""
    import json, os, sys

    def main():
        import keras
        import numpy as np
        from grammarvae import GrammarVAE
        from grammarvae.train import train

        data, val, out, devices = sys.argv[1:5]
        if len(sys.argv) > 5:  # one of several processes: coordinator, processes, this one
            from grammarvae.train import initialize_processes
            initialize_processes(sys.argv[5], int(sys.argv[6]), int(sys.argv[7]))
        on = []

        class Where(keras.callbacks.Callback):  # the devices the weights live on, each batch
            def on_train_batch_end(self, batch, logs=None):
                on.append(len(self.model.trainable_variables[0].value.sharding.device_set))

        history = train(data, out, preset="tiny", epochs=2, batch_size=8, val_data=val, verbose=0, seed=0,
                        devices=devices if devices == "all" else int(devices), callbacks=[Where()])
        z = np.random.default_rng(0).standard_normal((6, 8)).astype("float32")
        print(json.dumps({"history": {k: [float(x) for x in v] for k, v in history.items()},
                          "devices": sorted(set(on)),
                          "decoded": GrammarVAE.load(out).decode(z) if os.path.exists(out) else None}))

    if __name__ == "__main__":
        main()
""")


def test_a_dataset_for_several_devices_holds_whole_multiples_of_them_in_each_batch():
    X = np.arange(11 * 4, dtype=np.int16).reshape(11, 4) % 3
    sizes = [len(b) for b in make_dataset(X, 3, batch_size=4, shuffle=False, multiple=2).as_numpy_iterator()]
    assert sizes == [4, 4, 2]  # the last batch of 3 leaves out one row
    sizes = [len(b) for b in make_dataset(X, 3, batch_size=4, shuffle=False).as_numpy_iterator()]
    assert sizes == [4, 4, 3]


needs_jax = pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed (pip install jax)")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_PIPES = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same training (2 epochs, batches of 8 of 64 rows: whole batches, so every run sees the
    same ones) on one device, on two devices of one process, and as two processes of one device
    each joined on 127.0.0.1: their printed results by name, and the folder they wrote in."""
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed (pip install jax)")
    folder = tmp_path_factory.mktemp("devices")
    data, val, script = folder / "train.smi", folder / "val.smi", folder / "run.py"
    data.write_text("\n".join(ROWS * 8))
    val.write_text("\n".join(ROWS))
    script.write_text(RUN)
    base = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    two_devices = {**base, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    command = lambda out, *rest: [sys.executable, str(script), str(data), str(val), str(folder / out), *rest]  # noqa: E731
    coordinator = f"127.0.0.1:{_free_port()}"
    started = {"1": subprocess.Popen(command("m1.keras", "1"), env=two_devices, **_PIPES, cwd=folder),
               "all": subprocess.Popen(command("mall.keras", "all"), env=two_devices, **_PIPES, cwd=folder)}
    results = {}
    for name, run in started.items():
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, err[-3000:]
        results[name] = json.loads(out.strip().splitlines()[-1])
    processes = [subprocess.Popen(command(f"p{i}.keras", "all", coordinator, "2", str(i)), env=base, **_PIPES,
                                  cwd=folder) for i in (0, 1)]
    for i, run in enumerate(processes):
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, err[-3000:]
        results[f"p{i}"] = json.loads(out.strip().splitlines()[-1])
    return results, folder


@needs_jax
def test_two_devices_train_as_one_does_and_the_checkpoint_decodes_the_same_under_tensorflow(runs):
    from grammarvae import GrammarVAE

    results, folder = runs
    one, two = results["1"], results["all"]
    assert one["devices"] == [1] and two["devices"] == [2]
    assert set(one["history"]) == set(two["history"]) >= {"loss", "val_loss", "kl_loss"}
    for name, values in one["history"].items():
        np.testing.assert_allclose(two["history"][name], values, rtol=1e-4, atol=1e-6, err_msg=name)
    # What JAX wrote, read back by TensorFlow (this process): the same molecules from the same points.
    z = np.random.default_rng(0).standard_normal((6, 8)).astype("float32")
    assert GrammarVAE.load(folder / "mall.keras").decode(z) == two["decoded"]


@needs_jax
def test_two_processes_on_loopback_train_as_one_process_with_two_devices(runs):
    """Two processes of one CPU device each, joined through keras.distribution.initialize on
    127.0.0.1 (each reading its half of every batch), give the losses of one process with two
    devices; process 0 writes the model, which decodes as that process's does; the other
    writes nothing beside it."""
    from grammarvae import GrammarVAE

    results, folder = runs
    for name in ("p0", "p1"):
        assert results[name]["devices"] == [2]
        for metric, values in results["all"]["history"].items():
            np.testing.assert_allclose(results[name]["history"][metric], values, rtol=1e-4, atol=1e-6, err_msg=metric)
    assert (folder / "p0.keras").is_file() and not list(folder.glob("p1*")) and results["p1"]["decoded"] is None
    z = np.random.default_rng(0).standard_normal((6, 8)).astype("float32")
    assert GrammarVAE.load(folder / "p0.keras").decode(z) == results["p0"]["decoded"] == results["all"]["decoded"]


def test_several_devices_need_the_jax_backend_and_say_so(tmp_path, capsys):
    from grammarvae.cli.main import main

    data = tmp_path / "train.smi"
    data.write_text("\n".join(ROWS * 2))
    assert main(["train", str(data), "--preset", "tiny", "--epochs", "1", "--devices", "2",
                 "-o", str(tmp_path / "m.keras")]) == 2
    assert "training on several devices runs on the JAX backend; this is tensorflow" in capsys.readouterr().err
    assert not (tmp_path / "m.keras").exists()
    with pytest.raises(SystemExit) as stop:  # argparse's own refusal
        main(["train", str(data), "--devices", "none", "-o", str(tmp_path / "m.keras")])
    assert stop.value.code == 2
    assert "argument --devices: 'none' is not a whole number" in capsys.readouterr().err



def test_several_processes_take_all_three_options_and_the_jax_backend(tmp_path, capsys):
    from grammarvae.cli.main import main

    data, out = tmp_path / "train.smi", tmp_path / "m.keras"
    data.write_text("\n".join(ROWS * 2))
    assert main(["train", str(data), "--coordinator", "127.0.0.1:1234", "-o", str(out)]) == 2
    assert "takes --coordinator, --num-processes and --process-id together" in capsys.readouterr().err
    assert main(["train", str(data), "--coordinator", "127.0.0.1:1234", "--num-processes", "2", "--process-id", "0",
                 "-o", str(out)]) == 2
    assert "training in several processes runs on the JAX backend; this is tensorflow" in capsys.readouterr().err
    assert main(["train", str(data), "--coordinator", "127.0.0.1:1234", "--num-processes", "2", "--process-id", "2",
                 "-o", str(out)]) == 2
    assert "process id 2 is not one of the 2 processes (0 to 1)" in capsys.readouterr().err
    assert main(["train", str(data), "--coordinator", "localhost", "--num-processes", "2", "--process-id", "1",
                 "-o", str(out)]) == 2
    assert "coordinator must be HOST:PORT, got 'localhost'" in capsys.readouterr().err
    assert not out.exists()

