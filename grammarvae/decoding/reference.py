"""An independent per-molecule reference of the masked decoder, for tests and benchmarks.

Written from the chemistry, one molecule at a time in plain Python: the atoms written so
far (element, bonds, hydrogens, charge), the set of bonded atom pairs, the open rings by
label, and a stack of grammar symbols by name, each with its atom and the role the
production that pushed it gives it (a digit is a ring label, a hydrogen count, a charge or a
mass). What each production means is read from its text here, not from the fast decoder's
tables; only the data of `chemistry.py` (valences, elements, ring labels, the soft limits)
is shared. Where the fast decoder keeps a bracket atom writable through charge-state
columns and a rule for the extra step a charge takes, this one lists every way the symbols
left in the bracket can end (element, hydrogens, charge, chiral mark, steps) and keeps a
production only if one of them holds the atom's bonds in the steps left.

    >>> ids = reference_decode(grammar, logits)              # greedy, (batch, steps)
    >>> (ids == MaskedDecoder(grammar).decode_ids(logits)[0]).all()
    True
    >>> first_illegal_step(grammar, ids_from_anywhere)       # None when every choice is allowed
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from grammarvae.decoding.chemistry import (ANY_VALENCE, BOND_ORDER, BRACKET_VALENCE, MAX_OPEN_RINGS, MAX_VALENCE,
                                           RING_LABELS, STEPS_TO_CLOSE_A_RING, STEREO_ELEMENTS,
                                           UNMARKABLE)

ATOM_MAKERS = ("chain", "branch", "branches")  # symbols whose expansion writes at least one atom
BRACKET = ("bracket_inner", "isotope", "symbol", "aliphatic_organic", "bracket_chiral", "bracket_hcount", "hcount",
           "charge", "chiral", "digit")  # symbols inside a bracket (a digit there is not a ring label)


class _Atom:
    def __init__(self, parent, incoming_order):
        self.parent = parent
        self.element = None
        self.bracket = False
        self.hydrogens = 0
        self.charge = 0
        self.bonds = incoming_order if parent is not None else 0

    def capacity(self):
        """The most bonds and hydrogens it holds once written (no element yet: any element's)."""
        if self.element is None:
            return ANY_VALENCE
        if self.bracket:
            return BRACKET_VALENCE.get((self.element, self.charge), -1)
        return MAX_VALENCE[self.element]


def _role(lhs, rhs, position):
    """The role of the symbol at `position` of lhs -> rhs."""
    symbol = rhs[position]
    if symbol == "digit":
        return {"ringbond": "label", "hcount": "hydrogens", "isotope": "mass" if position else "mass-first",
                "charge": "charge" + rhs[0]}[lhs]
    if symbol == "bond":
        return "ring" if lhs == "ringbond" else "chain"
    return None


class ReferenceMolecule:
    """One molecule being derived: `options()` lists the productions the rules keep,
    `take(p)` applies one."""

    def __init__(self, grammar, steps: int):
        self.g, self.steps, self.t = grammar, steps, 0
        # (symbol, index of the atom it belongs to, role); `Nothing` under the start symbol,
        # which a finished derivation keeps taking (the padding production) and pushing back.
        self.stack = [("Nothing", None, None), (grammar.start.symbol(), None, None)]
        self.atoms: list[_Atom] = []
        self.bonded: set[frozenset] = set()
        self.open_rings: dict[int, tuple[int, int]] = {}  # label -> (opener atom, step written)
        self.pending_order = 1
        self.min_steps = _min_steps(grammar)

    # ------------------------------------------------------------ what a production means
    def _rhs(self, p):
        return _rhs(self.g, p)

    def _lhs(self, p):
        return self.g.productions[p].lhs().symbol()

    def writable(self, p, role=None) -> bool:
        """In the part of the grammar the decoder writes (Kekule: no aromatic atoms; ring
        labels 1..9 with at most a single bond mark; see chemistry.py)."""
        return _writable(self.g, p, role)

    def _commits(self, p, role):
        """(bonds it commits on the atom that owns the top symbol, ring labels it needs)."""
        lhs, rhs = self._lhs(p), self._rhs(p)
        if lhs == "branched_atom":  # at least one ring bond, at least one branch
            return ("ringbonds" in rhs) + ("branches" in rhs), int("ringbonds" in rhs)
        if lhs in ("ringbonds", "branches") and len(rhs) == 2:  # the list goes on: one more
            return 1, 2 if lhs == "ringbonds" else 0
        if lhs == "bond" and role == "chain":
            return BOND_ORDER[rhs[0]] - 1, 0  # the single bond was counted by what holds it
        return 0, 0

    # ------------------------------------------------------------ the molecule now
    def _steps_left(self):
        """Steps the production taken now may use: those left, less the fewest the symbols
        under the top need."""
        return self.steps - self.t - sum(self.min_steps[s] for s, _, _ in self.stack[:-1] if s != "Nothing")

    def _last_atom(self):
        return not any(s in ATOM_MAKERS for s, _, _ in self.stack[:-1])

    def _closable(self, atom):
        return {lab for lab, (opener, _) in self.open_rings.items()
                if opener != atom and frozenset((opener, atom)) not in self.bonded}

    def _bracket_can_end(self, p) -> bool:
        """After p, some way of ending the atom's bracket holds its bonds in the steps left."""
        top, atom, role = self.stack[-1]
        a = self.atoms[atom]
        element, hydrogens, charge = a.element, a.hydrogens, a.charge
        effect = _effect(self.g, p, role)
        element = effect.get("element", element)
        hydrogens += effect.get("hydrogens", 0)
        charge = effect.get("charge", charge)
        rest = tuple((s, r) for s, _, r in self.stack[:-1] if s in BRACKET and r not in ("label", "ring"))
        pending = _pushed(self.g, p) + rest  # what is left of the bracket after p
        other = sum(self.min_steps[s] for s, _, r in self.stack[:-1]
                    if s != "Nothing" and not (s in BRACKET and r not in ("label", "ring")))
        available = self.steps - self.t - 1 - other
        for end in _ends(self.g, pending):
            e = end["element"] or element
            if e is None or end["steps"] > available or (end["chiral"] and e in UNMARKABLE):
                continue
            q = end["charge"] if end["charge"] is not None else charge
            if BRACKET_VALENCE.get((e, q), -1) >= a.bonds + hydrogens + end["hydrogens"]:
                return True
        return False

    def options(self) -> list[int]:
        """The productions the rules keep now, in index order."""
        top, atom, role = self.stack[-1]
        a = self.atoms[atom] if atom is not None else None
        bonds = a.bonds if a else 0
        room = (a.capacity() if a else ANY_VALENCE) - bonds - (a.hydrogens if a else 0)
        closable = self._closable(atom) if atom is not None else set()
        free = len(RING_LABELS) - len(self.open_rings)
        left, last = self._steps_left(), self._last_atom()
        in_bracket = a is not None and a.bracket and top in BRACKET and role not in ("label", "ring")
        allowed, tiers = [], []
        for p in range(self.g.n_productions):
            if self._lhs(p) != top or not self.writable(p, role):
                continue
            rhs = self._rhs(p)
            adds, labels = self._commits(p, role)
            if self._lhs(p) == "chain":
                adds = 0  # its bond goes on the atom it writes, not on the owner
            needed = _production_steps(self.g, p)
            if needed > left or labels > len(closable) + free:
                continue
            if not self._bracket_can_end(p) if in_bracket else adds > room:  # a bracket's charge is still open
                continue
            element = rhs[0] if self._lhs(p) == "aliphatic_organic" and not a.bracket else None
            if element and MAX_VALENCE[element] < bonds:
                continue
            label = int(rhs[0]) if top == "digit" and role == "label" else 0
            if label and not (label in closable or (label not in self.open_rings and free > 0)):
                continue
            allowed.append(p)
            off_centre = top == "bracket_chiral" and "chiral" in rhs and a.element not in STEREO_ELEMENTS
            unwanted = (
                (top == "branched_atom" and rhs == ["atom", "ringbonds"] and last and not closable)
                or (label and label not in closable and (last or len(self.open_rings) >= MAX_OPEN_RINGS))
                or needed + STEPS_TO_CLOSE_A_RING * max(len(self.open_rings) - labels, 0) > left)
            tiers.append((off_centre, unwanted))
        keep = allowed
        for tier in range(2):  # each soft tier, unless it would leave nothing
            kept = [p for p, bad in zip(allowed, tiers) if p in keep and not bad[tier]]
            keep = kept or keep
        return keep

    # ------------------------------------------------------------ taking one
    def take(self, p: int) -> None:
        top, atom, role = self.stack.pop()
        lhs, rhs = self._lhs(p), self._rhs(p)
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
            self.stack.append(("Nothing", None, None))  # a finished derivation stays finished
        self.stack += [(s, atom, _role(lhs, rhs, i)) for i, s in reversed(list(enumerate(rhs)))
                       if s in self.min_steps]
        adds, _ = self._commits(p, role)
        if top != "chain" and atom is not None:
            self.atoms[atom].bonds += adds
        a = self.atoms[atom] if atom is not None else None
        if lhs == "atom" and rhs == ["bracket_atom"]:
            a.bracket = True
        effect = _effect(self.g, p, role)
        if a is not None:
            a.element = effect.get("element", a.element)
            a.hydrogens += effect.get("hydrogens", 0)
            a.charge = effect.get("charge", a.charge)
        if top == "bond" and role == "chain":
            self.pending_order = BOND_ORDER[rhs[0]]
        if top == "digit" and role == "label":
            label = int(rhs[0])
            if label in self.open_rings:
                self.bonded.add(frozenset((self.open_rings.pop(label)[0], atom)))
            else:
                self.open_rings[label] = (atom, self.t)
        self.t += 1

    @property
    def finished(self) -> bool:
        return [s for s, _, _ in self.stack] == ["Nothing"]

    def dropped(self) -> list[int]:
        """Steps of the ring digits still open (to drop)."""
        return sorted(step for _, step in self.open_rings.values())


# ------------------------------------------------------------------ the grammar, read once
def _rhs(g, p):
    return [s.symbol() if hasattr(s, "symbol") else s for s in g.productions[p].rhs()]


@functools.lru_cache(maxsize=None)
def _pushed(g, p):
    """The symbols production p pushes, left to right, with their roles."""
    lhs, rhs = g.productions[p].lhs().symbol(), _rhs(g, p)
    return tuple((s, _role(lhs, rhs, i)) for i, s in enumerate(rhs) if s in g.nt_index and s != "Nothing")


def _writable(g, p, role=None) -> bool:
    lhs, rhs = g.productions[p].lhs().symbol(), _rhs(g, p)
    if lhs == "atom":
        return rhs != ["aromatic_organic"]
    if lhs == "symbol":
        return rhs != ["aromatic_organic"]
    if lhs == "aliphatic_organic":
        return rhs[0] in MAX_VALENCE
    if lhs == "bond":
        return rhs[0] in BOND_ORDER and (role != "ring" or BOND_ORDER[rhs[0]] == 1)
    if lhs == "ringbond":
        return "%" not in rhs
    if lhs == "digit":
        d = int(rhs[0])
        return d in RING_LABELS if role == "label" else (d >= 1 or role == "mass")
    return lhs != "aromatic_organic"


def _effect(g, p, role) -> dict:
    """What production p (under a symbol of that role) writes on its bracket atom."""
    lhs, rhs = g.productions[p].lhs().symbol(), _rhs(g, p)
    if lhs == "aliphatic_organic" or (lhs == "symbol" and rhs == ["H"]):
        return {"element": rhs[0]}
    if lhs == "hcount" and rhs == ["H"]:
        return {"hydrogens": 1}
    if lhs == "charge" and len(rhs) == 1:
        return {"charge": 1 if rhs[0] == "+" else -1}
    if lhs == "digit" and role == "hydrogens":
        return {"hydrogens": int(rhs[0])}
    if lhs == "digit" and role in ("charge+", "charge-"):
        return {"charge": int(rhs[0]) * (1 if role == "charge+" else -1)}
    return {}


@functools.lru_cache(maxsize=None)
def _min_steps(g) -> dict:
    """The fewest steps that finish each symbol through the productions the decoder writes,
    counting `symbol -> 'H'` as long as an element's (hydrogen holds one bond only)."""
    best = {name: 10 ** 6 for name in g.nt_index}
    changed = True
    while changed:
        changed = False
        for p in range(g.n_productions):
            lhs = g.productions[p].lhs().symbol()
            if not any(_writable(g, p, r) for r in (None, "label", "mass", "hydrogens", "ring", "chain")):
                continue
            if lhs == "symbol" and _rhs(g, p) == ["H"]:
                continue
            cost = 1 + sum(best[s] for s, _ in _pushed(g, p))
            if cost < best[lhs]:
                best[lhs], changed = cost, True
    return best


def _production_steps(g, p) -> int:
    return 1 + sum(_min_steps(g)[s] for s, _ in _pushed(g, p))


@functools.lru_cache(maxsize=None)
def _symbol_ends(g, symbol, role) -> tuple:
    """Every way `symbol` (in that role) can end: dicts of element, hydrogens, charge,
    whether a chiral mark is written, and steps (`symbol -> 'H'` counted as two)."""
    ends = {}
    for p in range(g.n_productions):
        if g.productions[p].lhs().symbol() != symbol or not _writable(g, p, role):
            continue
        effect = _effect(g, p, role)
        own = {"element": effect.get("element"), "hydrogens": effect.get("hydrogens", 0),
               "charge": effect.get("charge"), "chiral": symbol == "chiral",
               "steps": 2 if (symbol == "symbol" and _rhs(g, p) == ["H"]) else 1}
        for end in _ends(g, _pushed(g, p)) if _pushed(g, p) else [_EMPTY]:
            _keep_fewest(ends, _join(own, end))
    return tuple(ends.values())


_EMPTY = {"element": None, "hydrogens": 0, "charge": None, "chiral": False, "steps": 0}


def _join(a, b):
    return {"element": a["element"] or b["element"], "hydrogens": a["hydrogens"] + b["hydrogens"],
            "charge": a["charge"] if a["charge"] is not None else b["charge"], "chiral": a["chiral"] or b["chiral"],
            "steps": a["steps"] + b["steps"]}


def _keep_fewest(ends, end):
    key = (end["element"], end["hydrogens"], end["charge"], end["chiral"])
    if key not in ends or ends[key]["steps"] > end["steps"]:
        ends[key] = end


@functools.lru_cache(maxsize=None)
def _ends_cached(g, symbols) -> tuple:
    ends = {}
    for combo in itertools.product(*(_symbol_ends(g, s, r) for s, r in symbols)):
        end = _EMPTY
        for part in combo:
            end = _join(end, part)
        _keep_fewest(ends, end)
    return tuple(ends.values())


def _ends(g, symbols):
    """Every way the symbols (name, role) can end together, the fewest steps for each."""
    return _ends_cached(g, tuple(symbols)) if symbols else (_EMPTY,)


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
