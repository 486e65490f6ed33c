"""An independent per-molecule reference of the masked decoder, for tests and benchmarks.

Written from the chemistry, one molecule at a time in plain Python: the atoms written so
far (element, bonds, double bonds), the set of bonded atom pairs, the open rings by label,
and a stack of grammar symbols by name. What each production means is read from its text
here, not from the fast decoder's tables; only the data of `chemistry.py` (valences, ring
labels, the soft limits) is shared.

    >>> ids = reference_decode(grammar, logits)              # greedy, (batch, steps)
    >>> (ids == MaskedDecoder(grammar).decode_ids(logits)[0]).all()
    True
    >>> first_illegal_step(grammar, ids_from_anywhere)       # None when every choice is allowed
"""

from __future__ import annotations

import numpy as np

from grammarvae.decoding.chemistry import (ANY_VALENCE, BOND_ORDER, MAX_OPEN_RINGS, MAX_VALENCE, NO_CUMULATED,
                                           RING_LABELS, STEPS_TO_CLOSE_A_RING)

ATOM_MAKERS = ("chain", "branch", "branches")  # symbols whose expansion writes at least one atom


class _Atom:
    def __init__(self, parent, incoming_order):
        self.parent = parent
        self.element = None
        self.bonds = incoming_order if parent is not None else 0
        self.has_double = parent is not None and incoming_order >= 2


class ReferenceMolecule:
    """One molecule being derived: `options()` lists the productions the rules keep,
    `take(p)` applies one."""

    def __init__(self, grammar, steps: int):
        self.g, self.steps, self.t = grammar, steps, 0
        # (symbol, index of the atom it belongs to); `Nothing` under the start symbol, which a
        # finished derivation keeps taking (the padding production) and pushing back.
        self.stack = [("Nothing", None), (grammar.start.symbol(), None)]
        self.atoms: list[_Atom] = []
        self.bonded: set[frozenset] = set()
        self.open_rings: dict[int, tuple[int, int]] = {}  # label -> (opener atom, step written)
        self.pending_order = 1
        self.min_steps = {name: int(grammar.min_steps[i]) for name, i in grammar.nt_index.items()}

    # ------------------------------------------------------------ what a production means
    def _rhs(self, p):
        return [s.symbol() if hasattr(s, "symbol") else s for s in self.g.productions[p].rhs()]

    def _lhs(self, p):
        return self.g.productions[p].lhs().symbol()

    def writable(self, p) -> bool:
        """In the part of the grammar the decoder writes: Kekule organic-subset atoms, bonds
        - = #, single-digit ring labels with no bond mark, plain branches."""
        lhs, rhs = self._lhs(p), self._rhs(p)
        if lhs == "atom":
            return rhs == ["aliphatic_organic"]
        if lhs == "aliphatic_organic":
            return rhs[0] in MAX_VALENCE
        if lhs == "bond":
            return rhs[0] in BOND_ORDER
        if lhs == "ringbond":
            return rhs == ["digit"]
        if lhs == "digit":
            return rhs[0].isdigit() and int(rhs[0]) in RING_LABELS
        return lhs in ("smiles", "chain", "branched_atom", "ringbonds", "branches", "branch", "Nothing")

    def _commits(self, p):
        """(bonds it commits on the atom that owns the top symbol, ring labels it needs)."""
        lhs, rhs = self._lhs(p), self._rhs(p)
        if lhs == "branched_atom":  # at least one ring bond, at least one branch
            return ("ringbonds" in rhs) + ("branches" in rhs), int("ringbonds" in rhs)
        if lhs in ("ringbonds", "branches") and len(rhs) == 2:  # the list goes on: one more
            return 1, 2 if lhs == "ringbonds" else 0
        if lhs == "bond":
            return BOND_ORDER[rhs[0]] - 1, 0  # the single bond was counted by what holds it
        return 0, 0

    # ------------------------------------------------------------ the molecule now
    def _steps_left(self):
        """Steps the production taken now may use: those left, less the fewest the symbols
        under the top need."""
        return self.steps - self.t - sum(self.min_steps[s] for s, _ in self.stack[:-1] if s != "Nothing")

    def _last_atom(self):
        return not any(s in ATOM_MAKERS for s, _ in self.stack[:-1])

    def _closable(self, atom):
        return {lab for lab, (opener, _) in self.open_rings.items()
                if opener != atom and frozenset((opener, atom)) not in self.bonded}

    def options(self) -> list[int]:
        """The productions the rules keep now, in index order."""
        top, atom = self.stack[-1]
        a = self.atoms[atom] if atom is not None else None
        bonds = a.bonds if a else 0
        room = (MAX_VALENCE[a.element] if a and a.element else ANY_VALENCE) - bonds
        closable = self._closable(atom) if atom is not None else set()
        free = len(RING_LABELS) - len(self.open_rings)
        left, last = self._steps_left(), self._last_atom()
        allowed, tiers = [], []
        for p in range(self.g.n_productions):
            if self._lhs(p) != top or not self.writable(p):
                continue
            rhs = self._rhs(p)
            adds, labels = self._commits(p)
            if self._lhs(p) == "chain":
                adds = 0  # its bond goes on the atom it writes, not on the owner
            if self.g.production_min_steps[p] > left or adds > room or labels > len(closable) + free:
                continue
            element = rhs[0] if self._lhs(p) == "aliphatic_organic" else None
            if element and MAX_VALENCE[element] < bonds:
                continue
            label = int(rhs[0]) if top == "digit" else 0
            if label and not (label in closable or (label not in self.open_rings and free > 0)):
                continue
            allowed.append(p)
            cumulated = (top == "bond" and BOND_ORDER[rhs[0]] >= 2 and a is not None and a.has_double
                         and a.element in NO_CUMULATED)
            unwanted = (
                (top == "branched_atom" and rhs == ["atom", "ringbonds"] and last and not closable)
                or (label and label not in closable and (last or len(self.open_rings) >= MAX_OPEN_RINGS))
                or self.g.production_min_steps[p] + STEPS_TO_CLOSE_A_RING * len(self.open_rings) > left)
            tiers.append((cumulated, unwanted))
        keep = allowed
        for tier in range(2):  # each soft tier, unless it would leave nothing
            kept = [p for p, bad in zip(allowed, tiers) if p in keep and not bad[tier]]
            keep = kept or keep
        return keep

    # ------------------------------------------------------------ taking one
    def take(self, p: int) -> None:
        top, atom = self.stack.pop()
        rhs = self._rhs(p)
        if top == "chain":  # a new atom, bonded from the owner by the pending bond
            parent = atom
            self.atoms.append(_Atom(parent, self.pending_order))
            atom = len(self.atoms) - 1
            if parent is not None:
                self.bonded.add(frozenset((parent, atom)))
            self.pending_order = 1
            if rhs[-1] == "chain":
                self.atoms[atom].bonds += 1  # the bond to the next atom
        if top == "Nothing":
            self.stack.append(("Nothing", None))  # a finished derivation stays finished
        self.stack += [(s, atom) for s in reversed(rhs) if s in self.min_steps and s != "None"]
        adds, _ = self._commits(p)
        if top != "chain" and atom is not None:
            self.atoms[atom].bonds += adds
        if top == "bond":
            self.pending_order = BOND_ORDER[rhs[0]]
            if BOND_ORDER[rhs[0]] >= 2:
                self.atoms[atom].has_double = True
        if top == "aliphatic_organic":
            self.atoms[atom].element = rhs[0]
        if top == "digit":
            label = int(rhs[0])
            if label in self.open_rings:
                self.bonded.add(frozenset((self.open_rings.pop(label)[0], atom)))
            else:
                self.open_rings[label] = (atom, self.t)
        self.t += 1

    @property
    def finished(self) -> bool:
        return self.stack == [("Nothing", None)]

    def dropped(self) -> list[int]:
        """Steps of the ring digits still open (to drop)."""
        return sorted(step for _, step in self.open_rings.values())


def reference_decode(grammar, logits: np.ndarray) -> np.ndarray:
    """Greedy masked decoding, one molecule at a time: (batch, steps) production ids."""
    B, T, _ = logits.shape
    out = np.full((B, T), grammar.pad, dtype=np.int64)
    for b in range(B):
        m = ReferenceMolecule(grammar, T)
        for t in range(T):
            if m.finished:
                break
            keep = m.options()
            p = max(keep, key=lambda q: logits[b, t, q])  # the first of equal scores, as argmax
            out[b, t] = p
            m.take(p)
    return out


def first_illegal_step(grammar, ids: np.ndarray):
    """(molecule, step) of the first production in `ids` (batch, steps) that the rules do
    not keep, or None if every choice is one they keep and every derivation ends."""
    B, T = ids.shape
    for b in range(B):
        m = ReferenceMolecule(grammar, T)
        for t in range(T):
            if m.finished:
                if ids[b, t] != grammar.pad:
                    return b, t
                continue
            if int(ids[b, t]) not in m.options():
                return b, t
            m.take(int(ids[b, t]))
        if not m.finished:
            return b, T
    return None
