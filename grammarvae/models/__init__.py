"""Keras models: the Grammar VAE and its masked likelihood."""

from grammarvae.quiet import import_tensorflow_quietly

import_tensorflow_quietly()  # before the models import Keras: no C++ start-up lines for library users
