"""The language a GrammarVAE reads and writes: what turns text into derivations and back.

    >>> GrammarVAE(grammar="zinc")                                      # SMILES, the default
    >>> GrammarVAE(grammar="equations", language="plain", max_len=15)   # any grammar: the text itself

A language is a part of the model, named in its config (`LANGUAGES`). Each has:

- `read(texts, max_len, grammar, neutralize, strip_stereo)`: the derivations of the texts
  (n, max_len), which rows encoded, and the reasons of those that did not (the fields of
  `Read`);
- `decoder(grammar, avoid_rings)`: its masked decoder, which turns logits into derivations
  that always derive a text of the language (`avoid_rings`: ring sizes a molecule decoder
  closes only where nothing else may be written; `sample_avoid_rings`, those prior samples
  avoid unless told otherwise);
- `write(decoder, ids, dropped)`: the texts of derivations, and `canonical(text)` the form a
  text is written in (the identity where the language has no other);
- `prepares`: whether `neutralize` and `strip_stereo` mean anything to it.

`SmilesLanguage` reads SMILES through RDKit (standardised, Kekule), decodes under the chemistry
rules of `grammarvae.decoding` (always a molecule RDKit reads) and writes canonical SMILES.
`PlainLanguage` reads and writes the strings of any grammar as they are, decoding under the
Grammar VAE paper's masks (`grammarvae.grammar.masked`); it imports neither RDKit nor TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np


@dataclass
class DecodeStats:
    """What the last decode counted: texts written, and for SMILES the ring bonds left open
    when the steps ran out (removed), molecules RDKit refused (0), molecules whose bracket
    atoms were given hydrogens to end without radicals."""
    molecules: int = 0
    dropped_rings: int = 0
    invalid: int = 0
    radicals_filled: int = 0


class Read(NamedTuple):
    """What a language's `read` gives: rows aligned with the input, failed rows all padding."""
    X: np.ndarray  # int16 (n, max_len) derivations
    ok: np.ndarray  # bool (n,)
    errors: list  # (index, input, reason) of the texts that could not be read
    mixtures: list = []  # (index, input, fragment kept): SMILES salts read as their largest fragment
    prepared: list = []  # (index, input, what was removed) by neutralize / strip_stereo
    standard: list = []  # per row, the text encoded ("" where it failed)


class SmilesLanguage:
    """SMILES of molecules (see the module docstring)."""

    name = "smiles"
    prepares = True
    # 4-rings and 8+ rings: 1.5% and 0.2% of ZINC-250k, 17% each of the ZINC model's prior
    # samples decoded without a preference (the model card)
    sample_avoid_rings = "4,8+"

    def read(self, texts: Sequence[str], max_len: int, grammar, neutralize: bool = False,
             strip_stereo: bool = False):
        from grammarvae.data import encode_smiles

        return encode_smiles(list(texts), max_len, grammar, neutralize, strip_stereo)

    def decoder(self, grammar, avoid_rings: str | None = None):
        from grammarvae.decoding import MaskedDecoder

        return MaskedDecoder(grammar, avoid_rings=avoid_rings)

    def write(self, decoder, ids: np.ndarray, dropped: list[list[int]]) -> tuple[list, DecodeStats]:
        texts = decoder.to_smiles(ids, dropped)
        return texts, decoder.last_stats

    def canonical(self, text: str) -> str:
        from grammarvae.chem import standardize_reporting

        return standardize_reporting(text)[0]


class PlainLanguage:
    """The strings of any grammar, read and written as they are."""

    name = "plain"
    prepares = False
    sample_avoid_rings = "none"

    def read(self, texts: Sequence[str], max_len: int, grammar, neutralize: bool = False,
             strip_stereo: bool = False) -> Read:
        if neutralize or strip_stereo:
            raise ValueError("neutralize and strip_stereo are for molecules; this model's language is plain text")
        res = grammar.encode_checked(list(texts), max_len=max_len)
        return Read(res.X.astype(np.int16), res.ok, list(res.errors), [], [],
                    [t if good else "" for t, good in zip(texts, res.ok)])

    def decoder(self, grammar, avoid_rings: str | None = None):
        from grammarvae.grammar.masked import GrammarDecoder

        if avoid_rings not in (None, "none"):
            raise ValueError("avoid_rings is for molecules; this model's language is plain text")
        return GrammarDecoder(grammar)

    def write(self, decoder, ids: np.ndarray, dropped: list[list[int]]) -> tuple[list, DecodeStats]:
        texts = decoder.to_text(ids)
        return texts, DecodeStats(molecules=len(texts))

    def canonical(self, text: str) -> str:
        return text


LANGUAGES = {"smiles": SmilesLanguage, "plain": PlainLanguage}


def language(name: str):
    """The language of that name (`LANGUAGES`)."""
    if name not in LANGUAGES:
        raise ValueError(f"unknown language {name!r}; one of {', '.join(LANGUAGES)}")
    return LANGUAGES[name]()
