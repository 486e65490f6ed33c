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


def grid_image(smiles, path, legends=None, mols_per_row: int = 5, size: int = 250):
    """Write an RDKit grid picture of molecules: PNG or SVG by the suffix of `path`."""
    from pathlib import Path

    from rdkit.Chem import Draw

    path = Path(path)
    mols = [Chem.MolFromSmiles(s) if s else None for s in smiles]
    mols = [m if m is not None else Chem.Mol() for m in mols]
    legends = list(legends) if legends is not None else [s or "" for s in smiles]
    svg = path.suffix.lower() == ".svg"
    if path.suffix.lower() not in (".png", ".svg"):
        raise ValueError(f"{path}: image must end in .png or .svg")
    img = Draw.MolsToGridImage(mols, molsPerRow=mols_per_row, subImgSize=(size, size), legends=legends,
                               useSVG=svg)
    if svg:
        path.write_text(img if isinstance(img, str) else img.data)
    elif hasattr(img, "save"):
        img.save(path)
    else:
        path.write_bytes(img.data)
    return path
