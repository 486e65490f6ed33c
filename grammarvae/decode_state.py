"""The masked decoder's state: a batch of derivations advanced one production at a time.

`MaskedDecoder.start(n, steps)` makes one; a driver then repeats, until `all_finished`:

    >>> state = decoder.start(n, steps)
    >>> p = state.choose(logits)        # (len(state), n_productions) scores of the molecules still decoding
    >>> state.advance(p)                # each molecule takes its production
    >>> ids, dropped = state.result()   # (n, steps) production ids, ring-digit steps to drop

`choose` picks, per molecule, the best-scoring production among those the rules allow
(greedy, or sampled with a temperature); `allowed()` is the same choice set as a boolean
mask (for a beam search, which scores the candidates itself and calls `advance`). The
one-shot decoder feeds precomputed logits step by step; the autoregressive decoder feeds
its network's logits, stepping the network with the productions chosen.

Rows: `batch_row[i]` is the molecule that working row i decodes. `drop_finished()` removes
the rows whose derivation has ended (their result is kept) and returns the positions kept,
so that a driver can follow with its own per-row state (a network's hidden state);
`select(index)` reorders or repeats rows (a beam search). All rules live in the tables of
`MaskedDecoder` (see grammarvae.decoding); this module only reads and updates the state.
"""

from __future__ import annotations

import numpy as np

from grammarvae.decoding import N_LABELS, MAX_OPEN, _any, _count, _gather, _rows

LABEL_SLOTS = 16  # per-molecule ring-label table width (labels 1..9 used), a multiple of 8 for _any/_count


class DecodeState:
    """Masked-decoding state of `n` molecules over at most `steps` productions each."""

    # Per working row, the arrays that `select` and `drop_finished` carry along.
    _ROW_FIELDS = ("batch_row", "stack", "depth", "atoms", "parent", "ring_opener", "ring_open_step",
                   "ring_blocked", "pending_order", "steps_needed", "atoms_to_come", "n_atoms", "n_open",
                   "ring_atom", "chosen")

    def __init__(self, decoder, n: int, steps: int):
        e = self.e = decoder
        g = e.g
        start = e.nt[g.start.symbol()]
        if steps < e.min_steps[start]:
            raise ValueError(f"decoding over {steps} steps; the shortest molecule of grammar {g.name} takes {e.min_steps[start]}")
        self.steps, self.t, self.n_batch = int(steps), 0, int(n)
        depth = steps + 3 + e.max_push  # sentinel, start symbol, and every symbol needs a step
        self.batch_row = np.arange(n)
        # Stack entries: symbol | (owning atom + 1) << sym_bits. At the bottom, under the start
        # symbol, `Nothing`, which a finished derivation keeps taking (padding) and pushing back.
        self.stack = np.zeros((n, depth), dtype=np.int64)
        self.stack[:, 0], self.stack[:, 1] = e.NOTHING, start
        self.depth = np.full(n, 2, dtype=np.int64)
        self.atoms = np.zeros((n, steps + 2), dtype=np.int64)  # packed atom fields (MaskedDecoder.FIELD)
        self.parent = np.full((n, steps + 2), -1, dtype=np.int64)  # atom each atom is bonded from
        self.ring_opener = np.full((n, LABEL_SLOTS), -1, dtype=np.int64)  # label -> atom that opened it
        self.ring_open_step = np.full((n, LABEL_SLOTS), -1, dtype=np.int32)
        self.ring_blocked = np.full((n, LABEL_SLOTS), -1, dtype=np.int64)  # label -> atom it may not close on
        self.pending_order = np.ones(n, dtype=np.int64)  # bond order of the next atom's incoming bond
        self.steps_needed = np.full(n, e.min_steps[start], dtype=np.int64)  # fewest steps to finish the stack
        self.atoms_to_come = np.zeros(n, dtype=np.int64)  # stack symbols that will produce an atom
        self.n_atoms = np.zeros(n, dtype=np.int64)
        self.n_open = np.zeros(n, dtype=np.int64)
        self.ring_atom = np.full(n, -1, dtype=np.int64)  # the atom `ring_blocked` is for
        self.chosen = np.full((n, steps), g.pad, dtype=np.int64)
        # Results of rows already dropped, by batch row.
        self.result_ids = np.full((n, steps), g.pad, dtype=np.int64)
        self.result_dropped: list[list[int]] = [[] for _ in range(n)]
        self._window = None  # (window start, keep) of this step, once computed

    def __len__(self) -> int:
        return len(self.batch_row)

    # ------------------------------------------------------------ reading
    @property
    def finished(self) -> np.ndarray:
        """Per working row: the derivation has ended (only the padding production remains)."""
        return self.depth == 1

    @property
    def all_finished(self) -> bool:
        return bool(self.finished.all()) or self.t >= self.steps

    def top(self) -> np.ndarray:
        """The nonterminal on top of each working row's stack."""
        return self.stack[np.arange(len(self)), self.depth - 1] & ((1 << self.e.sym_bits) - 1)

    def _rules(self):
        """(window start, keep): each row's candidates are the W productions from its window
        start; keep marks those the rules allow (hard rules, then the soft tiers)."""
        if self._window is not None:
            return self._window
        e, n, W = self.e, len(self), self.e.W
        rows = np.arange(n)
        entry = self.stack[rows, self.depth - 1]
        top, a = entry & ((1 << e.sym_bits) - 1), (entry >> e.sym_bits) - 1
        ai = np.maximum(a, 0)
        state, parent_a = self.atoms[rows, ai], self.parent[rows, ai]
        per_top = _gather(e.per_top_rows, top, 3, np.int64)
        left = (self.steps - self.t) - self.steps_needed + per_top[:, 0]  # steps the chosen production may need
        last = self.atoms_to_come == per_top[:, 1]  # no other atom is to come
        # Ring bonds: how many may close on this atom, and whether one was opened on it. Only
        # the soft rules for the last atom and the free-slot count of a molecule with at most
        # one label free read these, so only such molecules compute them.
        n_closable = np.zeros(n, dtype=np.int64)
        stuck = np.zeros(n, dtype=np.int64)
        R = np.flatnonzero(last & (self.n_open > 0) | (self.n_open >= N_LABELS - 1))
        if len(R):
            is_open, here, closable = self._ring_labels(R, a, parent_a)
            n_closable[R] = _count(closable)
            stuck[R] = _any(is_open & here)
        n_free = N_LABELS - self.n_open
        ring_case = (((last * 2 + stuck) * 3 + np.minimum(n_closable, 2)) * e.SLOTS
                     + np.minimum(n_closable + n_free, e.SLOTS - 1))
        key = e.atom_key[state] + e.ring_key[ring_case]
        bits = _gather(e.w_rules, top * e.n_keys + key, W)
        b_lo, b_hi, nb = e.b_lo, e.b_lo + e.b_n - 1, e.b_n
        bits &= _gather(e.w_budget, (top * nb + np.clip(left, b_lo, b_hi) - b_lo) * nb
                        + np.clip(left - 3 * self.n_open, b_lo, b_hi) - b_lo, W)
        # Ring labels, for digit tops: usable if closable or free; wanted unless opening a ring
        # where none should open.
        Dg = np.flatnonzero(top == e.digit)
        if len(Dg):
            is_open, _, closable = self._ring_labels(Dg, a, parent_a)
            label = (closable | ~is_open & (n_free[Dg] > 0)[:, None]) * e.ALLOWED | e.PLAIN \
                | (closable | ~(last[Dg] | (self.n_open[Dg] >= MAX_OPEN))[:, None]) * e.WANTED
            bits[Dg] &= label.astype(np.uint8)[:, e.w_label]
        # Allowed, then plain if any, then wanted if any.
        keep = bits >= e.ALLOWED
        plain = bits >= e.ALLOWED | e.PLAIN
        keep = plain | keep & ~_any(plain)[:, None]
        wanted = keep & (bits & e.WANTED).view(bool)
        keep = wanted | keep & ~_any(wanted)[:, None]
        self._window = (per_top[:, 2], top, keep)
        return self._window

    def _ring_labels(self, r, a, parent_a):
        """For rows r: labels open, opened on the current atom, and closable on it."""
        L = LABEL_SLOTS
        op, ar = _gather(_rows(self.ring_opener), r, L, np.int64), a[r][:, None]
        is_open, here = op >= 0, op == ar
        closable = (is_open & ~here & (op != parent_a[r][:, None])
                    & (_gather(_rows(self.ring_blocked), r, L, np.int64) != ar))
        return is_open, here, closable

    def allowed(self) -> np.ndarray:
        """(len(self), n_productions) bool: the productions each row may take now."""
        start, _, keep = self._rules()
        n, W = keep.shape
        out = np.zeros((n, self.e.g.n_productions), dtype=bool)
        out[np.arange(n)[:, None], start[:, None] + np.arange(W)] = keep
        return out

    def choose(self, logits: np.ndarray, greedy: bool = True, temperature: float = 1.0,
               rng: np.random.Generator | None = None) -> np.ndarray:
        """Each row's production: the best-scoring allowed one (greedy), or one sampled from
        softmax(logits / temperature) over the allowed ones (Gumbel-max with `rng`).
        logits: (len(self), n_productions), the rows of the molecules still in the state."""
        e, W = self.e, self.e.W
        start, top, keep = self._rules()
        logits = np.ascontiguousarray(logits)
        n, P = logits.shape
        if n != len(self) or P != e.g.n_productions:
            raise ValueError(f"logits of shape {logits.shape}; the state needs ({len(self)}, {e.g.n_productions})")
        size = logits.itemsize
        flat = logits.reshape(-1)
        windows = np.ndarray((flat.size - W + 1,), dtype=f"V{W * size}", buffer=flat, strides=(size,))
        score = _gather(windows, np.arange(n) * P + start, W, logits.dtype)
        if not greedy:
            score = score / max(temperature, 1e-6) + rng.gumbel(size=score.shape)
        # Not kept: the fill (below any score). Where nothing is allowed, which never happens to
        # a molecule not yet finished, the fill takes the first candidate.
        return start + (score + _gather(e.w_fill_rows, top, W, np.float32) * ~keep).argmax(1)

    # ------------------------------------------------------------ advancing
    def advance(self, p: np.ndarray) -> None:
        """Each working row takes production p[i] (one of those `allowed`)."""
        e = self.e
        p = np.asarray(p, dtype=np.int64)
        n = len(self)
        rows = np.arange(n)
        entry = self.stack[rows, self.depth - 1]
        top, a = entry & ((1 << e.sym_bits) - 1), (entry >> e.sym_bits) - 1
        self.chosen[:, self.t] = p
        effect = _gather(e.effect_rows, p, e.effect.shape[1], np.int64)
        # A new atom for each chain expanded; its incoming bond is the pending order.
        new = top == e.nt["chain"]
        aid = np.where(new, self.n_atoms, a)
        # (Written for every row: the next atom's slot is unused until it becomes an atom.)
        self.parent[rows, self.n_atoms] = a
        self.atoms[rows, self.n_atoms] = (a >= 0) * (self.pending_order + ((self.pending_order >= 2) << 2 * e.FIELD))
        self.pending_order = np.where(new, 1, self.pending_order)
        self.n_atoms += new
        # Pop the top, push the right-hand side's nonterminals (leftmost ends on top).
        owner = (aid + 1) << e.sym_bits
        base = self.depth - 1
        for j in range(e.max_push):
            self.stack[rows, base + j] = effect[:, e.PUSH + j] + owner
        self.depth = base + effect[:, e.N_PUSH]
        self.steps_needed -= effect[:, e.D_COST]
        self.atoms_to_come += effect[:, e.D_PRODUCERS]
        # Valence committed, bond orders, elements: one packed addition.
        self.atoms[rows, np.maximum(aid, 0)] += effect[:, e.DELTA]
        order = effect[:, e.ORDER]
        self.pending_order = np.where(order > 0, order, self.pending_order)
        label = effect[:, e.LABEL]
        if (label > 0).any():
            self._ring_bond(rows[label > 0], label[label > 0], aid[label > 0])
        self.t += 1
        self._window = None

    def _ring_bond(self, r, lab, at) -> None:
        """Rows r write ring label `lab` on atom `at`: it closes the ring if open, else opens it."""
        fresh = self.ring_atom[r] != at  # first ring bond of this atom: forget the last atom's
        self.ring_blocked[r[fresh]] = -1
        self.ring_atom[r] = at
        closing = self.ring_opener[r, lab] >= 0
        rc, lc = r[closing], lab[closing]
        # Other open rings from the same opener may not close onto this atom too.
        op = self.ring_opener[rc]
        self.ring_blocked[rc] = np.where(op == op[np.arange(len(rc)), lc][:, None], at[closing][:, None],
                                         self.ring_blocked[rc])
        self.ring_opener[rc, lc] = -1
        self.ring_open_step[rc, lc] = -1
        self.n_open[rc] -= 1
        ro, lo = r[~closing], lab[~closing]
        self.ring_opener[ro, lo] = at[~closing]
        self.ring_open_step[ro, lo] = self.t
        self.n_open[ro] += 1

    # ------------------------------------------------------------ rows
    def select(self, index) -> "DecodeState":
        """A new state of rows `index` of this one (reordered or repeated; a copy)."""
        index = np.asarray(index, dtype=np.int64)
        new = object.__new__(DecodeState)
        new.__dict__.update(self.__dict__)
        for name in self._ROW_FIELDS:
            setattr(new, name, getattr(self, name)[index])
        new.result_ids = self.result_ids.copy()
        new.result_dropped = [list(d) for d in self.result_dropped]
        new._window = None
        return new

    def copy(self) -> "DecodeState":
        return self.select(np.arange(len(self)))

    def drop_finished(self, at_least: int = 1):
        """Store the results of finished rows and remove them, once at least `at_least` have
        finished. Returns the positions kept (for the driver to follow), or None if nothing
        was removed."""
        done = self.finished
        if int(np.count_nonzero(done)) < max(1, at_least):
            return None
        self._store(np.flatnonzero(done))
        kept = np.flatnonzero(~done)
        for name in self._ROW_FIELDS:
            setattr(self, name, getattr(self, name)[kept])
        self._window = None
        return kept

    def _store(self, r) -> None:
        """Results of rows r: their productions, and the steps of ring digits still open."""
        self.result_ids[self.batch_row[r]] = self.chosen[r]
        for i, j in zip(*np.nonzero(self.ring_opener[r] >= 0)):
            self.result_dropped[self.batch_row[r[i]]].append(int(self.ring_open_step[r[i], j]))

    def result(self) -> tuple[np.ndarray, list[list[int]]]:
        """(n, steps) production ids by batch row, and per molecule the steps of ring-bond
        digits still open (to drop). Each batch row must be held by at most one working row."""
        if len(np.unique(self.batch_row)) != len(self):
            raise ValueError("several working rows decode the same molecule: select one per molecule first")
        ids, dropped = self.result_ids.copy(), [list(d) for d in self.result_dropped]
        rest = self.select(np.arange(len(self)))
        rest.result_ids, rest.result_dropped = ids, dropped
        rest._store(np.arange(len(rest)))
        return ids, [sorted(d) for d in dropped]
