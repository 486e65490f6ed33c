"""Improving given molecules under a similarity constraint: JT-VAE's constrained optimisation.

    >>> gp = property_model(model, "penalized_logp_raw", train_smiles)   # a LatentGP on their latents
    >>> runs = improve(model, starts, gp, "penalized_logp_raw", steps=80, step_size=(0.002, 0.01, 0.05))
    >>> runs[0].best(0.4)                 # Step(smiles, score, similarity, step) or None
    >>> summarize(runs, 0.4)              # success share, improvement and similarity
    >>> write_improvements(runs, "improved.csv")   # one row per molecule decoded

Each start molecule is encoded to its latent mean and moved `steps` times up the gradient of
the property model's predictive mean (`LatentGP.gradient`), `step_size` times the gradient a
step (one path for each step size given); every point of the path is decoded greedily (always a valid molecule) and scored by
RDKit, not by the model. At a threshold delta, the result for a molecule is the decode of
highest score among those that are a different molecule from the start, score above it, and
whose Tanimoto similarity to it (`grammarvae.metrics.tanimoto`: Morgan radius 2, 2,048 bits)
is at least delta; a molecule succeeds when there is one. Jin et al. (JT-VAE, 2018) ran this on the 800
ZINC test molecules of lowest penalised logP (unstandardised), 80 steps, with deltas 0, 0.2,
0.4 and 0.6; `benchmarks/constrained.py` runs it beside their table.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from grammarvae.chem import canonical
from grammarvae.design.attributes import scored_latents
from grammarvae.design.gp import LatentGP
from grammarvae.files import writing
from grammarvae.metrics import tanimoto
from grammarvae.properties import score


@dataclass(frozen=True)
class Step:
    """One decoded point of a path: the molecule, its score, its similarity to the start and
    the gradient step it was decoded at (1 to `steps`)."""

    smiles: str
    score: float
    similarity: float
    step: int


@dataclass
class Improvement:
    """A start molecule, its score, and the distinct molecules decoded along its path."""

    start: str
    start_score: float
    path: list = field(default_factory=list)

    def ranked(self, delta: float = 0.0) -> list[Step]:
        """The decodes with similarity at least `delta` and a score above the start's, best first."""
        return sorted((s for s in self.path if s.similarity >= delta and s.score > self.start_score),
                      key=lambda s: -s.score)

    def best(self, delta: float = 0.0) -> Step | None:
        """The first of `ranked(delta)`; None when there is none."""
        ranked = self.ranked(delta)
        return ranked[0] if ranked else None


def property_model(model, target: str, smiles: Sequence[str] | None = None, n: int = 2000, num_inducing: int = 500,
                   seed: int = 0, progress: Callable[[int, int], None] | None = None) -> LatentGP:
    """A sparse GP of `target` on the latent means of `smiles` (those that encode and score),
    or, without them, on `n` seeded prior points scored on their greedy decodes."""
    Z, y = scored_latents(model, target, smiles, n, seed, progress)
    keep = np.isfinite(np.asarray(Z, dtype="float64")).all(1) & np.isfinite(y)
    if keep.sum() < 2:
        raise ValueError(f"the property model needs at least 2 molecules that encode and score, got {int(keep.sum())}")
    return LatentGP(num_inducing=min(num_inducing, int(keep.sum())), seed=seed).fit(Z[keep], y[keep])


def improve(model, smiles: Sequence[str], property_model, target: str = "penalized_logp_raw", steps: int = 80,
            step_size: float | Sequence[float] = (0.002, 0.01, 0.05), samples: int = 0,
            temperature: float = 1.0, seed: int = 0, batch: int = 200, progress: Callable[[int, int], None] | None = None) -> list[Improvement]:
    """Gradient ascent from each molecule's latent mean on `property_model` (anything with a
    `gradient(Z)` method, such as a fitted `LatentGP`), decoding every step (module docstring).
    Several step sizes walk one path each from every molecule, their decodes pooled: a small
    step keeps close to the molecule (what a high similarity threshold needs), a large one goes
    far (what a low one rewards). ``samples=K`` decodes each point K more times by sampling at
    `temperature` (seeded by `seed`: the same seed gives the same molecules), which finds more
    of the molecules near the start than the greedy decode alone.
    Molecules that cannot be encoded come back with an empty path and a NaN start score.
    `progress(done, total)` is called after each batch of start molecules."""
    sizes = np.atleast_1d(np.asarray(step_size, dtype="float64"))
    if steps < 1 or not len(sizes) or not np.isfinite(sizes).all() or (sizes <= 0).any():
        raise ValueError(f"steps must be >= 1 and step_size positive numbers, got {steps} and {step_size}")
    if batch < 1 or samples < 0:
        raise ValueError(f"batch must be >= 1 and samples >= 0, got {batch} and {samples}")
    smiles = list(smiles)
    Z = model.encode_checked(smiles).Z.astype("float64")
    start_scores = score(smiles, target).values
    runs = [Improvement(s, float(v)) for s, v in zip(smiles, start_scores)]
    ok = np.flatnonzero(np.isfinite(Z).all(1))
    for lo in range(0, len(ok), batch):
        idx = ok[lo:lo + batch]
        z, points = np.repeat(Z[idx][None], len(sizes), 0), []           # (sizes, molecules, d)
        for _ in range(steps):
            grad = property_model.gradient(z.reshape(-1, z.shape[-1])).reshape(z.shape)
            z = z + sizes[:, None, None] * grad
            points.append(z)
        flat = np.stack(points).reshape(-1, z.shape[-1]).astype("float32")
        decoded = [model.decode(flat)] + [model.decode(flat, greedy=False, temperature=temperature,
                                                       seed=seed + (r + 1) * 1_000_003 + lo * len(flat))
                                          for r in range(samples)]
        decoded = np.asarray(decoded, dtype=object).reshape(1 + samples, steps, len(sizes), len(idx))
        decoded = decoded.transpose(1, 0, 2, 3).reshape(steps, -1, len(idx))
        for j, i in enumerate(idx):
            _collect(runs[i], decoded[:, :, j].tolist(), target)
        if progress:
            progress(min(lo + batch, len(ok)), len(ok))
    return runs


def _collect(run: Improvement, decoded: list, target: str) -> None:
    """The distinct decodes of one molecule's paths (decoded[step][path]) other than the start,
    each at the first step it appears."""
    seen, first = {canonical(run.start)}, []
    for k, row in enumerate(decoded, start=1):
        for s in row:
            key = canonical(s) if s else None
            if key is not None and key not in seen:
                seen.add(key)
                first.append((key, k))
    values = score([s for s, _ in first], target).values
    run.path = [Step(s, float(v), tanimoto(run.start, s), k) for (s, k), v in zip(first, values)]


def summarize(runs: Sequence[Improvement], delta: float) -> dict:
    """At threshold `delta`, over the molecules that encoded: the share that succeed, the mean
    and standard deviation of the improvement and of the similarity over those that succeed, and
    the mean improvement over all of them with a failure counted as 0."""
    runs = [r for r in runs if np.isfinite(r.start_score)]
    found = [(r, r.best(delta)) for r in runs]
    gains = np.array([b.score - r.start_score for r, b in found if b is not None])
    sims = np.array([b.similarity for _, b in found if b is not None])
    n = len(runs)
    return {"molecules": n, "success": len(gains) / n if n else float("nan"),
            "improvement": float(gains.mean()) if len(gains) else float("nan"),
            "improvement_std": float(gains.std()) if len(gains) else float("nan"),
            "similarity": float(sims.mean()) if len(sims) else float("nan"),
            "similarity_std": float(sims.std()) if len(sims) else float("nan"),
            "improvement_all": float(gains.sum() / n) if n else float("nan")}


def write_improvements(runs: Sequence[Improvement], path) -> None:
    """One row per molecule decoded: start, start_score, smiles, score, similarity, step, best
    first within each start (a start with no decode: one row with the decode columns empty)."""
    with writing(path, newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["start", "start_score", "smiles", "score", "similarity", "step"])
        for r in runs:
            start = [r.start, "" if np.isnan(r.start_score) else f"{r.start_score:.6g}"]
            for s in sorted(r.path, key=lambda s: -s.score) or [None]:
                w.writerow(start + (["", "", "", ""] if s is None else
                                    [s.smiles, f"{s.score:.6g}", f"{s.similarity:.4f}", s.step]))
