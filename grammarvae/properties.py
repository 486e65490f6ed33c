"""Molecular properties computed with RDKit, by name.

    >>> compute(["CCO", "c1ccccc1O"], "logp")        # numpy array; NaN where RDKit cannot read the SMILES
    >>> PROPERTIES                                     # the names: logp, qed, sa, mw

- logp: Wildman-Crippen logP (`rdkit.Chem.Crippen.MolLogP`).
- qed: quantitative estimate of drug-likeness (`rdkit.Chem.QED.qed`), 0 to 1.
- sa: synthetic accessibility score of Ertl & Schuffenhauer (RDKit Contrib `sascorer`),
  1 (easy) to 10 (hard).
- mw: molecular weight (`rdkit.Chem.Descriptors.MolWt`), g/mol.
"""

from __future__ import annotations

import os
import sys
from typing import Callable, Sequence

import numpy as np
from rdkit import Chem, RDConfig
from rdkit.Chem import QED, Crippen, Descriptors


def _sa_score(mol) -> float:
    if "sascorer" not in sys.modules:
        sys.path.append(os.path.join(RDConfig.RDContribDir, "SA_Score"))
    import sascorer

    return float(sascorer.calculateScore(mol))


PROPERTIES: dict[str, Callable] = {
    "logp": Crippen.MolLogP,
    "qed": QED.qed,
    "sa": _sa_score,
    "mw": Descriptors.MolWt,
}


def compute(smiles: Sequence[str | None], name: str) -> np.ndarray:
    """Property `name` of each SMILES (float64); NaN where it cannot be read."""
    if name not in PROPERTIES:
        raise ValueError(f"unknown property {name!r}; one of {sorted(PROPERTIES)}")
    fn = PROPERTIES[name]
    out = np.full(len(smiles), np.nan)
    for i, s in enumerate(smiles):
        mol = Chem.MolFromSmiles(s) if s else None
        if mol is not None:
            out[i] = fn(mol)
    return out
