"""Chemistry helpers on RDKit: standardising input SMILES before parsing.

    >>> standardize("OCC")
    'CCO'
    >>> standardize("[Na+].CC(=O)[O-]", kekule=False)   # warns: kept the largest fragment
    'CC(=O)[O-]'
"""

from __future__ import annotations

import warnings

from rdkit import Chem, RDLogger

from grammarvae.errors import GrammarError

RDLogger.DisableLog("rdApp.*")


class FragmentWarning(UserWarning):
    """A salt or mixture was reduced to its largest fragment."""


def to_mol(smiles: str) -> Chem.Mol:
    """RDKit molecule from SMILES; GrammarError naming the SMILES when RDKit cannot read it."""
    if not isinstance(smiles, str) or not smiles.strip():
        raise GrammarError("empty SMILES", smiles if isinstance(smiles, str) else None)
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise GrammarError("RDKit cannot read it (bad syntax or valence)", smiles)
    return mol


def largest_fragment(mol: Chem.Mol) -> Chem.Mol:
    """The fragment with the most heavy atoms (ties: the first in the SMILES)."""
    frags = Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=True)
    return max(frags, key=lambda m: m.GetNumHeavyAtoms()) if len(frags) > 1 else mol


def standardize(smiles: str, kekule: bool = False, keep_stereo: bool = True) -> str:
    """RDKit canonical SMILES of the largest fragment.

    Salts and mixtures keep their largest fragment and a `FragmentWarning` says so.
    With ``kekule=True`` aromatic rings are written with explicit single and double
    bonds (no lowercase atoms), the form the Grammar VAE trains and decodes.
    Raises GrammarError for what RDKit cannot read.
    """
    mol = to_mol(smiles)
    if "." in smiles:
        big = largest_fragment(mol)
        if big is not mol:
            warnings.warn(f"{smiles!r}: kept the largest fragment of a mixture", FragmentWarning, stacklevel=2)
            mol = big
    if kekule:
        mol = Chem.Mol(mol)
        Chem.Kekulize(mol, clearAromaticFlags=True)
    return Chem.MolToSmiles(mol, isomericSmiles=keep_stereo, kekuleSmiles=kekule, canonical=True)


def canonical(smiles: str) -> str | None:
    """Aromatic canonical SMILES, or None when RDKit cannot read it (for metrics)."""
    mol = Chem.MolFromSmiles(smiles) if smiles else None
    return Chem.MolToSmiles(mol) if mol is not None else None
