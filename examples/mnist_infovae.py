"""InfoVAE (MMD-VAE) on MNIST with a 2-d latent space, built from vae_core.

    python examples/mnist_infovae.py --epochs 10 --out mnist_infovae.png
    python examples/mnist_infovae.py --data mnist.npz --alpha 1 --lambda 100   # offline: x_train in an npz

The objective is reconstruction + (1 - alpha) KL + (alpha + lambda - 1) MMD(q(z) || p(z)).
With alpha = 1 the per-example KL is gone and the MMD alone holds the encoded digits on
N(0, I): the latent manifold (the picture, decoded digits over z in [-2, 2]^2) is then
covered without the blur a strong KL gives. The same encoder and decoder as
examples/mnist_vae.py, whose plain VAE is alpha = 0, lambda = 1.
"""

from __future__ import annotations

import argparse

import keras
from PIL import Image

from mnist_vae import conv_decoder, conv_encoder, load, manifold, training_arguments
from vae_core import InfoVAE


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    training_arguments(ap, epochs=10, out="mnist_infovae.png")
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--lambda", dest="lambda_", type=float, default=100.0)
    ap.add_argument("--kernel", default="imq", choices=["imq", "gaussian"])
    ap.add_argument("--grid", type=int, default=15)
    args = ap.parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    x = load(args.data)
    model = InfoVAE(conv_encoder(), conv_decoder(), alpha=args.alpha, lambda_=args.lambda_,
                    mmd_kernel=args.kernel, log_likelihood="bernoulli", seed=args.seed)
    model.compile(optimizer="adam")
    hist = model.fit(x, epochs=args.epochs, batch_size=args.batch_size, steps_per_epoch=args.steps).history
    img = manifold(model, args.grid)
    Image.fromarray((255 * img).astype("uint8")).save(args.out)
    print(f"wrote {args.out} ({img.shape[1]}x{img.shape[0]}); last epoch: MMD {hist['mmd'][-1]:.4f}, "
          f"KL {hist['kl_loss'][-1]:.2f} nats, reconstruction {hist['reconstruction_loss'][-1]:.1f}")


if __name__ == "__main__":
    main()
