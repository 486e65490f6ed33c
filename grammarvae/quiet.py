"""TensorFlow imported without its C++ start-up lines on the terminal.

TensorFlow 2.21 writes "oneDNN custom operations are on" and absl's "All log messages before
absl::InitializeLog()" to file descriptor 2 while it loads, whatever TF_CPP_MIN_LOG_LEVEL says.
They are not for the package's users, in the library or on the command line, so the package
imports TensorFlow once with descriptor 2 pointed at /dev/null. A caller that wants the lines
imports TensorFlow first; another Keras backend (KERAS_BACKEND=jax) is left alone.
"""

from __future__ import annotations

import os
import sys


def import_tensorflow_quietly() -> None:
    """Import TensorFlow, if Keras will use it and it is not imported yet, with stderr silenced."""
    if "tensorflow" in sys.modules or os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
