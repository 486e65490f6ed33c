"""What a model saw in training, and what a molecule holds beyond it.

A trained model records the productions its training derivations used
(`GrammarVAE.trained_productions`): the elements, charges, stereo marks, isotopes and ring
numbers of its data, in the grammar's own terms. A derivation that needs a production the
model never saw is unlikely to come back as written (the network gives it almost no
probability): `unseen` finds those, `describe` names them, and `UnseenWarning` says so.

    >>> seen = productions_used(X_train, grammar.n_productions)     # doctest: +SKIP
    >>> describe(grammar, unseen(X_new[0], seen))                    # doctest: +SKIP
    "charge -> '+', chiral -> '@'"

Nothing here knows chemistry beyond which nonterminals and bonds of a SMILES grammar write
charges and stereo (`CHARGES`, `STEREO`), so that a model that saw none of either can have
them removed from its input by default (`GrammarVAE.preparation`).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from grammarvae.grammar import Grammar

CHARGES = ("charge",)  # nonterminals whose productions write a formal charge
STEREO = ("chiral",)  # ... a tetrahedral mark
STEREO_BONDS = ("/", "\\")  # bond symbols that mark double-bond stereo


class UnseenWarning(UserWarning):
    """A molecule holds something (an element, a charge, a stereo mark) that the model never
    saw in training: it may not come back as written."""


def productions_used(X: np.ndarray, n_productions: int, rows: np.ndarray | None = None,
                     chunk: int = 65536) -> list[int]:
    """The sorted production ids that occur in the derivations X (n, steps), or in its `rows`
    only, read a chunk of rows at a time (X may be a memory map of a whole data set)."""
    rows = np.arange(len(X)) if rows is None else np.sort(np.asarray(rows))
    counts = np.zeros(n_productions, dtype=np.int64)
    for i in range(0, len(rows), chunk):
        counts += np.bincount(np.asarray(X[rows[i:i + chunk]], dtype=np.int64).ravel(), minlength=n_productions)
    return np.flatnonzero(counts).tolist()


def unseen(x: np.ndarray, seen: Iterable[int]) -> list[int]:
    """The sorted production ids of the derivation x (steps,) that are not in `seen`."""
    return sorted(set(np.unique(np.asarray(x)).tolist()) - set(seen))


def describe(grammar: Grammar, ids: Iterable[int]) -> str:
    """Productions by their rules, joined by commas: "charge -> '+', chiral -> '@'"."""
    return ", ".join(str(grammar.productions[i]) for i in ids)


def _writes(grammar: Grammar, i: int, lhs: tuple[str, ...], terminals: tuple[str, ...] = ()) -> bool:
    p = grammar.productions[i]
    return str(p.lhs()) in lhs or any(isinstance(t, str) and t in terminals for t in p.rhs())


def writes_charges(grammar: Grammar, ids: Iterable[int]) -> bool:
    """Whether any of the productions `ids` writes a formal charge."""
    return any(_writes(grammar, i, CHARGES) for i in ids)


def writes_stereo(grammar: Grammar, ids: Iterable[int]) -> bool:
    """Whether any of the productions `ids` writes a tetrahedral or double-bond stereo mark."""
    return any(_writes(grammar, i, STEREO, STEREO_BONDS) for i in ids)
