"""Exceptions shared across grammarvae, and how an input is quoted in a message."""

from __future__ import annotations

SHOWN_CHARS = 80  # a quoted input longer than this is cut in messages (an errors CSV keeps it whole)


def shown(text: str) -> str:
    """`text` quoted for a message: its repr, cut to SHOWN_CHARS characters with its length
    named when longer, so that one very long input does not flood the terminal.

        >>> shown("CCO")
        "'CCO'"
    """
    if len(text) <= SHOWN_CHARS:
        return repr(text)
    return f"{text[:SHOWN_CHARS]!r}... ({len(text):,} characters)"


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
        subject = f"SMILES {shown(smiles)}: " if smiles is not None else ""
        item = f"smiles[{index}] (the {_ordinal(index + 1)}): " if index is not None else ""
        super().__init__(f"{item}{subject}{reason}{where}")


def _ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, 21st, ..."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
