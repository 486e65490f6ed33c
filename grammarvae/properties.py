"""Molecular properties computed with RDKit, by name: the targets of latent-space design.

    >>> compute(["CCO", "c1ccccc1O"], "logp")        # numpy array; NaN where RDKit cannot read the SMILES
    >>> score(["CCO", "C1CC"], "qed")                 # Scores(values, reasons): the reason beside each NaN
    >>> PROPERTIES                                     # the names: logp, qed, sa, mw, penalized_logp

- logp: Wildman-Crippen logP (`rdkit.Chem.Crippen.MolLogP`).
- qed: quantitative estimate of drug-likeness (`rdkit.Chem.QED.qed`), 0 to 1.
- sa: synthetic accessibility score of Ertl & Schuffenhauer (RDKit Contrib `sascorer`),
  1 (easy) to 10 (hard).
- mw: molecular weight (`rdkit.Chem.Descriptors.MolWt`), g/mol.
- penalized_logp: logP - SA - ring penalty, each term standardised (`PenalizedLogP`): the
  target of the Grammar VAE, SD-VAE and JT-VAE Bayesian optimisation experiments.
- penalized_logp_raw: the same three terms summed as they are, unstandardised: the scale of
  JT-VAE's similarity-constrained optimisation (its 800 test molecules are listed with these
  values) and of the papers that report that task since.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Callable, NamedTuple, Sequence

import numpy as np
from rdkit import Chem, RDConfig
from rdkit.Chem import QED, Crippen, Descriptors


def _sa_score(mol) -> float:
    if "sascorer" not in sys.modules:
        sys.path.append(os.path.join(RDConfig.RDContribDir, "SA_Score"))
    import sascorer

    return float(sascorer.calculateScore(mol))


def ring_penalty(mol) -> int:
    """Atoms by which the largest ring (RDKit's smallest set of smallest rings) exceeds 6; 0
    for a molecule whose rings are all of 6 atoms or fewer."""
    largest = max((len(r) for r in mol.GetRingInfo().AtomRings()), default=0)
    return max(largest - 6, 0)


# Mean and standard deviation of each term over the ZINC-250k training molecules: the figures
# the Grammar VAE and JT-VAE optimisation code standardise by, so that scores compare with the
# papers' (tests check them against the shared ZINC-250k molecules).
ZINC250K_STATS = {
    "logp": (2.4570953396190123, 1.434324401111988),
    "neg_sa": (-3.0525811293166134, 0.8335207024513095),
    "neg_ring_penalty": (-0.0485696876403053, 0.2860212110245455),
}


@dataclass(frozen=True)
class PenalizedLogP:
    """Penalised logP: (logP - m1)/s1 + (-SA - m2)/s2 + (-ring_penalty - m3)/s3, the means m and
    standard deviations s of each term over training molecules (`stats`, by default ZINC-250k's
    as the papers use; `standardized_on(smiles)` takes another set's); with
    ``standardize=False`` the plain sum logP - SA - ring_penalty.

        >>> PenalizedLogP()(Chem.MolFromSmiles("CCCCCCCC"))
    """

    stats: dict = field(default_factory=lambda: dict(ZINC250K_STATS))
    standardize: bool = True

    @staticmethod
    def terms(mol) -> tuple[float, float, float]:
        """The unstandardised terms: logP, -SA, -ring_penalty."""
        return Crippen.MolLogP(mol), -_sa_score(mol), -float(ring_penalty(mol))

    def __call__(self, mol) -> float:
        if not self.standardize:
            return float(sum(self.terms(mol)))
        return float(sum((t - m) / s for t, (m, s) in zip(self.terms(mol), self.stats.values())))

    @classmethod
    def standardized_on(cls, smiles: Sequence[str]) -> "PenalizedLogP":
        """Standardised by the mean and standard deviation of each term over `smiles` (those
        RDKit reads)."""
        mols = [m for m in (Chem.MolFromSmiles(s) for s in smiles if s) if m is not None]
        if len(mols) < 2:
            raise ValueError("standardising needs at least two readable molecules")
        t = np.array([cls.terms(m) for m in mols])
        return cls(dict(zip(ZINC250K_STATS, zip(t.mean(0).tolist(), t.std(0).tolist()))))


PROPERTIES: dict[str, Callable] = {
    "logp": Crippen.MolLogP,
    "qed": QED.qed,
    "sa": _sa_score,
    "mw": Descriptors.MolWt,
    "penalized_logp": PenalizedLogP(),
    "penalized_logp_raw": PenalizedLogP(standardize=False),
}


class Scores(NamedTuple):
    """One value per SMILES (float64, NaN where it failed) and, beside each NaN, the reason."""

    values: np.ndarray
    reasons: list


def score(smiles: Sequence[str | None], name: str) -> Scores:
    """Property `name` of each SMILES, and why any could not be scored."""
    if name not in PROPERTIES:
        raise ValueError(f"unknown property {name!r}; one of {', '.join(PROPERTIES)}")
    fn = PROPERTIES[name]
    values, reasons = np.full(len(smiles), np.nan), [None] * len(smiles)
    for i, s in enumerate(smiles):
        mol = Chem.MolFromSmiles(s) if s else None
        if mol is None:
            reasons[i] = "empty" if not s else "RDKit cannot read it"
            continue
        try:
            values[i] = fn(mol)
        except Exception as e:  # an RDKit or sascorer failure on one molecule fails that one only
            reasons[i] = f"{name} failed: {type(e).__name__}: {e}"
    return Scores(values, reasons)


def compute(smiles: Sequence[str | None], name: str) -> np.ndarray:
    """Property `name` of each SMILES (float64); NaN where it cannot be scored."""
    return score(smiles, name).values
