"""Attribute vectors: the direction in latent space from molecules without an attribute to
molecules with it (the "smile vector" of image VAEs), and a molecule moved along it.

    >>> v = attribute_vector(model.encode(with_ring), model.encode(without_ring))
    >>> v = property_direction(Z, logp_values, fraction=0.2)    # top 20% minus bottom 20%
    >>> shift(model, "CC(=O)Nc1ccc(O)cc1", v, steps=6, scale=2.0)   # [(0.0, smiles), (0.4, ...), ...]
"""

from __future__ import annotations

import numpy as np


def attribute_vector(Z_with, Z_without) -> np.ndarray:
    """Mean latent of the points with the attribute minus the mean of those without (rows
    holding NaN or inf are left out)."""
    means = []
    for name, Z in (("with", Z_with), ("without", Z_without)):
        Z = np.asarray(Z, dtype="float64")
        Z = Z[np.isfinite(Z).all(1)] if Z.ndim == 2 else Z[:0]
        if not len(Z):
            raise ValueError(f"no finite latent points {name} the attribute")
        means.append(Z.mean(0))
    return means[0] - means[1]


def property_direction(Z, values, fraction: float = 0.2) -> np.ndarray:
    """`attribute_vector` of the points with the top `fraction` of `values` against those with
    the bottom `fraction` (points whose value is NaN are left out)."""
    if not 0 < fraction <= 0.5:
        raise ValueError(f"fraction must be in (0, 0.5], got {fraction}")
    Z, values = np.asarray(Z, dtype="float64"), np.asarray(values, dtype="float64")
    keep = np.isfinite(values) & np.isfinite(Z).all(1)
    Z, values = Z[keep], values[keep]
    k = int(fraction * len(values))
    if k < 1:
        raise ValueError(f"{len(values)} scored points are too few for a top and bottom {fraction:.0%}")
    order = np.argsort(values, kind="stable")
    return attribute_vector(Z[order[-k:]], Z[order[:k]])


def shift(model, smiles: str, direction, steps: int = 6, scale: float = 2.0) -> list[tuple[float, str]]:
    """Greedy decodes of encode(smiles) + t * direction for `steps` values of t from 0 to
    `scale` (negative moves the other way): [(t, smiles), ...]."""
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}")
    direction = np.asarray(direction, dtype="float32").reshape(-1)
    if direction.shape != (model.latent_dim,) or not np.isfinite(direction).all():
        raise ValueError(f"direction must be {model.latent_dim} finite numbers")
    if not np.isfinite(scale):
        raise ValueError(f"scale must be finite, got {scale}")
    z0 = model.encode([smiles])[0]
    t = np.linspace(0.0, scale, steps, dtype="float32")
    return list(zip(t.tolist(), model.decode(z0 + t[:, None] * direction)))


def scored_latents(model, target: str, smiles=None, n: int = 2000, seed: int = 0, progress=None):
    """Latent points and their `target` values (a `grammarvae.properties` name): the latent
    means of `smiles` (NaN rows and values where one fails), or, without them, `n` prior points
    z ~ N(0, I) (seeded) scored on their greedy decodes: the model's own latent space, no data
    needed."""
    from grammarvae.properties import score

    if smiles is not None:
        Z = model.encode_checked(list(smiles), progress=progress).Z
        return Z, score(list(smiles), target).values
    Z = np.random.default_rng(seed).standard_normal((n, model.latent_dim)).astype("float32")
    return Z, score(model.decode(Z, progress=progress), target).values


def direction_of(model, target: str, smiles=None, n: int = 2000, seed: int = 0, fraction: float = 0.2,
                 progress=None) -> np.ndarray:
    """`property_direction` of property `target` over `scored_latents(model, target, smiles, n,
    seed)`: the latent means of `smiles`, or `n` seeded prior points scored on their decodes."""
    return property_direction(*scored_latents(model, target, smiles, n, seed, progress), fraction)
