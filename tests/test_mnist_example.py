"""examples/mnist_vae.py runs offline on a tiny synthetic npz and writes the manifold PNG."""

import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "mnist_vae.py"


def test_mnist_example_offline(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "tiny.npz", x_train=rng.integers(0, 256, (64, 28, 28), dtype=np.uint8))
    out = tmp_path / "grid.png"
    r = subprocess.run([sys.executable, str(EXAMPLE), "--data", str(tmp_path / "tiny.npz"), "--epochs", "1",
                        "--steps", "2", "--batch-size", "16", "--grid", "4", "--out", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size == (4 * 28, 4 * 28)
