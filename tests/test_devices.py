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
    import json, sys

    def main():
        import keras
        import numpy as np
        from grammarvae import GrammarVAE
        from grammarvae.train import train

        data, val, out, devices = sys.argv[1:5]
        on = []

        class Where(keras.callbacks.Callback):  # the devices the weights live on, each batch
            def on_train_batch_end(self, batch, logs=None):
                on.append(len(self.model.trainable_variables[0].value.sharding.device_set))

        history = train(data, out, preset="tiny", epochs=2, batch_size=8, val_data=val, verbose=0, seed=0,
                        devices=devices if devices == "all" else int(devices), callbacks=[Where()])
        z = np.random.default_rng(0).standard_normal((6, 8)).astype("float32")
        print(json.dumps({"history": {k: [float(x) for x in v] for k, v in history.items()},
                          "devices": sorted(set(on)), "decoded": GrammarVAE.load(out).decode(z)}))

    if __name__ == "__main__":
        main()
""")


def test_a_dataset_for_several_devices_holds_whole_multiples_of_them_in_each_batch():
    X = np.arange(11 * 4, dtype=np.int16).reshape(11, 4) % 3
    sizes = [len(b) for b in make_dataset(X, 3, batch_size=4, shuffle=False, multiple=2).as_numpy_iterator()]
    assert sizes == [4, 4, 2]  # the last batch of 3 leaves out one row
    sizes = [len(b) for b in make_dataset(X, 3, batch_size=4, shuffle=False).as_numpy_iterator()]
    assert sizes == [4, 4, 3]


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed (pip install jax)")
def test_two_devices_train_as_one_does_and_the_checkpoint_decodes_the_same_under_tensorflow(tmp_path):
    from grammarvae import GrammarVAE

    data, val = tmp_path / "train.smi", tmp_path / "val.smi"
    data.write_text("\n".join(ROWS * 8))  # 64 rows: whole batches of 8, so both runs see the same batches
    val.write_text("\n".join(ROWS))
    script = tmp_path / "run.py"
    script.write_text(RUN)
    env = {**os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    runs = {}
    for devices in ("1", "all"):
        out = tmp_path / f"m{devices}.keras"
        done = subprocess.run([sys.executable, str(script), str(data), str(val), str(out), devices], env=env,
                              capture_output=True, text=True, timeout=600, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        runs[devices] = json.loads(done.stdout.strip().splitlines()[-1])
    one, two = runs["1"], runs["all"]
    assert one["devices"] == [1] and two["devices"] == [2]
    assert set(one["history"]) == set(two["history"]) >= {"loss", "val_loss", "kl_loss"}
    for name, values in one["history"].items():
        np.testing.assert_allclose(two["history"][name], values, rtol=1e-4, atol=1e-6, err_msg=name)
    # What JAX wrote, read back by TensorFlow (this process): the same molecules from the same points.
    z = np.random.default_rng(0).standard_normal((6, 8)).astype("float32")
    assert GrammarVAE.load(tmp_path / "mall.keras").decode(z) == two["decoded"]


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
