"""Keras models: the Grammar VAE and its masked likelihood."""

import os

# TensorFlow's C++ start-up lines (CPU features, absl) are not for the package's users; a
# caller that wants them sets TF_CPP_MIN_LOG_LEVEL itself, or imports TensorFlow first.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
