"""The Grammar VAE's conditional masking as a vae_core log-likelihood."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="grammarvae")
class MaskedCategorical:
    """log p(x | logits) where each step's softmax runs only over the productions allowed
    for the left-hand side of that step's true production (Kusner et al. 2017).

    `allowed` is the (n_productions, n_productions) 0/1 matrix
    ``allowed[p, q] = masks[lhs[p], q]``; x is one-hot (batch, steps, n_productions).
    Padding steps allow only the padding production, so they cost nothing.

        >>> ll = MaskedCategorical.from_grammar(Grammar.load("zinc"))
        >>> ll(one_hot_x, logits)        # (batch,) log-likelihoods
    """

    def __init__(self, allowed):
        self.allowed = np.asarray(allowed, dtype="float32")

    @classmethod
    def from_grammar(cls, grammar) -> "MaskedCategorical":
        return cls(grammar.masks[grammar.lhs].astype("float32"))

    def __call__(self, x, logits):
        mask = ops.matmul(x, ops.convert_to_tensor(self.allowed, dtype=x.dtype))  # (B, T, P)
        masked = ops.where(mask > 0, logits, ops.full_like(logits, -1e9))
        logp = ops.log_softmax(masked, axis=-1)
        return ops.sum(ops.sum(x * logp, axis=-1), axis=-1)

    def get_config(self):
        return {"allowed": self.allowed.astype(int).tolist()}

    @classmethod
    def from_config(cls, config):
        return cls(config["allowed"])
