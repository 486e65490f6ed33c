"""Chemistry helpers on RDKit: standardising input SMILES before parsing.

    >>> standardize("OCC")
    'CCO'
    >>> standardize("[Na+].CC(=O)[O-]", kekule=False)   # warns: kept the largest fragment
    'CC(=O)[O-]'
"""

from __future__ import annotations

import math
import warnings

from rdkit import Chem, RDLogger

from grammarvae.errors import GrammarError, shown
from grammarvae.files import replacing, write_text

RDLogger.DisableLog("rdApp.*")


class FragmentWarning(UserWarning):
    """A salt or mixture was reduced to its largest fragment."""


def to_mol(smiles: str) -> Chem.Mol:
    """RDKit molecule from SMILES; GrammarError naming the SMILES when RDKit cannot read it."""
    if not isinstance(smiles, str):
        raise GrammarError(f"not a SMILES string but {type(smiles).__name__}")
    if not smiles.strip():
        raise GrammarError("empty SMILES", smiles)
    if len(smiles.split()) > 1:  # RDKit would read the first word and drop the rest silently
        raise GrammarError("whitespace inside the SMILES", smiles, position=len(smiles.split()[0]))
    if not smiles.isascii():  # RDKit drops some characters silently: Cyrillic "CCCCO" reads as O
        i = next(i for i, c in enumerate(smiles) if not c.isascii())
        raise GrammarError(f"non-ASCII character {smiles[i]!r} (U+{ord(smiles[i]):04X}; SMILES are ASCII)",
                           smiles, position=i)
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise GrammarError("RDKit cannot read it (bad syntax or valence)", smiles)
    return mol


def largest_fragment(mol: Chem.Mol) -> Chem.Mol:
    """The fragment with the most heavy atoms (ties: the first in the SMILES)."""
    frags = Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=True)
    return max(frags, key=lambda m: m.GetNumHeavyAtoms()) if len(frags) > 1 else mol


# A SMILES longer than this many characters per derivation step cannot fit a model of
# that many steps: every atom takes several productions, and even a bracket atom with
# stereo and charge ("[C@@H+]", 7 characters) takes more productions than it has
# characters, so 10 a step leaves room for salts whose other fragments are dropped.
CHARS_PER_STEP = 10


def check_length(smiles: str, max_steps: int) -> None:
    """GrammarError, before any parsing, for a SMILES too long to fit `max_steps` steps (a
    cheap guard: RDKit would take seconds on, or overflow its stack reading, such strings)."""
    if isinstance(smiles, str) and len(smiles) > CHARS_PER_STEP * max_steps:
        raise GrammarError(f"{len(smiles):,} characters: longer than any molecule that fits the model's "
                           f"{max_steps} steps (at most {CHARS_PER_STEP * max_steps:,} characters are read)",
                           smiles[:40] + "...")


def standardize(smiles: str, kekule: bool = False, keep_stereo: bool = True, max_steps: int | None = None,
                neutralize: bool = False) -> str:
    """RDKit canonical SMILES of the largest fragment.

    Salts and mixtures keep their largest fragment and a `FragmentWarning` says so.
    With ``kekule=True`` aromatic rings are written with explicit single and double
    bonds (no lowercase atoms), the form the Grammar VAE trains and decodes. With
    ``keep_stereo=False`` tetrahedral and double-bond stereo marks are removed (isotopes
    stay); with ``neutralize=True`` charges that a proton can take or give are
    neutralised (`neutralized`). With `max_steps`, a SMILES too long for that many steps is
    refused first (`check_length`). Raises GrammarError for what RDKit cannot read.

        >>> standardize("C[C@H](N)C(=O)[O-]", keep_stereo=False, neutralize=True)
        'CC(N)C(=O)O'
    """
    standard, reduced = standardize_reporting(smiles, kekule, keep_stereo, max_steps, neutralize)
    if reduced:
        warnings.warn(f"{shown(smiles)}: kept the largest fragment of a mixture", FragmentWarning, stacklevel=2)
    return standard


def neutralized(mol: Chem.Mol) -> Chem.Mol:
    """`mol` with the charges a proton can take or give neutralised (RDKit's Uncharger:
    [O-] takes H, [NH3+] gives one); charges that cannot go (a quaternary ammonium, a nitro
    group's N+ and O-, a zwitterion's pair) stay."""
    from rdkit.Chem.MolStandardize import rdMolStandardize

    return rdMolStandardize.Uncharger().uncharge(mol)


def without_stereo(mol: Chem.Mol) -> Chem.Mol:
    """A copy of `mol` without tetrahedral or double-bond stereo marks."""
    mol = Chem.Mol(mol)
    Chem.RemoveStereochemistry(mol)
    return mol


def standardize_reporting(smiles: str, kekule: bool = False, keep_stereo: bool = True,
                          max_steps: int | None = None, neutralize: bool = False) -> tuple[str, bool]:
    """`standardize`, without the warning: (standard SMILES, whether a salt or mixture was
    reduced to its largest fragment), for callers that count and list those."""
    if max_steps is not None:
        check_length(smiles, max_steps)
    mol = to_mol(smiles)
    reduced = False
    if "." in smiles:
        big = largest_fragment(mol)
        reduced = big is not mol
        mol = big
    if neutralize:
        mol = neutralized(mol)
    if not keep_stereo:
        mol = without_stereo(mol)
    if kekule:
        mol = Chem.Mol(mol)
        Chem.Kekulize(mol, clearAromaticFlags=True)
    return Chem.MolToSmiles(mol, kekuleSmiles=kekule, canonical=True), reduced


def canonical(smiles: str) -> str | None:
    """Aromatic canonical SMILES, or None when RDKit cannot read it (for metrics)."""
    mol = Chem.MolFromSmiles(smiles) if smiles else None
    return Chem.MolToSmiles(mol) if mol is not None else None


LEGEND_CHARS = 34  # characters a legend line holds under a molecule
LEGEND_LINES = 2  # lines a legend may take; a longer one is cut, with "..."


def short_legend(text: str) -> str:
    """`text` broken into lines of LEGEND_CHARS characters, at most LEGEND_LINES of them (a
    SMILES of up to 68 characters is shown whole); cut with "..." when longer."""
    if len(text) > LEGEND_CHARS * LEGEND_LINES:
        text = text[:LEGEND_CHARS * LEGEND_LINES - 3] + "..."
    return "\n".join(text[i:i + LEGEND_CHARS] for i in range(0, len(text), LEGEND_CHARS)) or text


def grid_columns(n: int, widest: int = 10) -> int:
    """Columns for a grid of n molecules: near square, at most `widest` (100 molecules: 10 x 10)."""
    return max(1, min(widest, math.ceil(math.sqrt(n))))


def grid_image(smiles, path, legends=None, mols_per_row: int | None = None, size: int = 250):
    """Write an RDKit grid picture of molecules: PNG or SVG by the suffix of `path`.
    Near square by default (`grid_columns`), legends in a fixed readable font, on up to two
    lines (`short_legend`)."""
    from pathlib import Path

    from rdkit.Chem import Draw

    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg"):
        raise ValueError(f"{path}: image must end in .png or .svg")
    mols = [Chem.MolFromSmiles(s) if s else None for s in smiles]
    if not mols:
        raise ValueError(f"{path}: no molecules to draw")
    mols = [m if m is not None else Chem.Mol() for m in mols]
    legends = list(legends) if legends is not None else [s or "" for s in smiles]
    legends = [short_legend(t) for t in legends]
    options = Draw.MolDrawOptions()
    options.legendFontSize = max(12, size // 14)
    options.legendFraction = 0.12 if all("\n" not in t for t in legends) else 0.18
    svg = path.suffix.lower() == ".svg"
    img = Draw.MolsToGridImage(mols, molsPerRow=mols_per_row or grid_columns(len(mols)), subImgSize=(size, size),
                               legends=legends, useSVG=svg, drawOptions=options)
    if svg:
        write_text(path, img if isinstance(img, str) else img.data)
    elif hasattr(img, "save"):
        with replacing(path) as tmp:
            img.save(tmp)
    else:
        with replacing(path) as tmp:
            tmp.write_bytes(img.data)
    return path
