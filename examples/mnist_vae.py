"""The classic convolutional VAE on MNIST with a 2-d latent space, built from vae_core.

    python examples/mnist_vae.py --epochs 10 --out mnist_manifold.png
    python examples/mnist_vae.py --data mnist.npz --epochs 10     # offline: x_train in an npz

Writes the latent-manifold traversal: decoded digits on a grid over z in [-2, 2]^2.
"""

from __future__ import annotations

import argparse

import keras
import numpy as np
from keras import layers
from PIL import Image

from vae_core import VAE, GaussianHead


def conv_encoder(latent_dim: int = 2) -> keras.Model:
    x = keras.Input((28, 28, 1))
    h = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(x)
    h = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.Dense(16, activation="relu")(layers.Flatten()(h))
    return keras.Model(x, list(GaussianHead(latent_dim)(h)), name="encoder")


def conv_decoder(latent_dim: int = 2) -> keras.Model:
    z = keras.Input((latent_dim,))
    h = layers.Reshape((7, 7, 64))(layers.Dense(7 * 7 * 64, activation="relu")(z))
    h = layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(h)
    return keras.Model(z, layers.Conv2DTranspose(1, 3, padding="same")(h), name="decoder")  # logits


def load(path: str | None) -> np.ndarray:
    if path:
        with np.load(path, allow_pickle=False) as f:
            x = f["x_train"]
    else:
        (x, _), _ = keras.datasets.mnist.load_data()
    return (x.reshape(-1, 28, 28, 1) / 255.0).astype("float32")


def manifold(vae: VAE, n: int = 15, span: float = 2.0) -> np.ndarray:
    """An (n*28, n*28) image of decoded digits over a regular grid of the 2-d latent space."""
    grid = np.linspace(-span, span, n)
    z = np.array([[a, b] for b in grid[::-1] for a in grid], dtype="float32")
    digits = 1 / (1 + np.exp(-vae.decode(z)[..., 0]))
    return digits.reshape(n, n, 28, 28).transpose(0, 2, 1, 3).reshape(n * 28, n * 28)


def training_arguments(ap: argparse.ArgumentParser, epochs: int, out: str) -> None:
    """The options every MNIST example takes: data, epochs, steps, batch size, seed, picture."""
    ap.add_argument("--data", help="npz with x_train (uint8, (n, 28, 28)); default: keras.datasets.mnist")
    ap.add_argument("--epochs", type=int, default=epochs)
    ap.add_argument("--steps", type=int, default=None, help="steps per epoch (default: the whole set)")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=out)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    training_arguments(ap, epochs=10, out="mnist_manifold.png")
    ap.add_argument("--grid", type=int, default=15)
    args = ap.parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    x = load(args.data)
    vae = VAE(conv_encoder(), conv_decoder(), log_likelihood="bernoulli", seed=args.seed)
    vae.compile(optimizer="adam")
    vae.fit(x, epochs=args.epochs, batch_size=args.batch_size, steps_per_epoch=args.steps)
    img = manifold(vae, args.grid)
    Image.fromarray((255 * img).astype("uint8")).save(args.out)
    print(f"wrote {args.out} ({img.shape[1]}x{img.shape[0]})")


if __name__ == "__main__":
    main()
