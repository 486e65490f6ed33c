"""The masked decoder's state: a batch of derivations advanced one production at a time.

`MaskedDecoder.start(n, steps)` makes one; a driver repeats, until `all_finished`:

    >>> state = decoder.start(n, steps)
    >>> p = state.choose(logits)        # logits: (len(state), n_productions), one row per molecule still decoding
    >>> state.advance(p)                # each molecule takes its production
    >>> ids, dropped = state.result()   # (n, steps) production ids; ring-digit steps to drop

`choose` takes each molecule's best-scoring production among those the rules allow
(greedy), or samples one at a temperature; `allowed()` is that set as a boolean mask, for
a driver that scores candidates itself (a beam search) and then calls `advance`.

Rows: `batch_row[i]` is the molecule that row i decodes. `drop_finished()` removes the rows
whose derivation has ended (keeping their result) and returns the positions kept, so a
driver can follow with state of its own (a network's hidden state); `select(index)` copies
rows, reordered or repeated (a beam search). The rules are in `rules.py` (read from their
tables, `tables.py`); what each production does, in `chemistry.py`; this module tracks the
molecules.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from grammarvae.decoding import rules
from grammarvae.decoding.chemistry import ANY_CHARGE, N_LABELS, valence
from grammarvae.decoding.tables import ROW_BITS
from grammarvae.grammar.masked import DerivationRows

NO_ATOM = -1
NO_PATH = 30_000  # the distance between atoms not (yet) connected
DISTANCE_ATOMS = 64  # atoms whose distances are tracked (for a ring-size preference); past them, none


class DecodeState(DerivationRows):
    """Masked-decoding state of n molecules over at most `steps` productions each."""

    # Per-row arrays, carried along by `select` and `drop_finished`.
    ROW_FIELDS = ("batch_row", "stack_symbol", "stack_atom", "depth", "bonds", "element", "charge", "parent", "ring_opener", "ring_opened_at", "ring_barred", "barred_for",
                  "pending_order", "steps_needed", "atoms_to_come", "n_atoms", "n_open", "chosen")

    def __init__(self, decoder, n: int, steps: int):
        self.decoder, g = decoder, decoder.g
        start = g.nt_index[g.start.symbol()]
        if steps < decoder.min_steps[start]:
            raise ValueError(f"decoding over {steps} steps; the shortest molecule of grammar {g.name} "
                             f"takes {decoder.min_steps[start]}")
        self.steps, self.t, self.n = int(steps), 0, int(n)
        self.batch_row = np.arange(n)
        # The derivation stack: each symbol with the atom it belongs to. At the bottom, under
        # the start symbol, `Nothing`: a finished derivation takes the padding production,
        # which pushes it back.
        depth = steps + 2 + decoder.push_order.shape[1]  # each symbol on it needs a step
        self.stack_symbol = np.zeros((n, depth), dtype=np.int16)
        self.stack_symbol[:, 0], self.stack_symbol[:, 1] = decoder.nothing, start
        self.stack_atom = np.full((n, depth), NO_ATOM, dtype=np.int16)
        self.depth = np.full(n, 2, dtype=np.int64)
        # (Arrays of (rows, steps) hold int16: a quarter of the memory a step reads from.)
        # Atoms, at most one a step (plus a slot for the next): bonds and hydrogens committed,
        # element (an index of chemistry.ELEMENTS, 0 until chosen), the charge states it may
        # still end in (a column of VALENCE_TABLE), and the atom it is bonded from.
        atoms = steps + 2
        self.bonds = np.zeros((n, atoms), dtype=np.int16)
        self.element = np.zeros((n, atoms), dtype=np.int16)
        self.charge = np.full((n, atoms), ANY_CHARGE, dtype=np.int16)
        self.parent = np.full((n, atoms), NO_ATOM, dtype=np.int16)
        # Ring labels (columns 1..N_LABELS): the atom that opened each open ring (NO_ATOM when
        # closed) and the step its digit was written; `ring_barred[label]` is an atom the ring
        # may not close on (already bonded to its opener by another ring closed there),
        # recorded for the atom `barred_for` (the last atom to take a ring bond).
        labels = N_LABELS + 1
        self.ring_opener = np.full((n, labels), NO_ATOM, dtype=np.int64)
        self.ring_opened_at = np.full((n, labels), -1, dtype=np.int64)
        self.ring_barred = np.full((n, labels), NO_ATOM, dtype=np.int64)
        self.barred_for = np.full(n, NO_ATOM, dtype=np.int64)
        self.pending_order = np.ones(n, dtype=np.int64)  # order of the bond into the next atom
        self.steps_needed = np.full(n, decoder.min_steps[start], dtype=np.int64)  # fewest steps that empty the stack
        self.atoms_to_come = np.zeros(n, dtype=np.int64)  # symbols on the stack that will write an atom
        self.n_atoms = np.zeros(n, dtype=np.int64)
        self.n_open = np.zeros(n, dtype=np.int64)
        self.chosen = np.full((n, steps), g.pad, dtype=np.int16)
        # For a ring-size preference (decoder.avoided_ring): bonds between the first atoms
        # along the shortest path, each atom's row written when it is, updated when a ring closes.
        if decoder.avoided_ring is not None:
            self.ROW_FIELDS = DecodeState.ROW_FIELDS + ("distance",)
            D = min(atoms, DISTANCE_ATOMS)
            self.distance = np.full((n, D, D), NO_PATH, dtype=np.int16)
        # Results of rows already dropped, by batch row.
        self.result_ids = np.full((n, steps), g.pad, dtype=np.int64)
        self.result_dropped: list[list[int]] = [[] for _ in range(n)]
        self._step = {}  # this step's top symbols and atoms, candidates and keep mask, once computed

    def top(self) -> np.ndarray:
        """The nonterminal on top of each row's stack."""
        at = np.arange(len(self)) * self.stack_symbol.shape[1] + self.depth - 1
        return self.stack_symbol.reshape(-1).take(at).astype(np.int64)

    def _top_atom(self) -> np.ndarray:
        """The atom the top symbol belongs to (NO_ATOM for the start symbol and `Nothing`)."""
        at = np.arange(len(self)) * self.stack_atom.shape[1] + self.depth - 1
        return self.stack_atom.reshape(-1).take(at).astype(np.int64)

    def quantities(self, top: np.ndarray, atom: np.ndarray) -> SimpleNamespace:
        """What the rules read of each molecule now, (n,) arrays (`top` and its `atom` as
        `top()` and `_top_atom()` give them)."""
        d = self.decoder
        at = np.arange(len(self)) * self.bonds.shape[1] + np.maximum(atom, 0)  # per-atom arrays by flat index
        element, charge = self.element.reshape(-1).take(at), self.charge.reshape(-1).take(at)
        bonds = self.bonds.reshape(-1).take(at)
        # Steps the production taken now may use: those left, less what the rest of the
        # stack needs at the least.
        steps_left = (self.steps - self.t) - self.steps_needed + d.min_steps[top]
        last_atom = self.atoms_to_come == d.prods.produces_atom[top]  # no other atom is to come
        # Rings that may close on this atom. Only the last-atom rule and the label count of a
        # molecule with at most one label free can tell this from zero (no ring open, or
        # labels enough for any production), so only such molecules count them.
        n_closable = np.zeros(len(self), dtype=np.int64)
        counted = np.flatnonzero(last_atom & (self.n_open > 0) | (self.n_open >= N_LABELS - 1))
        if len(counted):
            n_closable[counted] = self._ring_labels(counted, atom)[1].sum(1)
        return SimpleNamespace(
            steps_left=steps_left, bonds_used=bonds, element=element, charge=charge,
            room=valence(element, charge) - bonds, last_atom=last_atom, n_closable=n_closable,
            n_open=self.n_open, n_free=N_LABELS - self.n_open)

    def situation(self, top: np.ndarray, atom: np.ndarray) -> SimpleNamespace:
        """`quantities` as (n, 1) columns, integers as int16 like the candidate tables: what a
        rule of `rules.py` reads as `m` when evaluated directly."""
        q = self.quantities(top, atom)
        return SimpleNamespace(**{k: (v if v.dtype == bool else v.astype(np.int16))[:, None] for k, v in vars(q).items()})

    def _ring_labels(self, r, atom):
        """For rows r: which labels are open, and which may close on the current atom."""
        opener, here = self.ring_opener[r], atom[r, None]
        is_open = opener >= 0
        parent = self.parent.reshape(-1).take(r * self.parent.shape[1] + np.maximum(atom[r], 0))[:, None]
        closable = is_open & (opener != here) & (opener != parent) & (self.ring_barred[r] != here)
        return is_open, closable

    def closure_sizes(self, r, atom) -> np.ndarray:
        """For rows r, per label: the atoms of the ring that closing it on the current atom
        would make (the shortest path between the two, plus the new bond); 0 where the label
        is not open or the atoms are past DISTANCE_ATOMS."""
        opener, here = self.ring_opener[r], atom[r]
        D = self.distance.shape[1]
        known = (opener >= 0) & (opener < D) & (here[:, None] < D) & (here[:, None] >= 0)
        path = self.distance[r[:, None], np.minimum(here, D - 1)[:, None], np.clip(opener, 0, D - 1)]
        return np.where(known & (path < NO_PATH), path + 1, 0)

    def _avoided(self, r, atom, closable) -> np.ndarray:
        """For rows r, per label: closable onto a ring of a size the decoder avoids."""
        table = self.decoder.avoided_ring
        if table is None:
            return np.zeros_like(closable)
        return closable & table.take(np.minimum(self.closure_sizes(r, atom), len(table) - 1))

    def candidates(self, top: np.ndarray, atom: np.ndarray) -> SimpleNamespace:
        """Each row's W candidate productions and their attributes, (n, W) arrays; for rows
        whose top is a ring-label digit, also whether each candidate's label is open and
        closable here."""
        d = self.decoder
        c = SimpleNamespace(**{name: table.take(top, axis=0) for name, table in d.windows.items()})
        c.label_open = np.zeros(c.label.shape, dtype=bool)
        c.label_closable = np.zeros(c.label.shape, dtype=bool)
        c.label_avoided = np.zeros(c.label.shape, dtype=bool)
        digits = np.flatnonzero(top == d.prods.digit)
        if len(digits):
            is_open, closable = self._ring_labels(digits, atom)
            lab = c.label[digits]
            for name, labels in (("label_open", is_open), ("label_closable", closable),
                                 ("label_avoided", self._avoided(digits, atom, closable))):
                getattr(c, name)[digits] = np.take_along_axis(labels, lab, axis=1) & (lab > 0)
        return c

    def _here(self):
        """(top symbols, their atoms) of this step."""
        if "here" not in self._step:
            self._step["here"] = (self.top(), self._top_atom())
        return self._step["here"]

    def _label_bits(self, top: np.ndarray, atom: np.ndarray) -> dict[str, np.ndarray]:
        """`candidates`' per-label booleans (`tables.ROW_BITS`) as bits (bit w: candidate w), (n,)."""
        d = self.decoder
        bits = {name: np.zeros(len(self), dtype=d.tables.dtype) for name in ROW_BITS}
        digits = np.flatnonzero(top == d.prods.digit)
        if len(digits):
            is_open, closable = self._ring_labels(digits, atom)
            labels = (is_open, closable) + ((self._avoided(digits, atom, closable),) if d.avoided_ring is not None else ())
            for name, of_label in zip(ROW_BITS, labels):  # label sets, then their candidates
                bits[name][digits] = d.digit_candidates.take(of_label.dot(d.label_weights))
        return bits

    def _rules(self):
        """(candidate productions (n, W), the kept ones as bits (n,)) of this step."""
        if "rules" not in self._step:
            top, atom = self._here()
            d = self.decoder
            kept = d.tables.keep(top, self.quantities(top, atom), self._label_bits(top, atom))
            self._step["rules"] = (d.windows["production"].take(top, axis=0), kept)
        return self._step["rules"]

    def keep_directly(self) -> np.ndarray:
        """(n, W) bool: the candidates kept now, the rules of `rules.py` evaluated directly (as
        the tables are read by `choose`: a check of `tables.RuleTables`)."""
        top, atom = self._here()
        c = self.candidates(top, atom)
        keep = rules.keep(c, self.situation(top, atom))
        return keep | c.first & ~rules.row_any(keep)[:, None]  # a row with nothing kept takes its first candidate

    def allowed(self) -> np.ndarray:
        """(len(self), n_productions) bool: the productions each row may take now."""
        production, kept = self._rules()
        out = np.zeros((len(self), self.decoder.g.n_productions), dtype=bool)
        out[np.arange(len(self))[:, None], production] = self.decoder.tables.unpacked(kept)
        return out

    def candidate_productions(self) -> np.ndarray:
        """(len(self), W) int: each row's candidate productions now (some never allowed)."""
        return self._rules()[0]

    def choose(self, logits: np.ndarray, greedy: bool = True, temperature: float = 1.0,
               rng: np.random.Generator | None = None) -> np.ndarray:
        """Each row's production: the best-scoring one it may take (greedy), or one sampled
        from softmax(logits / temperature) over those (Gumbel-max with `rng`).
        logits: (len(self), n_productions), one row per row of the state."""
        logits = np.asarray(logits)
        if logits.shape != (len(self), self.decoder.g.n_productions):
            raise ValueError(f"logits of shape {logits.shape}; the state needs "
                             f"({len(self)}, {self.decoder.g.n_productions})")
        at = np.arange(len(self))[:, None] * logits.shape[1] + self._rules()[0]  # by flat index: faster
        return self.choose_among(logits.reshape(-1).take(at), greedy, temperature, rng)

    def choose_among(self, scores: np.ndarray, greedy: bool = True, temperature: float = 1.0,
                     rng: np.random.Generator | None = None) -> np.ndarray:
        """`choose`, given only the scores of the `candidate_productions` (len(self), W)."""
        production, kept = self._rules()
        keep = self.decoder.tables.unpacked(kept)
        if not greedy:  # in float64, kept finite: at a temperature near 0 every score is +-inf in float32
            scores = np.clip(scores.astype(np.float64) / temperature, -1e300, 1e300) + rng.gumbel(size=scores.shape)
        best = np.where(keep, scores, -np.inf).argmax(axis=1)
        return production.reshape(-1).take(np.arange(len(self)) * production.shape[1] + best).astype(np.int64)

    # ------------------------------------------------------------ advancing
    def advance(self, p) -> None:
        """Each row takes production p[i] (one it may take)."""
        d, prods = self.decoder, self.decoder.prods
        p = np.asarray(p, dtype=np.int64)
        rows = np.arange(len(self))
        top, owner = self._here()
        self.chosen[:, self.t] = p
        # p's place in its symbol's window, (symbol, place) flat: its attributes in one read.
        place = top * d.windows["production"].shape[1] + p - d.window_start.take(top)
        attr = dict(zip(d.ADVANCE_FIELDS, d.advance_table.take(place, axis=1)))
        # Per-atom arrays are read and written by flat index: row * atoms per row + atom.
        A = self.bonds.shape[1]
        bonds, parent = self.bonds.reshape(-1), self.parent.reshape(-1)
        element, charge = self.element.reshape(-1), self.charge.reshape(-1)
        # Expanding a chain writes a new atom, bonded from the current one by the pending bond.
        new = top == prods.chain
        atom = np.where(new, self.n_atoms, owner)
        slot = rows * A + self.n_atoms  # unused until it becomes an atom: written for every row
        from_atom = owner >= 0
        parent[slot] = owner
        element[slot], charge[slot] = 0, ANY_CHARGE
        bonds[slot] = from_atom * self.pending_order
        self.pending_order[new] = 1
        if d.avoided_ring is not None:
            self._place_atoms(np.flatnonzero(new), owner)
        self.n_atoms += new
        # Pop the top; push the production's nonterminals, the leftmost on top.
        S = self.stack_symbol.shape[1]
        at_top = (rows * S + self.depth - 1)[:, None] + np.arange(d.push_order.shape[1])
        self.stack_symbol.reshape(-1)[at_top] = d.push_order.take(p, axis=0)
        self.stack_atom.reshape(-1)[at_top] = atom[:, None]
        self.depth += d.n_pushed.take(p) - 1
        self.steps_needed += attr["steps_needed"] - 1 - d.min_steps.take(top)
        self.atoms_to_come += attr["atoms_pushed"] - prods.produces_atom.take(top)
        # What it commits on its atom: bonds and hydrogens, an element, its charge states.
        at = rows * A + np.maximum(atom, 0)
        bonds[at] += attr["bonds_added"]
        chosen = np.flatnonzero(attr["element"])
        element[at[chosen]] = attr["element"][chosen]
        settled = np.flatnonzero(attr["charge"] >= 0)
        charge[at[settled]] = attr["charge"][settled]
        bond = np.flatnonzero(attr["bond_order"])
        self.pending_order[bond] = attr["bond_order"][bond]
        ring = np.flatnonzero(attr["label"])
        if len(ring):
            self._ring_bond(ring, attr["label"][ring], atom[ring])
        self.t += 1
        self._step = {}

    def _place_atoms(self, r, owner) -> None:
        """Rows r write a new atom (their `n_atoms`), bonded from `owner` (NO_ATOM: none):
        its distances are its parent's, plus one."""
        D = self.distance.shape[1]
        r = r[self.n_atoms[r] < D]
        new, parent = self.n_atoms[r], owner[r]
        row = np.where((parent >= 0)[:, None], np.minimum(self.distance[r, np.maximum(parent, 0)] + 1, NO_PATH), NO_PATH)
        row[np.arange(len(r)), new] = 0
        self.distance[r, new] = row
        self.distance[r, :, new] = row

    def _close_ring_distances(self, r, u, v) -> None:
        """Rows r bond atoms u and v (a ring closed): paths through the new bond."""
        D = self.distance.shape[1]
        keep = (u < D) & (v < D)
        r, u, v = r[keep], u[keep], v[keep]
        M = self.distance[r].astype(np.int32)
        du, dv = M[np.arange(len(r)), u], M[np.arange(len(r)), v]  # (k, D): from u, from v
        through = np.minimum(du[:, :, None] + 1 + dv[:, None, :], dv[:, :, None] + 1 + du[:, None, :])
        self.distance[r] = np.minimum(M, np.minimum(through, NO_PATH)).astype(np.int16)

    def _ring_bond(self, r, label, atom) -> None:
        """Rows r write ring label `label` on `atom`: it closes that ring if open, else opens it."""
        self.ring_barred[r[self.barred_for[r] != atom]] = NO_ATOM  # a new atom: forget the last one's bars
        self.barred_for[r] = atom
        closing = self.ring_opener[r, label] >= 0
        rc, lc = r[closing], label[closing]
        # The other rings open from the same opener are now bonded to this atom through it:
        # they may not close here too.
        opener = self.ring_opener[rc]
        same = opener == opener[np.arange(len(rc)), lc][:, None]
        if self.decoder.avoided_ring is not None:
            self._close_ring_distances(rc, atom[closing], opener[np.arange(len(rc)), lc])
        self.ring_barred[rc] = np.where(same, atom[closing][:, None], self.ring_barred[rc])
        self.ring_opener[rc, lc] = NO_ATOM
        self.ring_opened_at[rc, lc] = -1
        self.n_open[rc] -= 1
        ro, lo = r[~closing], label[~closing]
        self.ring_opener[ro, lo] = atom[~closing]
        self.ring_opened_at[ro, lo] = self.t
        self.n_open[ro] += 1

    # ------------------------------------------------------------ rows
    def _copied(self) -> None:
        self.result_ids = self.result_ids.copy()
        self.result_dropped = [list(d) for d in self.result_dropped]

    def _moved(self) -> None:
        self._step = {}  # this step's candidates were for the old rows

    def _store(self, r) -> None:
        """Results of rows r: their productions, and the steps of ring digits still open, with
        the step of a bond written on such a ring bond (the production just before its digit:
        a digit follows a bond only in `ringbond -> bond digit`)."""
        self.result_ids[self.batch_row[r]] = self.chosen[r]
        is_bond = self.decoder.is_bond
        for i, label in zip(*np.nonzero(self.ring_opener[r] >= 0)):
            step = int(self.ring_opened_at[r[i], label])
            marked = step > 0 and is_bond[self.chosen[r[i], step - 1]]
            self.result_dropped[self.batch_row[r[i]]] += [step - 1, step] if marked else [step]

    def result(self) -> tuple[np.ndarray, list[list[int]]]:
        """(n, steps) production ids by batch row, and per molecule the steps of ring digits
        still open at the end (to drop). Each batch row must be held by one row at most."""
        if len(np.unique(self.batch_row)) != len(self):
            raise ValueError("several rows decode the same molecule: select one per molecule first")
        rest = self.select(np.arange(len(self)))
        rest._store(np.arange(len(rest)))
        return rest.result_ids, [sorted(d) for d in rest.result_dropped]
