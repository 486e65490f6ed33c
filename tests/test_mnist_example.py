"""The MNIST examples run offline on a tiny synthetic npz and write their pictures."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("script,extra,size", [
    ("mnist_vae.py", ["--grid", "4"], (4 * 28, 4 * 28)),
    ("mnist_infovae.py", ["--grid", "4", "--alpha", "1", "--lambda", "10"], (4 * 28, 4 * 28)),
    ("mnist_vqvae.py", ["--n", "5", "--codes", "8"], (5 * 28, 2 * 28)),
])
def test_mnist_example_offline(tmp_path, script, extra, size):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "tiny.npz", x_train=rng.integers(0, 256, (64, 28, 28), dtype=np.uint8))
    out = tmp_path / "grid.png"
    r = subprocess.run([sys.executable, str(EXAMPLES / script), "--data", str(tmp_path / "tiny.npz"), "--epochs", "1",
                        "--steps", "2", "--batch-size", "16", "--out", str(out), *extra],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"wrote {out}" in r.stdout
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size == size
