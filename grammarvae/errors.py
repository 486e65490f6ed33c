"""Exceptions shared across grammarvae."""

from __future__ import annotations


class GrammarError(ValueError):
    """A SMILES string (or production sequence) that the grammar cannot express.

    Attributes:
        smiles: the offending input (None when the input was a production sequence).
        position: character offset in `smiles` where the problem was found, when known.
        reason: the bare explanation, without the SMILES.
        index: the input's place in a list of inputs, when it came from one.
    """

    def __init__(self, reason: str, smiles: str | None = None, position: int | None = None,
                 index: int | None = None):
        self.reason = reason
        self.smiles = smiles
        self.position = position
        self.index = index
        where = f" at position {position}" if position is not None else ""
        subject = f"SMILES {smiles!r}: " if smiles is not None else ""
        item = f"item {index}: " if index is not None else ""
        super().__init__(f"{item}{subject}{reason}{where}")
