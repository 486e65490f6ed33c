"""The pretrained Grammar VAE shipped with the package (see data/MODEL_CARD.md)."""
