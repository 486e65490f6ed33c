"""Measuring a GrammarVAE: prior samples and reconstruction of held-out molecules.

    >>> evaluate(model, test_smiles, train_smiles=train, n_prior=1000, seed=0)
    {'validity': 1.0, 'uniqueness': ..., 'novelty': ..., 'internal_diversity': ...,
     'reconstruction_accuracy': ..., ...}
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from grammarvae.data import encode_smiles
from grammarvae.metrics import mean_similarity, reconstruction_accuracy, sample_metrics, step_accuracy


def evaluate(model, test: Sequence[str], train: Sequence[str] | None = None, n_prior: int = 1000,
             seed: int = 0, progress=None) -> dict:
    """Prior validity, uniqueness, novelty (with `train`), internal diversity of `n_prior`
    samples, and reconstruction of `test` by greedy decode of the latent mean: accuracy
    (canonical match), mean Tanimoto similarity to the input, and the share of derivation
    steps the decoder gets right (`step_accuracy`, on the molecules that encode); molecules
    the grammar or model cannot encode count as failures."""
    from grammarvae.models.gvae import DECODE_CHUNK

    samples = model.sample(n_prior, seed=seed)
    out = sample_metrics(samples, train=train)
    out["dropped_rings_per_sample"] = model.decode_stats.dropped_rings / max(1, n_prior)
    # One encoding and one network pass per chunk serve both the decodes and the step accuracy.
    test = list(test)
    res = encode_smiles(test, model.max_len, model.grammar)
    rows = np.nonzero(res.ok)[0]
    decoded: list = [None] * len(test)
    right, steps = np.zeros(len(rows), dtype=np.int64), np.zeros(len(rows), dtype=np.int64)
    for i in range(0, len(rows), DECODE_CHUNK):
        chunk, X = rows[i:i + DECODE_CHUNK], res.X[rows[i:i + DECODE_CHUNK]]
        z = model.encode_ids(X)
        for j, s in zip(chunk, model.decode(z, greedy=True)):
            decoded[j] = s
        logits = model.step_logits(X, z)
        right[i:i + len(chunk)], steps[i:i + len(chunk)] = step_accuracy(logits, X, model.grammar)
        if progress:
            progress(i + len(chunk), len(rows))
    out["step_accuracy"] = float(right.sum() / steps.sum()) if len(rows) else float("nan")
    out["all_steps_right"] = float((right == steps).mean()) if len(rows) else float("nan")
    out["reconstruction_accuracy"] = reconstruction_accuracy(test, decoded)
    out["reconstruction_similarity"] = mean_similarity(test, decoded)
    out["test_molecules"] = len(test)
    out["test_not_encodable"] = len(res.errors)
    return out
