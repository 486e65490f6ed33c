"""Generative-model metrics on SMILES (RDKit): validity, uniqueness, novelty, diversity.

    >>> m = sample_metrics(samples, train=train_smiles)
    >>> m["validity"], m["uniqueness"], m["novelty"], m["internal_diversity"]
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from grammarvae.chem import canonical


def internal_diversity(smiles: Sequence[str], p: int = 1, radius: int = 2, n_bits: int = 1024) -> float:
    """MOSES's IntDiv_p: 1 - mean over molecules i of (mean over all j, i itself included, of
    T(i, j)^p)^(1/p), T the Tanimoto similarity of Morgan fingerprints (radius 2, 1,024 bits, as
    MOSES computes them); repeats count as often as they occur. nan below 2 molecules."""
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    fps = [gen.GetFingerprint(m) for m in (Chem.MolFromSmiles(s) for s in smiles) if m is not None]
    if len(fps) < 2:
        return float("nan")
    per_molecule = [np.mean(np.asarray(DataStructs.BulkTanimotoSimilarity(fp, fps)) ** p) ** (1.0 / p) for fp in fps]
    return 1.0 - float(np.mean(per_molecule))


def sample_metrics(samples: Sequence[str | None], train: Iterable[str] | None = None) -> dict:
    """Validity (RDKit parses), uniqueness (distinct among valid), novelty (valid unique
    molecules absent from `train`, compared as canonical SMILES), MOSES's internal diversity
    IntDiv1 and IntDiv2 of the valid samples (repeats included, as MOSES counts them)."""
    canon = [canonical(s) if s else None for s in samples]
    valid = [c for c in canon if c is not None]
    unique = set(valid)
    out = {
        "samples": len(samples),
        "validity": len(valid) / len(samples) if samples else float("nan"),
        "uniqueness": len(unique) / len(valid) if valid else float("nan"),
        "internal_diversity": internal_diversity(valid),
        "internal_diversity_2": internal_diversity(valid, p=2),
    }
    if train is not None:
        train_set = {c for c in (canonical(s) for s in train) if c is not None}
        out["novelty"] = len(unique - train_set) / len(unique) if unique else float("nan")
    return out


def reconstruction_accuracy(inputs: Sequence[str], decoded: Sequence[str | None]) -> float:
    """Share of inputs whose decode is the same molecule (canonical SMILES match)."""
    hits = sum(1 for a, b in zip(inputs, decoded) if b is not None and canonical(a) == canonical(b))
    return hits / len(inputs) if inputs else float("nan")


def tanimoto(a: str | None, b: str | None, radius: int = 2, n_bits: int = 2048) -> float:
    """Tanimoto similarity of the Morgan fingerprints (radius 2, 2,048 bits: the Grammar VAE
    literature's) of two SMILES; NaN if either is missing or unreadable."""
    ma, mb = (Chem.MolFromSmiles(s) if s else None for s in (a, b))
    if ma is None or mb is None:
        return float("nan")
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    return DataStructs.TanimotoSimilarity(gen.GetFingerprint(ma), gen.GetFingerprint(mb))


def mean_similarity(inputs: Sequence[str], decoded: Sequence[str | None], radius: int = 2,
                    n_bits: int = 2048) -> float:
    """Mean `tanimoto` of each input to its decode; a failed decode counts 0. Shows how close
    reconstructions come when they are not exact."""
    values = [tanimoto(a, b, radius, n_bits) for a, b in zip(inputs, decoded)]
    return float(np.nansum(values) / len(inputs)) if inputs else float("nan")


def step_accuracy(logits: np.ndarray, ids: np.ndarray, grammar) -> tuple[np.ndarray, np.ndarray]:
    """Per molecule: how many steps of its true derivation `ids` (n, T) the decoder's logits
    (n, T, n_productions) get right, and how many steps it has (padding excluded).

    A step is right when the best production allowed for the true left-hand side is the true
    production. Greedy decoding reproduces a molecule exactly only when every step is right,
    so this shows how far a model is from exact reconstruction when it still gets none."""
    ids = np.asarray(ids)
    lhs = grammar.lhs[ids]
    best = np.where(grammar.masks[lhs], logits, -np.inf).argmax(-1)
    real = ids != grammar.pad
    return ((best == ids) & real).sum(1), real.sum(1)
