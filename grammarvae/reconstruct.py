"""Which molecules come back: each one encoded to its latent mean and decoded, with what
came out and how close it is.

    >>> rows = reconstruct(model, ["CC(=O)Nc1ccc(O)cc1", "C1CC"])
    >>> rows[0].same, rows[0].decoded, round(rows[0].similarity, 2)
    (True, 'CC(=O)Nc1ccc(O)cc1', 1.0)
    >>> rows[1].reason
    'RDKit cannot read it (bad syntax or valence)'

A molecule comes back when the decoded molecule is the one encoded: the same canonical
isomeric SMILES as the input, or as what the model encoded of it: the largest fragment of a
salt or mixture, and the input without charges or stereo marks where the model removes them
(`GrammarVAE.preparation`: the MOSES model, which saw neither, does by default; `note` says so). The similarity is `grammarvae.metrics.tanimoto` (Morgan fingerprints, radius 2,
2,048 bits, as the Grammar VAE literature reports it).
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple, Sequence

import numpy as np
from grammarvae.chem import canonical
from grammarvae.metrics import tanimoto

MAX_PAIRS_DRAWN = 50  # pairs in a --image grid (100 molecules)


class Reconstruction(NamedTuple):
    input: str
    encoded: str | None     # what the model encoded (the largest fragment of a salt); None if it could not
    decoded: str | None     # the molecule decoded from its latent mean
    same: bool              # decoded is the molecule encoded
    similarity: float       # Tanimoto of encoded and decoded (NaN when not encoded)
    reason: str | None      # why it could not be encoded
    note: str | None = None  # what was removed before encoding, and what the model never saw in training


def reconstruct(model, smiles: Sequence[str], beam_width: int | None = None,
                progress: Callable[[int, int], None] | None = None, neutralize: bool | None = None,
                strip_stereo: bool | None = None) -> list[Reconstruction]:
    """Per molecule: encoded to its latent mean (charges and stereo kept or removed as
    `model.preparation(neutralize, strip_stereo)` says), decoded greedily (or by a beam of
    `beam_width`), and compared; inputs the model cannot read keep their row with the reason."""
    from grammarvae.models.gvae import UNSEEN

    smiles = list(smiles)
    res = model.encode_checked(smiles, neutralize=neutralize, strip_stereo=strip_stereo)
    why = {i: reason for i, _, reason in res.errors}
    notes: dict[int, list[str]] = {}
    for i, _, what in res.prepared:
        notes.setdefault(i, []).append(what)
    for i, _, what in res.unseen:
        notes.setdefault(i, []).append(UNSEEN.format(what))
    ok = np.flatnonzero(np.isfinite(res.Z).all(axis=1))
    decoded = dict(zip(ok.tolist(), model.decode(res.Z[ok], beam_width=beam_width, progress=progress)))
    out = []
    for i, s in enumerate(smiles):
        if i not in decoded:
            out.append(Reconstruction(s, None, None, False, math.nan, why.get(i, "could not be encoded")))
            continue
        target = canonical(res.standard[i])
        out.append(Reconstruction(s, target, decoded[i], canonical(decoded[i]) == target,
                                  tanimoto(target, decoded[i]), None, "; ".join(notes.get(i, ())) or None))
    return out


def summary(rows: Sequence[Reconstruction]) -> str:
    """One line: how many came back, the mean similarity, how many could not be encoded."""
    n = len(rows)
    encoded = [r for r in rows if r.encoded is not None]
    same = sum(r.same for r in rows)
    mean = float(np.mean([r.similarity for r in encoded])) if encoded else math.nan
    failed = n - len(encoded)
    return (f"came back: {same} of {n} ({100 * same / max(1, n):.1f}%); mean similarity of a decode to its "
            f"molecule {mean:.3f}" + (f"; {failed} could not be encoded (the reason column says why)" if failed else ""))
