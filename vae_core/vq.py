"""VQ-VAE (van den Oord et al. 2017): a discrete latent code by nearest-neighbour lookup.

    >>> vq = VectorQuantizer(num_codes=64, code_dim=16, seed=0)
    >>> q = vq(z_e)                       # (..., 16): each vector replaced by its nearest code
    >>> vq.codes(z_e)                     # (...,) int: which code each vector took
    >>> model = VQVAE(encoder, vq, decoder, log_likelihood="bernoulli")
    >>> model.compile(optimizer="adam"); model.fit(x, epochs=5)   # logs perplexity too

The quantiser's output passes the decoder's gradient straight through to the encoder
(z_e + stop_gradient(e - z_e)); the codebook learns from its own loss ||sg(z_e) - e||^2
and the encoder is held near its codes by the commitment loss beta ||z_e - sg(e)||^2.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from vae_core.likelihoods import get_log_likelihood
from vae_core.steps import TermsModel


@keras.saving.register_keras_serializable(package="vae_core")
class VectorQuantizer(layers.Layer):
    """A codebook of `num_codes` vectors of size `code_dim`; the input's last axis is the
    code dimension, and every vector along the other axes is quantised on its own.

    Args:
        num_codes: K, the codebook size.
        code_dim: D, each code's size (the input's last axis).
        commitment: beta, the weight of the commitment loss (0.25 in the paper).
        seed: seeds the codebook's initial values (uniform in +-1/K, as in the paper).
    """

    def __init__(self, num_codes: int, code_dim: int, commitment: float = 0.25, seed: int | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        if num_codes < 1 or code_dim < 1:
            raise ValueError(f"num_codes and code_dim must be >= 1, got {num_codes} and {code_dim}")
        self.num_codes, self.code_dim = int(num_codes), int(code_dim)
        self.commitment = float(commitment)
        self.seed = seed
        limit = 1.0 / self.num_codes
        self.codebook = self.add_weight(shape=(self.num_codes, self.code_dim), name="codebook",
                                        initializer=keras.initializers.RandomUniform(-limit, limit, seed=seed))

    def codes(self, z):
        """Index of the nearest code (squared Euclidean distance) of each vector of z."""
        flat = ops.reshape(z, (-1, self.code_dim))
        d2 = (ops.sum(ops.square(flat), axis=1, keepdims=True) - 2.0 * ops.matmul(flat, ops.transpose(self.codebook))
              + ops.sum(ops.square(self.codebook), axis=1)[None, :])
        return ops.reshape(ops.argmin(d2, axis=1), ops.shape(z)[:-1])

    def lookup(self, indices):
        """The code vectors of `indices` (any shape): shape + (code_dim,)."""
        return ops.take(self.codebook, indices, axis=0)

    def lookup_nearest(self, z):
        """(straight-through quantised z, code indices, codebook loss, commitment loss): the
        losses are batch means of the squared distance summed over the code axis."""
        indices = self.codes(z)
        e = self.lookup(indices)
        codebook_loss = ops.mean(ops.sum(ops.square(ops.stop_gradient(z) - e), axis=-1))
        commitment_loss = ops.mean(ops.sum(ops.square(z - ops.stop_gradient(e)), axis=-1))
        return z + ops.stop_gradient(e - z), indices, codebook_loss, commitment_loss

    def call(self, z):
        return self.lookup_nearest(z)[0]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "num_codes": self.num_codes, "code_dim": self.code_dim,
                "commitment": self.commitment, "seed": self.seed}


def perplexity(indices, num_codes: int):
    """exp of the entropy of the codes' frequencies in `indices`: how many codes are in use
    (num_codes when all are used equally, 1 when one code takes everything)."""
    p = ops.mean(ops.one_hot(ops.reshape(indices, (-1,)), num_codes), axis=0)
    return ops.exp(-ops.sum(p * ops.log(p + 1e-10)))


@keras.saving.register_keras_serializable(package="vae_core")
class VQVAE(TermsModel):
    """Encoder -> VectorQuantizer -> decoder, trained with `fit` on
    reconstruction + codebook loss + commitment * commitment loss.

    Args:
        encoder: a model mapping x to z_e (..., code_dim): one or more vectors per example.
        quantizer: a `VectorQuantizer`.
        decoder: a model mapping the quantised vectors to what `log_likelihood` reads.
        log_likelihood: as in `vae_core.VAE`.

    Logs loss, reconstruction_loss, codebook_loss, commitment_loss and perplexity (codes in
    use in the batch, see `perplexity`).
    """

    def __init__(self, encoder: keras.Model, quantizer: VectorQuantizer, decoder: keras.Model,
                 log_likelihood="bernoulli", **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.quantizer, self.decoder = encoder, quantizer, decoder
        self.log_likelihood = get_log_likelihood(log_likelihood)
        self.trackers = [keras.metrics.Mean(name=n) for n in
                         ("loss", "reconstruction_loss", "codebook_loss", "commitment_loss", "perplexity")]

    def build(self, input_shape=None):
        self.built = True

    @property
    def metrics(self):
        return list(self.trackers)

    def call(self, x, training=None, return_terms: bool = False):
        """The decoder's output for x; with ``return_terms``, the dict of batch-mean terms."""
        z_e = self.encoder(x, training=training)
        q, indices, codebook_loss, commitment_loss = self.quantizer.lookup_nearest(z_e)
        out = self.decoder(q, training=training)
        if not return_terms:
            return out
        rec = ops.mean(-self.log_likelihood(x, out))
        return {"loss": rec + codebook_loss + self.quantizer.commitment * commitment_loss,
                "reconstruction_loss": rec, "codebook_loss": codebook_loss, "commitment_loss": commitment_loss,
                "perplexity": perplexity(indices, self.quantizer.num_codes)}

    # ------------------------------------------------------------ conveniences
    def encode(self, x, batch_size: int = 256) -> np.ndarray:
        """The code indices of x, as numpy (one per encoder output vector)."""
        x = np.asarray(x)
        return np.concatenate([ops.convert_to_numpy(self.quantizer.codes(self.encoder(x[i:i + batch_size])))
                               for i in range(0, len(x), batch_size)])

    def decode(self, indices, batch_size: int = 256) -> np.ndarray:
        """Decoder outputs for code indices (as `encode` gives), as numpy."""
        indices = np.asarray(indices)
        return np.concatenate([ops.convert_to_numpy(self.decoder(self.quantizer.lookup(indices[i:i + batch_size])))
                               for i in range(0, len(indices), batch_size)])

    def get_config(self):
        return {**super().get_config(),
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                "quantizer": keras.saving.serialize_keras_object(self.quantizer),
                "decoder": keras.saving.serialize_keras_object(self.decoder),
                "log_likelihood": keras.saving.serialize_keras_object(self.log_likelihood)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "quantizer", "decoder", "log_likelihood"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
