"""Every package folder of the source tree is installed (setup.cfg lists packages by name)."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_in_setup_cfg():
    if not (ROOT / "setup.cfg").is_file():
        pytest.skip(f"{ROOT / 'setup.cfg'} is not beside the tests")
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    listed = set(cfg["options"]["packages"].split())
    mapped = {line.split("=")[1].strip(): line.split("=")[0].strip()
              for line in cfg["options"]["package_dir"].strip().splitlines()}
    found = set()
    for top in ("vae_core", "grammarvae", *mapped):
        for init in (ROOT / top).rglob("__init__.py"):
            folder = init.parent.relative_to(ROOT).as_posix()
            first, _, rest = folder.partition("/")
            name = ".".join(filter(None, [mapped.get(first, first), rest.replace("/", ".")]))
            found.add(name)
    assert found - listed == set(), f"package folders not in setup.cfg: {sorted(found - listed)}"


def test_the_library_keeps_tensorflows_start_up_lines_off_stderr():
    """TensorFlow 2.21 writes its oneDNN and absl lines to descriptor 2 whatever
    TF_CPP_MIN_LOG_LEVEL says; a library user loading and calling a model sees none of them."""
    import subprocess
    import sys

    code = ("from grammarvae import GrammarVAE\n"
            "m = GrammarVAE.pretrained('moses')\n"
            "print(m.decode(m.encode(['CCO']))[0])\n")
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "KERAS_BACKEND")}
    done = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip(), "no molecule decoded"
    assert "oneDNN" not in done.stderr and "absl" not in done.stderr, done.stderr
    # the same lines do reach stderr when TensorFlow is imported plainly: the test can fail
    plain = subprocess.run([sys.executable, "-P", "-c", "import tensorflow"], capture_output=True, text=True,
                           env=env, timeout=300)
    if "oneDNN" not in plain.stderr and "absl" not in plain.stderr:
        pytest.skip("this TensorFlow writes no start-up lines, so there is nothing to keep off")


def test_the_cuda_extra_resolves_beside_the_cpu_install():
    """`pip install grammarvae[cuda]` brings JAX with CUDA and keeps tensorflow-cpu: pip's
    resolver (a dry run, metadata only) finds versions of everything, and replaces nothing."""
    import subprocess
    import sys

    if not (ROOT / "setup.cfg").is_file():
        pytest.skip(f"{ROOT / 'setup.cfg'} is not beside the tests")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--disable-pip-version-check",
                           f"{ROOT}[cuda]"], capture_output=True, text=True, timeout=600)
    said = done.stdout + done.stderr
    if done.returncode and any(s in said for s in ("NewConnectionError", "Temporary failure in name resolution",
                                                   "Network is unreachable")):
        pytest.skip("no package index reachable from here")
    assert done.returncode == 0, said[-3000:]
    planned = next(line for line in done.stdout.splitlines() if line.startswith("Would install"))
    assert "jax-cuda12-plugin-" in planned  # (jax and jaxlib themselves may be installed already: the test extra)
    assert "tensorflow" not in planned.replace("grammarvae", ""), planned  # the CPU build stays
