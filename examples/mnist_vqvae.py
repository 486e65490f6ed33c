"""VQ-VAE on MNIST: each digit becomes a 7 x 7 grid of codes from a codebook of 64, built
from vae_core.

    python examples/mnist_vqvae.py --epochs 5 --out mnist_vqvae.png
    python examples/mnist_vqvae.py --data mnist.npz --codes 64      # offline: x_train in an npz

Writes test digits (top row of each pair) above their reconstructions from the codes
(bottom row), and prints the codebook's perplexity: how many codes are in use.
"""

from __future__ import annotations

import argparse

import keras
import numpy as np
from keras import layers
from PIL import Image

from mnist_vae import load, training_arguments
from vae_core import VQVAE, VectorQuantizer


def encoder(code_dim: int) -> keras.Model:
    x = keras.Input((28, 28, 1))
    h = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(x)
    h = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(h)
    return keras.Model(x, layers.Conv2D(code_dim, 1)(h), name="encoder")  # (7, 7, code_dim)


def decoder(code_dim: int) -> keras.Model:
    q = keras.Input((7, 7, code_dim))
    h = layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu")(q)
    h = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(h)
    return keras.Model(q, layers.Conv2DTranspose(1, 3, padding="same")(h), name="decoder")  # logits


def pairs(model: VQVAE, x: np.ndarray, n: int = 10) -> np.ndarray:
    """A (2*28, n*28) image: n digits above their reconstructions through the codes."""
    recon = 1 / (1 + np.exp(-model.decode(model.encode(x[:n]))[..., 0]))
    return np.concatenate([np.concatenate(list(x[:n, ..., 0]), axis=1), np.concatenate(list(recon), axis=1)])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    training_arguments(ap, epochs=5, out="mnist_vqvae.png")
    ap.add_argument("--codes", type=int, default=64, help="codebook size K (default: 64)")
    ap.add_argument("--code-dim", type=int, default=16)
    ap.add_argument("--n", type=int, default=10, help="digits in the picture")
    args = ap.parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    x = load(args.data)
    model = VQVAE(encoder(args.code_dim), VectorQuantizer(args.codes, args.code_dim, seed=args.seed),
                  decoder(args.code_dim), log_likelihood="bernoulli")
    model.compile(optimizer="adam")
    hist = model.fit(x, epochs=args.epochs, batch_size=args.batch_size, steps_per_epoch=args.steps).history
    img = pairs(model, x, min(args.n, len(x)))
    Image.fromarray((255 * img).astype("uint8")).save(args.out)
    print(f"wrote {args.out} ({img.shape[1]}x{img.shape[0]}); last epoch: perplexity "
          f"{hist['perplexity'][-1]:.1f} of {args.codes} codes, reconstruction {hist['reconstruction_loss'][-1]:.1f}")


if __name__ == "__main__":
    main()
