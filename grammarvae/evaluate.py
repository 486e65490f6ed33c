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

def draw(rows: Sequence, limit: int | None, seed: int = 0) -> list:
    """At most `limit` of `rows`, drawn at random (seeded) and kept in their order: a file's
    first rows are no sample of it when the file is ordered (the MOSES test file's mean SA
    rises from its first tenth to its last), so a limited reference set is a random draw."""
    rows = list(rows)
    if limit is None or limit >= len(rows):
        return rows
    keep = np.sort(np.random.default_rng(seed).choice(len(rows), size=limit, replace=False))
    return [rows[i] for i in keep]


def evaluate(model, test: Sequence[str], train: Sequence[str] | None = None, n_prior: int = 1000,
             seed: int = 0, progress=None, beam_width: int | None = None, n_unique: int | None = None,
             sampled_protocol: int = 0, prior_decoding: str = "greedy", with_fcd: bool = False,
             prior: str | None = None, avoid_rings: str | None = None) -> dict:
    """Prior validity, uniqueness, novelty (with `train`), internal diversity of `n_prior`
    samples, and their realism against `test` (`grammarvae.realism`: ring shares beside the
    test set's, property distances, SNN, fragment and scaffold similarity); reconstruction
    of `test` by greedy decode of the latent mean: accuracy (canonical match), mean Tanimoto
    similarity to the input, and the share of derivation steps the decoder gets right
    (`step_accuracy`, on the molecules that encode); molecules the grammar or model cannot
    encode count as failures. Also the mean KL of q(z|x) from the prior in nats, and the
    reconstruction when the test latents are shuffled (about 0 if the decoder uses z).

    Prior samples are decoded greedily (``prior_decoding="greedy"``) or drawn from the
    decoder's distribution p(x|z) at temperature 1 (``"sampled"``: the generative model's
    own samples, as MOSES and the Grammar VAE paper draw them), from `prior` as
    `GrammarVAE.sample` takes it (the model's default: its fitted aggregate posterior where
    it has one, else N(0, I)), avoiding the ring sizes `avoid_rings` names as `sample` does
    (the model's default: 4-rings and rings of 8 or more for molecules).

    Options: `beam_width` adds reconstruction by beam search; `n_unique` adds the uniqueness
    of that many prior samples; `sampled_protocol=k` adds the literature's sampled protocol
    on the first k test molecules (10 latents drawn from q(z|x), 10 sampled decodes each:
    the share of the 100 decodes that equal the input); `with_fcd` adds the Frechet ChemNet
    Distance of the samples from `test` (the optional extra `grammarvae[fcd]`)."""
    from grammarvae.models.gvae import DECODE_CHUNK
    from grammarvae.realism import realism

    if with_fcd:
        from grammarvae.realism import require_fcd

        require_fcd()  # before any work
    if prior_decoding not in ("greedy", "sampled"):
        raise ValueError(f"prior_decoding must be 'greedy' or 'sampled', got {prior_decoding!r}")
    greedy = prior_decoding == "greedy"
    prior = model.default_prior if prior is None else prior
    avoid_rings = model.default_avoid_rings if avoid_rings is None else avoid_rings
    samples = model.sample(n_prior, seed=seed, greedy=greedy, prior=prior, avoid_rings=avoid_rings)
    out = {"prior": prior, "prior_decoding": prior_decoding, "avoid_rings": avoid_rings,
           **sample_metrics(samples, train=train)}
    out["dropped_rings_per_sample"] = model.decode_stats.dropped_rings / max(1, n_prior)
    if n_unique:
        out[f"uniqueness_{n_unique}"] = sample_metrics(model.sample(n_unique, seed=seed + 1, greedy=greedy, prior=prior,
                                                                    avoid_rings=avoid_rings))["uniqueness"]
    # One encoding serves everything below; for the one-shot decoder, one network pass per
    # chunk serves both the decodes and the step accuracy.
    test = list(test)
    res = encode_smiles(test, model.max_len, model.grammar)
    rows = np.nonzero(res.ok)[0]
    mean, log_var = model.encode_ids(res.X[rows], return_log_var=True)
    decoded: list = [None] * len(test)
    right, steps = np.zeros(len(rows), dtype=np.int64), np.zeros(len(rows), dtype=np.int64)
    for i in range(0, len(rows), DECODE_CHUNK):
        chunk, X, z = rows[i:i + DECODE_CHUNK], res.X[rows[i:i + DECODE_CHUNK]], mean[i:i + DECODE_CHUNK]
        logits = model.step_logits(X, z)
        smiles = model.decode(z) if model.autoregressive else model.decoder_engine.decode(logits)
        for j, s in zip(chunk, smiles):
            decoded[j] = s
        right[i:i + len(chunk)], steps[i:i + len(chunk)] = step_accuracy(logits, X, model.grammar)
        if progress:
            progress(i + len(chunk), len(rows))
    out["step_accuracy"] = float(right.sum() / steps.sum()) if len(rows) else float("nan")
    out["all_steps_right"] = float((right == steps).mean()) if len(rows) else float("nan")
    out["reconstruction_accuracy"] = reconstruction_accuracy(test, decoded)
    out["reconstruction_similarity"] = mean_similarity(test, decoded)
    encoded = [test[i] for i in rows]
    if len(rows):
        out["kl_nats"] = float(np.mean(0.5 * np.sum(mean ** 2 + np.exp(log_var) - 1.0 - log_var, axis=1)))
        shuffled = mean[np.random.default_rng(seed).permutation(len(mean))]
        out["reconstruction_shuffled_z"] = reconstruction_accuracy(encoded, model.decode(shuffled))
        if beam_width:
            out[f"reconstruction_beam_{beam_width}"] = reconstruction_accuracy(
                encoded, model.decode(mean, beam_width=beam_width)) * len(rows) / len(test)
        if sampled_protocol:
            k = min(sampled_protocol, len(rows))
            rng = np.random.default_rng(seed)
            z = (np.repeat(mean[:k], 10, 0) + np.exp(0.5 * np.repeat(log_var[:k], 10, 0))
                 * rng.standard_normal((10 * k, mean.shape[1]))).astype("float32")
            dec = model.decode(np.repeat(z, 10, 0), greedy=False, seed=seed)
            out["reconstruction_sampled_10x10"] = reconstruction_accuracy(
                [s for s in encoded[:k] for _ in range(100)], dec)
            out["sampled_protocol_molecules"] = k
    out.update(realism(samples, test, with_fcd=with_fcd))
    out["test_molecules"] = len(test)
    out["test_not_encodable"] = len(res.errors)
    out["not_encodable"] = [[int(i), s, why] for i, s, why in res.errors]  # (index in test, SMILES, reason)
    return out
