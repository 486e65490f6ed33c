"""Keras models: the Grammar VAE and its masked likelihood."""
