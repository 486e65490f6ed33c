"""vae_core: a small, general VAE toolkit in Keras 3 (no chemistry)."""
