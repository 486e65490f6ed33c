"""Grammar-constrained decoding that always yields a valid molecule. numpy only, no TensorFlow.

`MaskedDecoder(grammar).decode(logits)` turns per-step production logits of shape
(batch, steps, n_productions) into RDKit canonical SMILES. It walks all molecules of the
batch together, one step at a time, keeping for each a stack of nonterminals, and at each
step picks only among productions that are

- grammatical: allowed for the nonterminal on top of the stack (the paper's masking);
- finishable: the fewest productions needed to finish the stack still fit in the steps
  left, so every derivation ends with an empty stack;
- chemically sound: Kekule SMILES of neutral organic-subset atoms (aromaticity is left
  to RDKit, so no lowercase atoms; no bracket atoms or stereo marks); no atom ever gets
  more bonds than its element allows (bond orders, branches, ring bonds and the next
  atom counted as they are committed); ring-bond labels 1-9, and a ring is closed only on
  an atom that is neither the opening atom nor already bonded to it.

Softer rules, each applied only where it leaves some production allowed: where no other
atom is to come, steer towards closing open rings (the chain goes on, the last atom takes
ring bonds, a label closes rather than opens); and give C, N and O at most one double or
triple bond (no allenes, ketenes or cumulenes: 1 in 30,000 MOSES molecules has one).
A ring still open when the steps run out is dropped (its label removed; the opening atom
keeps an implicit hydrogen instead), and `last_stats` counts how often that happened.

    >>> dec = MaskedDecoder(Grammar.load("zinc"))
    >>> dec.decode(logits, greedy=True)                    # list of canonical SMILES
    >>> dec.decode(logits, greedy=False, temperature=1.0, seed=0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rdkit import Chem

from grammarvae.grammar import Grammar

# Largest valence of each organic-subset element as RDKit accepts it when neutral.
MAX_VALENCE = {"B": 3, "C": 4, "N": 3, "O": 2, "S": 6, "P": 5, "F": 1, "Cl": 1, "Br": 1, "I": 1}
# Room on an atom whose element is not chosen yet: the largest valence any element allows.
ANY_VALENCE = max(MAX_VALENCE.values())
BOND_ORDER = {"-": 1, "=": 2, "#": 3}
N_LABELS = 9  # ring-bond labels 1..9
MAX_OPEN = 6  # soft limit on rings open at once (MOSES uses up to 5)
NO_CUMULATED = {"C", "N", "O"}  # soft rule: at most one double or triple bond on these atoms
NEG = -1e30


def _rows(table: np.ndarray) -> np.ndarray:
    """A 2-D array as a 1-D array of whole rows (one opaque item per row), a view: gathering
    rows by index then costs one copy per row, not one per element."""
    table = np.ascontiguousarray(table)
    return table.view(f"V{table.shape[1] * table.itemsize}").ravel()


def _gather(items: np.ndarray, index: np.ndarray, width: int, dtype=np.uint8) -> np.ndarray:
    """Rows `index` of a `_rows` array (or windows of adjacent values), as (len(index), width)."""
    return items[index].view(dtype).reshape(len(index), width)


def _any(mask: np.ndarray) -> np.ndarray:
    """mask.any(1) for a (n, 8 * m) bool array, reading each row as m 64-bit words."""
    words = np.ascontiguousarray(mask).view(np.uint64)
    acc = words[:, 0]
    for j in range(1, words.shape[1]):
        acc = acc | words[:, j]
    return acc != 0


_BYTES = np.uint64(0x0101010101010101)


def _count(mask: np.ndarray) -> np.ndarray:
    """mask.sum(1) for a (n, 8 * m) bool array with m <= 31, by adding 64-bit words bytewise."""
    words = np.ascontiguousarray(mask).view(np.uint64)
    total = words[:, 0]
    for j in range(1, words.shape[1]):
        total = total + words[:, j]
    return ((total * _BYTES) >> np.uint64(56)).astype(np.int64)


@dataclass
class DecodeStats:
    molecules: int = 0
    dropped_rings: int = 0  # ring bonds left open when the steps ran out, then removed
    invalid: int = 0  # molecules RDKit refused (should stay 0)


class MaskedDecoder:
    """Vectorised masked decoding over a batch; see the module docstring."""

    def __init__(self, grammar: Grammar):
        g = self.g = grammar
        P = g.n_productions
        nt = g.nt_index
        self.nt = nt
        prods = g.productions

        def rhs_names(p):
            return [s.symbol() if hasattr(s, "symbol") else s for s in prods[p].rhs()]

        def find(lhs, rhs):
            for p in range(P):
                if prods[p].lhs().symbol() == lhs and rhs_names(p) == rhs:
                    return p
            raise ValueError(f"grammar {g.name} has no production {lhs} -> {' '.join(rhs)}")

        # Productions the decoder may use at all (Kekule, organic subset, no stereo).
        usable = np.zeros(P, dtype=bool)
        self.chain_end = find("chain", ["branched_atom"])
        self.chain_next = find("chain", ["branched_atom", "chain"])
        self.chain_bond_next = find("chain", ["branched_atom", "bond", "chain"])
        ba = {k: find("branched_atom", v) for k, v in {
            "plain": ["atom"], "ring": ["atom", "ringbonds"], "branch": ["atom", "branches"],
            "both": ["atom", "ringbonds", "branches"]}.items()}
        self.ringbonds_one = find("ringbonds", ["ringbond"])
        self.ringbonds_more = find("ringbonds", ["ringbond", "ringbonds"])
        self.ring_digit = find("ringbond", ["digit"])
        self.branches_one = find("branches", ["branch"])
        self.branches_more = find("branches", ["branch", "branches"])
        for p in [find("smiles", ["chain"]), self.chain_end, self.chain_next, self.chain_bond_next,
                  *ba.values(), self.ringbonds_one, self.ringbonds_more, self.ring_digit,
                  self.branches_one, self.branches_more, find("branch", ["(", "chain", ")"]),
                  find("branch", ["(", "bond", "chain", ")"]), find("atom", ["aliphatic_organic"]), g.pad]:
            usable[p] = True
        # Extra valence each production commits on its atom, and bond orders.
        self.extra = np.zeros(P, dtype=np.int64)
        self.extra[[ba["ring"], ba["branch"], self.ringbonds_more, self.branches_more]] = 1
        self.extra[ba["both"]] = 2
        self.slots_needed = np.zeros(P, dtype=np.int64)  # ring-bond labels a production needs
        self.slots_needed[[ba["ring"], ba["both"]]] = 1
        self.slots_needed[self.ringbonds_more] = 2
        self.no_ring_ba = np.array([ba["plain"], ba["branch"]])
        self.ring_only_ba = ba["ring"]
        self.extra[[self.chain_next, self.chain_bond_next]] = 1  # the bond to the next atom
        self.order = np.zeros(P, dtype=np.int64)  # bond productions: their order
        self.valence = np.zeros(P, dtype=np.int64)  # element productions: max valence
        self.label = np.zeros(P, dtype=np.int64)  # digit productions: ring label (0: none)
        self.no_cumulated = np.zeros(P, dtype=bool)  # elements that take at most one multiple bond
        for p in range(P):
            lhs, rhs = prods[p].lhs().symbol(), rhs_names(p)
            if lhs == "bond" and rhs[0] in BOND_ORDER:
                self.order[p] = BOND_ORDER[rhs[0]]
                usable[p] = True
            elif lhs == "aliphatic_organic" and rhs[0] in MAX_VALENCE:
                self.valence[p] = MAX_VALENCE[rhs[0]]
                self.no_cumulated[p] = rhs[0] in NO_CUMULATED
                usable[p] = True
            elif lhs == "digit" and rhs[0] in "123456789":
                self.label[p] = int(rhs[0])
                usable[p] = True
        self.base = g.masks & usable[None, :]  # (n_nonterminals, P)
        self.pms = g.production_min_steps.astype(np.int64)
        self.min_steps = g.min_steps.astype(np.int64)
        self.rhs = g.rhs_nonterminals
        self.max_push = max(len(r) for r in self.rhs)
        # Pushed nonterminals, padded, in push order (last pushed = leftmost = next on top).
        self.push = np.full((P, self.max_push), -1, dtype=np.int64)
        self.n_push = np.array([len(r) for r in self.rhs], dtype=np.int64)
        for p, r in enumerate(self.rhs):
            self.push[p, :len(r)] = list(reversed(r))
        producers = {nt["chain"], nt["branch"], nt["branches"]}
        self.is_producer = np.array([i in producers for i in range(len(g.nonterminals))])
        self.push_producers = np.array([sum(a in producers for a in r) for r in self.rhs], dtype=np.int64)
        self.NOTHING = g.lhs[g.pad]
        self.last_stats = DecodeStats()
        self._compact_tables()

    def _compact_tables(self) -> None:
        """Per nonterminal, its usable productions padded to K columns with P (no production),
        and each production attribute laid out the same way: (n_nonterminals, K) tables. The
        per-molecule reference reads these; the decoder's step tables are built from them."""
        P, n_nt = self.g.n_productions, len(self.g.nonterminals)
        lists = [np.nonzero(self.base[a])[0] for a in range(n_nt)]
        K = max(len(x) for x in lists)
        c = self.cand = np.full((n_nt, K), P, dtype=np.int64)
        for a, x in enumerate(lists):
            c[a, :len(x)] = x

        def table(values, fill):  # values per production, `fill` for the padding column
            return np.append(np.asarray(values), fill)[c]

        owned = np.isin(self.g.lhs, [self.nt[n] for n in ("ringbonds", "branches", "bond", "branched_atom")])
        self.t_pms = table(self.pms, 10 ** 6)  # padding: never finishable
        self.t_req = table(np.where(owned, self.extra + np.maximum(self.order - 1, 0), 0), 0)
        self.t_val = table(np.where(self.valence > 0, self.valence, 99), 99)
        self.t_slots = table(self.slots_needed, 0)
        self.t_label = table(self.label, 0)
        self.t_multiple = table(self.order >= 2, False)
        ids = np.arange(P)
        self.t_chain_end = table(ids == self.chain_end, False)
        self.t_no_ring_ba = table(np.isin(ids, self.no_ring_ba), False)
        self.t_ring_only_ba = table(ids == self.ring_only_ba, False)
        self.t_ringbonds_one = table(ids == self.ringbonds_one, False)
        self._window_tables()

    # ------------------------------------------------------------------ step tables
    # The candidates of each nonterminal lie within a few adjacent productions, so a decoding
    # step reads, per molecule, one window of W adjacent logits starting at `w_start[top]`,
    # and every per-candidate table is laid out over the same W columns (non-candidates never
    # allowed). Each step then combines three rows of bits, each gathered as one W-byte item:
    #   rules[top, atom and ring key]   valence, ring slots and the soft ring-steering rules;
    #   budget[top, left, left - 3 open]  finishable in the steps left, and room to close rings;
    #   labels (digit tops only)         ring labels that may be opened or closed here.
    # Bits: ALLOWED (a hard rule), PLAIN (no cumulated double bond), WANTED (no soft rule
    # against it). A molecule takes its best-scoring candidate among the allowed ones, keeping
    # the PLAIN ones if any, then of those the WANTED ones if any.
    ROOM, USED, SLOTS, FLAGS = 5, 8, 3, 16  # room -1..3, used 0..7, free slots 0..2, 4 flags
    ALLOWED, PLAIN, WANTED = 4, 2, 1
    # A molecule's atoms, each one int of 4-bit fields: bonds used | max valence | multiple
    # bonds | single_only (an element of NO_CUMULATED). Used never exceeds ANY_VALENCE (6).
    FIELD = 4
    COMPACT = 64  # finished molecules are dropped from the state once a quarter of it, and this many

    def _window_tables(self) -> None:
        P, (n_nt, K) = self.g.n_productions, self.cand.shape
        real = self.cand < P
        lo = np.where(real, self.cand, P).min(1)
        span = np.where(real, self.cand, -1).max(1) - lo + 1
        W = self.W = max(8, -(-int(span.max()) // 8) * 8)
        if W > P:
            raise ValueError(f"grammar {self.g.name}: a nonterminal's productions span {span.max()} of {P}")
        self.w_start = np.minimum(np.where(lo < P, lo, 0), P - W)
        col = np.where(real, self.cand - self.w_start[:, None], W)  # window column of each candidate

        def window(t, fill):  # (n_nt, K) candidate table -> (n_nt, W) window table
            out = np.full((n_nt, W + 1), fill, dtype=np.asarray(t).dtype)
            out[np.arange(n_nt)[:, None], col] = t
            return out[:, :W]

        # Score of a candidate not kept: below any score; of a non-candidate: lower still, so
        # that where nothing is allowed the first candidate is taken.
        self.w_fill = np.full((n_nt, W), 2 * NEG, dtype=np.float32)
        has = real[:, 0]
        self.w_fill[np.arange(n_nt)[has], col[has, 0]] = NEG
        self.w_fill_rows = _rows(self.w_fill)
        if (self.t_req.max() > self.ROOM - 2 or self.t_slots.max() > self.SLOTS - 1
                or self.t_val[self.t_val < 99].max() > self.USED - 1):
            raise ValueError(f"grammar {self.g.name}: the decoder's rule table does not cover its "
                             "valence or ring-bond numbers (widen ROOM, USED or SLOTS)")
        # rules[top, key], key = (((room + 1) * USED + used) * 2 + cumulated) * SLOTS + free slots) * FLAGS + flags
        room = np.arange(self.ROOM)[:, None, None, None, None, None, None] - 1
        used = np.arange(self.USED)[None, :, None, None, None, None, None]
        cum = np.arange(2)[None, None, :, None, None, None, None] > 0
        slots = np.arange(self.SLOTS)[None, None, None, :, None, None, None]
        flags = np.arange(self.FLAGS)[None, None, None, None, :, None, None]

        def tab(t, fill=0):
            return window(t, fill)[None, None, None, None, None]

        ok = tab(real, False) & (tab(self.t_req) <= room) & (tab(self.t_val, 99) >= used) & (tab(self.t_slots) <= slots)
        unwanted = (tab(self.t_chain_end, False) & (flags & 1 > 0)) | (tab(self.t_no_ring_ba, False) & (flags & 2 > 0)) \
            | (tab(self.t_ring_only_ba, False) & (flags & 4 > 0)) | (tab(self.t_ringbonds_one, False) & (flags & 8 > 0))
        bits = ok * self.ALLOWED | ~(tab(self.t_multiple, False) & cum) * self.PLAIN | ~unwanted * self.WANTED
        bits = np.broadcast_to(bits, (self.ROOM, self.USED, 2, self.SLOTS, self.FLAGS, n_nt, W))
        self.n_keys = self.ROOM * self.USED * 2 * self.SLOTS * self.FLAGS
        self.w_rules = _rows(np.moveaxis(bits.reshape(-1, n_nt, W), 1, 0).reshape(-1, W).astype(np.uint8))
        # The atom part of the key, from the packed atom state.
        F = self.FIELD
        st = np.arange(1 << 4 * F)
        a_used, a_val, a_mult, a_single = (st >> F * np.arange(4)[:, None]) & ((1 << F) - 1)
        a_room = np.where(a_val > 0, a_val, ANY_VALENCE) - a_used
        self.atom_key = ((((np.clip(a_room, -1, self.ROOM - 2) + 1) * self.USED + np.minimum(a_used, self.USED - 1)) * 2
                          + ((a_mult > 0) & (a_single > 0))) * self.SLOTS * self.FLAGS)
        # budget[top, left, left - 3 open], both clipped to where the comparisons can differ.
        pms = window(self.t_pms, 10 ** 6)
        self.b_lo, b_hi = int(self.t_pms[real].min()) - 1, int(self.t_pms[real].max())
        steps = np.arange(self.b_lo, b_hi + 1)
        self.b_n = len(steps)
        budget = ((pms[:, None, None] <= steps[None, :, None, None]) * self.ALLOWED | self.PLAIN
                  | (pms[:, None, None] <= steps[None, None, :, None]) * self.WANTED)
        self.w_budget = _rows(budget.reshape(-1, W).astype(np.uint8))
        # Ring labels: the window column of each digit candidate -> its label.
        self.digit = self.nt["digit"]
        if np.any((self.label > 0) & (self.g.lhs != self.digit)):
            raise ValueError(f"grammar {self.g.name}: ring labels outside `digit` productions")
        self.w_label = window(self.t_label, 0)[self.digit]
        # Per production: the packed change to its atom's state, and its pushed nonterminals.
        self.atom_delta = (self.extra + np.maximum(self.order - 1, 0) + (self.valence << F)
                           + ((self.order >= 2) << 2 * F) + (self.no_cumulated.astype(np.int64) << 3 * F))
        self.sym_bits = int(len(self.g.nonterminals)).bit_length()
        # What choosing production p does, one row per production (gathered in one step):
        # its pushed nonterminals, how many, the change to the step budget and to the count
        # of symbols still to produce an atom (relative to its left-hand side), its atom's
        # state change, bond order and ring label.
        lhs = self.g.lhs
        self.PUSH, self.N_PUSH, self.D_COST, self.D_PRODUCERS, self.DELTA, self.ORDER, self.LABEL = \
            0, self.max_push, self.max_push + 1, self.max_push + 2, self.max_push + 3, self.max_push + 4, self.max_push + 5
        self.effect = np.column_stack([
            self.push, self.n_push, self.min_steps[lhs] - self.pms + 1, self.push_producers - self.is_producer[lhs],
            self.atom_delta, self.order, self.label]).astype(np.int64)
        pad = self.g.pad
        self.effect[pad, self.PUSH:self.N_PUSH + 1] = [self.NOTHING] + [-1] * (self.max_push - 1) + [1]
        self.effect_rows = _rows(self.effect)
        # Per top symbol: steps its expansion needs at least, produces an atom, window start.
        self.per_top = np.column_stack([self.min_steps, self.is_producer, self.w_start]).astype(np.int64)
        self.per_top_rows = _rows(self.per_top)
        # The ring part of the rules key, from (no atom to come, a ring opened on this atom,
        # rings closable here (0, 1, 2+), free label slots (0, 1, 2+)): free slots * FLAGS + flags.
        last, stuck, nc, sl = np.meshgrid(*(np.arange(k) for k in (2, 2, 3, self.SLOTS)), indexing="ij")
        close_here = last & (nc > 0)
        flags = (last & stuck) + 2 * close_here + 4 * (last & (nc == 0)) + 8 * (close_here & (nc > 1))
        self.ring_key = (sl * self.FLAGS + flags).reshape(-1)

    # ------------------------------------------------------------------ decode
    def start(self, n: int, steps: int):
        """A `DecodeState` of n molecules over at most `steps` productions each."""
        from grammarvae.decode_state import DecodeState

        return DecodeState(self, n, steps)

    def decode_ids(self, logits: np.ndarray, greedy: bool = True, temperature: float = 1.0,
                   seed: int | None = 0) -> tuple[np.ndarray, list[list[int]]]:
        """Production indices (batch, steps) chosen under the masks from precomputed logits,
        and for each molecule the steps of ring-bond digits still open at the end (to drop)."""
        logits = np.asarray(logits)
        B, T, P = logits.shape
        if P != self.g.n_productions:
            raise ValueError(f"logits have {P} productions, the grammar {self.g.n_productions}")
        state = self.start(B, T)
        rng = None if greedy else np.random.default_rng(seed)
        while not state.all_finished:
            state.drop_finished(at_least=max(self.COMPACT, len(state) // 4))
            p = state.choose(logits[state.batch_row, state.t], greedy=greedy, temperature=temperature, rng=rng)
            state.advance(p)
        return state.result()

    def to_smiles(self, ids: np.ndarray, drop: list[list[int]]) -> list[str | None]:
        """Canonical SMILES of each derivation, with the listed ring-digit steps removed;
        `last_stats` counts them."""
        out = []
        for row, steps in zip(np.asarray(ids), drop):
            smi = self.g.unparse(row, skip_steps=set(steps))
            mol = Chem.MolFromSmiles(smi)
            out.append(Chem.MolToSmiles(mol) if mol is not None else None)
        self.last_stats = DecodeStats(molecules=len(out), dropped_rings=sum(len(d) for d in drop),
                                      invalid=sum(s is None for s in out))
        return out

    def decode(self, logits: np.ndarray, greedy: bool = True, temperature: float = 1.0,
               seed: int | None = 0) -> list[str | None]:
        """Canonical SMILES for each row of logits (batch, steps, n_productions)."""
        return self.to_smiles(*self.decode_ids(logits, greedy=greedy, temperature=temperature, seed=seed))
