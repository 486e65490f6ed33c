"""How much generated molecules look like a reference set (MOSES-style measures).

    >>> realism(samples, heldout)      # dict of figures, each sample figure beside the reference's

- ring shares: molecules with a ring of 8 or more atoms, of 3 or 4 atoms, with an aromatic
  ring (smallest set of smallest rings, RDKit aromaticity);
- Wasserstein-1 distances between the samples' and the reference's logP, SA score, QED and
  molecular weight (`grammarvae.properties`);
- SNN: mean Tanimoto similarity of each sample to its nearest reference molecule (Morgan
  radius 2, 1,024 bits); fragment and scaffold similarity: cosine similarity of BRICS
  fragment counts and of Bemis-Murcko scaffold counts, by the definitions of the MOSES
  benchmark (Polykovskiy et al. 2020) and its reference implementation: a molecule's fragments
  are the pieces left when every BRICS bond is cut, each counted as often as it occurs;
  scaffolds of fewer than two rings are not counted;
- `fcd`: the Frechet ChemNet Distance (Preuer et al. 2018), MOSES's headline figure, with the
  optional extra (`pip install "grammarvae[fcd]"`: the `fcd` package, ChemNet's weights, PyTorch).
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator
from rdkit.Chem.Scaffolds import MurckoScaffold

from grammarvae.chem import canonical
from grammarvae.properties import compute


def _mols(smiles):
    return [m for m in (Chem.MolFromSmiles(s) if s else None for s in smiles) if m is not None]


def ring_shares(smiles: Sequence[str | None]) -> dict:
    """Shares of readable molecules with a ring of 8+ atoms, of 3-4 atoms, and an aromatic ring."""
    mols = _mols(smiles)
    big = small = aromatic = 0
    for m in mols:
        rings = m.GetRingInfo().AtomRings()
        big += any(len(r) >= 8 for r in rings)
        small += any(len(r) in (3, 4) for r in rings)
        aromatic += any(all(m.GetAtomWithIdx(i).GetIsAromatic() for i in r) for r in rings)
    n = max(1, len(mols))
    return {"ring8_share": big / n, "ring34_share": small / n, "aromatic_share": aromatic / n}


def wasserstein_1d(a, b) -> float:
    """Wasserstein-1 distance between two samples of numbers: the area between their
    empirical distribution functions (NaNs ignored)."""
    a, b = np.sort(np.asarray(a, float)[~np.isnan(a)]), np.sort(np.asarray(b, float)[~np.isnan(b)])
    if not len(a) or not len(b):
        return float("nan")
    x = np.concatenate([a, b])
    x.sort()
    cdf_a = np.searchsorted(a, x[:-1], side="right") / len(a)
    cdf_b = np.searchsorted(b, x[:-1], side="right") / len(b)
    return float(np.sum(np.abs(cdf_a - cdf_b) * np.diff(x)))


def _cosine(a: Counter, b: Counter) -> float:
    keys = sorted(set(a) | set(b))
    va, vb = np.array([a[k] for k in keys], float), np.array([b[k] for k in keys], float)
    norm = np.linalg.norm(va) * np.linalg.norm(vb)
    return float(va @ vb / norm) if norm else float("nan")


def fragments(mols) -> Counter:
    """BRICS fragments of all molecules with their multiplicity: each molecule cut at every
    BRICS bond (the cut ends marked by dummy atoms), each piece's SMILES counted."""
    return Counter(piece for m in mols for piece in Chem.MolToSmiles(Chem.FragmentOnBRICSBonds(m)).split("."))


def scaffolds(mols, min_rings: int = 2) -> Counter:
    """Bemis-Murcko scaffolds of at least `min_rings` rings, counted over the molecules."""
    out: Counter = Counter()
    for m in mols:
        scaffold = MurckoScaffold.GetScaffoldForMol(m)
        if scaffold.GetRingInfo().NumRings() >= min_rings:
            out[Chem.MolToSmiles(scaffold)] += 1
    return out


def snn(samples, reference, radius: int = 2, n_bits: int = 1024) -> float:
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    ref = [gen.GetFingerprint(m) for m in _mols(reference)]
    sims = [max(DataStructs.BulkTanimotoSimilarity(gen.GetFingerprint(m), ref)) for m in _mols(samples)]
    return float(np.mean(sims)) if sims else float("nan")


FCD_EXTRA = "FCD needs the optional extra: pip install 'grammarvae[fcd]' (the fcd package, with PyTorch)"


def require_fcd() -> None:
    """ImportError naming the extra unless the `fcd` package can be imported."""
    import importlib.util

    if importlib.util.find_spec("fcd") is None:
        raise ImportError(FCD_EXTRA)


def fcd(samples: Sequence[str | None], reference: Sequence[str]) -> float:
    """Frechet distance between the Gaussians fitted to ChemNet's penultimate activations of
    the valid samples and of the reference, both as canonical SMILES (0: the same distribution).
    ImportError naming the extra when `fcd` is not installed."""
    try:
        import fcd as chemnet
    except ImportError:
        raise ImportError(FCD_EXTRA) from None
    a, b = ([c for c in (canonical(s) if s else None for s in group) if c] for group in (samples, reference))
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    import warnings

    with warnings.catch_warnings():  # ChemNet's pad-length note, for SMILES longer than 349 characters
        warnings.simplefilter("ignore")
        return float(chemnet.get_fcd(a, b, chemnet.load_ref_model(), device="cpu"))


def realism(samples: Sequence[str | None], reference: Sequence[str], with_fcd: bool = False) -> dict:
    """Each measure for the samples, and the ring shares of the reference beside them; FCD
    too with `with_fcd` (the optional extra)."""
    out = {}
    for key, value in ring_shares(samples).items():
        out[key] = value
    for key, value in ring_shares(reference).items():
        out["reference_" + key] = value
    for name in ("logp", "sa", "qed", "mw"):
        out[f"wasserstein_{name}"] = wasserstein_1d(compute(samples, name), compute(reference, name))
    sm, rm = _mols(samples), _mols(reference)
    out["snn"] = snn(samples, reference)
    out["fragment_similarity"] = _cosine(fragments(sm), fragments(rm))
    out["scaffold_similarity"] = _cosine(scaffolds(sm), scaffolds(rm))
    if with_fcd:
        out["fcd"] = fcd(samples, reference)
    return out
