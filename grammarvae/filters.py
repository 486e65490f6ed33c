"""Filters a chemist would apply to generated molecules before looking at them: structural
alerts and the rings that valid-but-unrealistic samples hold.

    >>> failed("C1=CC=C1", ["ring34", "antiaromatic"])
    ['ring34', 'antiaromatic']
    >>> keep(["c1ccccc1O", "C1=CC=CC=CC=C1"], FILTERS)
    [True, False]

Each filter is a name and a rule (`FILTERS`):
    pains         matches a PAINS substructure (RDKit's FilterCatalog, PAINS A, B and C)
    brenk         matches one of Brenk's unwanted groups (RDKit's FilterCatalog), reactive or
                  toxic fragments: the medicinal-chemistry alerts RDKit ships
    ring34        holds a ring of 3 or 4 atoms
    ring8         holds a ring of 8 or more atoms
    antiaromatic  holds a ring of 4 or 8 atoms with alternating double bonds all round it
                  (cyclobutadiene, azete, cyclooctatetraene: 4n pi electrons)
`GrammarVAE.sample(..., filters=["all"])` draws until it has that many molecules that pass.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable, Iterable, Sequence

from rdkit import Chem
from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams


@lru_cache(maxsize=None)
def _catalog(which: str) -> FilterCatalog:
    params = FilterCatalogParams()
    params.AddCatalog(getattr(FilterCatalogParams.FilterCatalogs, which))
    return FilterCatalog(params)


def _ring_sizes(mol: Chem.Mol) -> list[int]:
    return [len(ring) for ring in mol.GetRingInfo().AtomRings()]


def _antiaromatic(mol: Chem.Mol) -> bool:
    kekule = Chem.Mol(mol)
    Chem.Kekulize(kekule, clearAromaticFlags=True)
    for ring in kekule.GetRingInfo().BondRings():
        if len(ring) in (4, 8):
            doubles = sum(kekule.GetBondWithIdx(b).GetBondType() == Chem.BondType.DOUBLE for b in ring)
            if doubles == len(ring) // 2:
                return True
    return False


FILTERS: dict[str, Callable[[Chem.Mol], bool]] = {  # True: the molecule fails the filter
    "pains": lambda mol: _catalog("PAINS").HasMatch(mol),
    "brenk": lambda mol: _catalog("BRENK").HasMatch(mol),
    "ring34": lambda mol: any(size <= 4 for size in _ring_sizes(mol)),
    "ring8": lambda mol: any(size >= 8 for size in _ring_sizes(mol)),
    "antiaromatic": _antiaromatic,
}


def check_names(names: Iterable[str]) -> list[str]:
    """The filter names, `all` standing for every one; ValueError naming an unknown one."""
    out: list[str] = []
    for name in names:
        if name == "all":
            out += [n for n in FILTERS if n not in out]
        elif name not in FILTERS:
            raise ValueError(f"no filter {name!r}; the filters are {', '.join(FILTERS)} (or all)")
        elif name not in out:
            out.append(name)
    return out


def failed(smiles: str, names: Sequence[str]) -> list[str]:
    """The filters of `names` that the molecule fails (all of them if RDKit cannot read it)."""
    mol = Chem.MolFromSmiles(smiles) if smiles else None
    if mol is None:
        return list(names)
    return [name for name in names if FILTERS[name](mol)]


def keep(smiles: Sequence[str], names: Sequence[str]) -> list[bool]:
    """Per molecule, whether it passes every filter of `names`."""
    names = check_names(names)
    return [not failed(s, names) for s in smiles]
