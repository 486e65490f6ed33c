"""Grammar-constrained decoding that always writes a valid molecule. numpy only, no TensorFlow.

`MaskedDecoder(grammar)` turns production logits into RDKit canonical SMILES. All molecules
of a batch advance together, one production a step, through a `DecodeState` (a stack of
nonterminals per molecule, its atoms and open rings); at each step a molecule takes only a
production that passes the hard rules of `rules.py`:

- grammatical: a production of the nonterminal on top of its stack (the paper's masking),
  of the part of the grammar the decoder writes (`chemistry.py`: Kekule SMILES of
  organic-subset and bracket atoms, with charges, hydrogen counts, isotopes and chiral
  marks; bonds with `/` and `\\`; single-digit ring labels; RDKit perceives aromaticity
  and stereo on output);
- finishable: the fewest steps that then empty the stack fit in the steps left, so every
  derivation ends;
- chemically sound: no atom takes more bonds and hydrogens than its element allows in a
  charge state it can still end in (`chemistry.BRACKET_VALENCE`, checked against RDKit;
  bond orders, branches, ring bonds and the next atom counted as they are committed), and
  a ring closes only on an atom that is neither its opener nor bonded to it already.

Soft rules, each applied only where it leaves something allowed: a chiral mark only on an
element that can be a stereocentre; no new ring where no other atom is to come or eight are
open; no production that would leave too few steps to close the rings open; and, asked for
(`MaskedDecoder(grammar, avoid_rings="4,8+")`), no ring closed onto a size named (the state
then tracks the atoms' graph distances: a closure makes a ring of their shortest path plus
one; `GrammarVAE.sample` asks for 4-rings and rings of 8 or more by default). Rings are never
forced shut: a ring still open when the derivation ends is dropped (its digit and bond mark
removed, the atom keeps a hydrogen) and counted in `last_stats`. RDKit drops a chiral or
double-bond mark that means nothing, so the canonical isomeric SMILES out are always valid.
A step reads the rules from tables made when the decoder is (`tables.py`), not by calling them.

    >>> dec = MaskedDecoder(Grammar.load("zinc"))
    >>> dec.decode(logits, greedy=True)                       # list of canonical SMILES
    >>> dec.decode(logits, greedy=False, temperature=1.0, seed=0)
    >>> state = dec.start(n, steps); state.advance(state.choose(step_logits))   # stepwise
"""

from grammarvae.decoding.chemistry import ANY_VALENCE, MAX_VALENCE, N_LABELS
from grammarvae.decoding.decoder import DecodeStats, MaskedDecoder
from grammarvae.decoding.state import DecodeState

__all__ = ["MaskedDecoder", "DecodeState", "DecodeStats", "MAX_VALENCE", "ANY_VALENCE", "N_LABELS"]
