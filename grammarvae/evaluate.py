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
    samples = model.sample(n_prior, seed=seed)
    out = sample_metrics(samples, train=train)
    out["dropped_rings_per_sample"] = model.decode_stats.dropped_rings / max(1, n_prior)
    Z, errors = model.encode_checked(list(test))
    ok = ~np.isnan(Z).any(1)
    decoded: list = [None] * len(test)
    if ok.any():
        for i, s in zip(np.nonzero(ok)[0], model.decode(Z[ok], greedy=True, progress=progress)):
            decoded[i] = s
    out["step_accuracy"], out["all_steps_right"] = _steps_right(model, list(test), Z)
    out["reconstruction_accuracy"] = reconstruction_accuracy(list(test), decoded)
    out["reconstruction_similarity"] = mean_similarity(list(test), decoded)
    out["test_molecules"] = len(test)
    out["test_not_encodable"] = len(errors)
    return out


def _steps_right(model, test: list[str], Z: np.ndarray, chunk: int = 1024) -> tuple[float, float]:
    """Share of derivation steps right, and of molecules with every step right (see
    `grammarvae.metrics.step_accuracy`), over the rows of `test` that encoded (Z not NaN)."""
    ok = np.nonzero(~np.isnan(Z).any(1))[0]
    if not len(ok):
        return float("nan"), float("nan")
    X = encode_smiles([test[i] for i in ok], model.max_len, model.grammar).X
    right, steps = [], []
    for i in range(0, len(ok), chunk):
        r, n = step_accuracy(model.decode_logits(Z[ok[i:i + chunk]]), X[i:i + chunk], model.grammar)
        right.append(r)
        steps.append(n)
    right, steps = np.concatenate(right), np.concatenate(steps)
    return float(right.sum() / steps.sum()), float((right == steps).mean())
