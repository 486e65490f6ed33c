"""vae_core: a small, general VAE toolkit in Keras 3. It knows nothing of molecules.

    >>> import keras
    >>> from vae_core import VAE, mlp_encoder, mlp_decoder
    >>> vae = VAE(mlp_encoder((784,), [256], latent_dim=2),
    ...           mlp_decoder(2, [256], (784,)), log_likelihood="bernoulli", beta=1.0)
    >>> vae.compile(optimizer="adam")
    >>> vae.fit(x_train, epochs=10)                     # doctest: +SKIP

Pieces: `Sampling` (reparameterisation), `gaussian_kl` / `gaussian_kl_mc`, log-likelihoods
(`Bernoulli`, `Categorical`, `Gaussian`, or any callable), encoder and decoder blocks,
an autoregressive decoder (`AutoregressiveGRUDecoder`, stepped by `generate` or by a caller
that chooses each output), and `VAE` with its `train_step`, `elbo` and `iwae_bound`. The
objectives beyond the ELBO: beta and several samples (`VAE`), the MMD of InfoVAE (`mmd`,
`VAE(mmd_weight=...)`, `InfoVAE`) and VQ-VAE's discrete code (`VectorQuantizer`, `VQVAE`).
After training, `AggregatePosterior` samples from the encoded training set's posteriors
instead of N(0, I).
"""

from vae_core.autoregressive import AutoregressiveGRUDecoder, generate, select_rows
from vae_core.callbacks import KLAnnealing
from vae_core.blocks import GaussianHead, PadSequence, conv1d_encoder, gru_decoder, mlp_decoder, mlp_encoder
from vae_core.kl import gaussian_kl, gaussian_kl_mc, standard_normal_log_prob, gaussian_log_prob
from vae_core.likelihoods import Bernoulli, Categorical, Gaussian, get_log_likelihood
from vae_core.mmd import mmd
from vae_core.priors import AggregatePosterior, normal_stream
from vae_core.model import VAE, InfoVAE
from vae_core.sampling import Sampling
from vae_core.steps import TermsModel
from vae_core.vq import VQVAE, VectorQuantizer, perplexity

__all__ = [
    "VAE", "InfoVAE", "AggregatePosterior", "normal_stream", "VQVAE", "VectorQuantizer", "TermsModel", "mmd", "perplexity", "Sampling", "AutoregressiveGRUDecoder", "generate", "select_rows", "KLAnnealing", "GaussianHead", "PadSequence", "mlp_encoder", "mlp_decoder", "conv1d_encoder", "gru_decoder",
    "gaussian_kl", "gaussian_kl_mc", "gaussian_log_prob", "standard_normal_log_prob",
    "Bernoulli", "Categorical", "Gaussian", "get_log_likelihood",
]
