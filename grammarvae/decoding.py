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
triple bond (no allenes, ketenes or cumulenes: 1 in 30,000 MOSES molecules has one). A ring still open when the steps run out is dropped (its label removed; the opening atom
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
BOND_ORDER = {"-": 1, "=": 2, "#": 3}
N_LABELS = 9  # ring-bond labels 1..9
MAX_OPEN = 6  # soft limit on rings open at once (MOSES uses up to 5)
NO_CUMULATED = {"C", "N", "O"}  # soft rule: at most one double or triple bond on these atoms
NEG = -1e30


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
        and each production attribute laid out the same way: (n_nonterminals, K) tables, so
        that a decoding step gathers whole rows by top symbol."""
        P, n_nt = self.g.n_productions, len(self.g.nonterminals)
        lists = [np.nonzero(self.base[a])[0] for a in range(n_nt)]
        K = max(len(x) for x in lists)
        c = self.cand = np.full((n_nt, K), P, dtype=np.int64)
        for a, x in enumerate(lists):
            c[a, :len(x)] = x
        self.cand_real = np.minimum(c, P - 1)  # for gathering logits: padding reads a real one, never allowed

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
        self.x_push = np.vstack([self.push, np.full((1, self.max_push), -1)])
        self._rule_table()

    # Each step's per-candidate rules depend on the top symbol and on a few small numbers per
    # molecule, so they are tabulated once: `rules[top, key]` is a (K,) row of bit flags.
    # key = ((room + 1) * 8 + used) * 3 + slots_free) * 16 + soft flags, with each number
    # clipped to the range in which the rules can tell values apart.
    ROOM, USED, SLOTS, FLAGS = 5, 8, 3, 16  # room -1..3, used 0..7, free slots 0..2, 4 flags
    OK, UNWANTED, MULTIPLE = 1, 2, 4

    def _rule_table(self) -> None:
        if (self.t_req.max() > self.ROOM - 2 or self.t_slots.max() > self.SLOTS - 1
                or self.t_val[self.t_val < 99].max() > self.USED - 1):
            raise ValueError(f"grammar {self.g.name}: the decoder's rule table does not cover its "
                             "valence or ring-bond numbers (widen ROOM, USED or SLOTS)")
        room = np.arange(self.ROOM)[:, None, None, None, None, None] - 1
        used = np.arange(self.USED)[None, :, None, None, None, None]
        slots = np.arange(self.SLOTS)[None, None, :, None, None, None]
        flags = np.arange(self.FLAGS)[None, None, None, :, None, None]

        def tab(t):  # (n_nt, K) -> broadcastable against the four key axes
            return t[None, None, None, None]

        ok = (tab(self.t_req) <= room) & (tab(self.t_val) >= used) & (tab(self.t_slots) <= slots)
        unwanted = (tab(self.t_chain_end) & (flags & 1 > 0)) | (tab(self.t_no_ring_ba) & (flags & 2 > 0)) \
            | (tab(self.t_ring_only_ba) & (flags & 4 > 0)) | (tab(self.t_ringbonds_one) & (flags & 8 > 0))
        bits = ok * self.OK | unwanted * self.UNWANTED | tab(self.t_multiple) * self.MULTIPLE
        n_nt, K = self.cand.shape
        bits = np.broadcast_to(bits, (self.ROOM, self.USED, self.SLOTS, self.FLAGS, n_nt, K))
        self.rules = np.ascontiguousarray(np.moveaxis(bits.reshape(-1, n_nt, K), 1, 0)).astype(np.uint8)

    # ------------------------------------------------------------------ decode
    def decode_ids(self, logits: np.ndarray, greedy: bool = True, temperature: float = 1.0,
                   seed: int | None = 0) -> tuple[np.ndarray, list[list[int]]]:
        """Production indices (batch, steps) chosen under the masks, and for each molecule
        the steps of ring-bond digits still open at the end (to drop).

        Works in a compact space: at each step a molecule has at most K candidates (the
        usable productions of its top nonterminal), so every mask is (batch, K)."""
        logits = np.asarray(logits)
        B, T, P = logits.shape
        flat = np.ascontiguousarray(logits).reshape(-1)  # gathered by flat index, no transposed copy
        row_base = (np.arange(B) * (T * P))[:, None]
        if P != self.g.n_productions:
            raise ValueError(f"logits have {P} productions, the grammar {self.g.n_productions}")
        rng = None if greedy else np.random.default_rng(seed)
        inv_temp = 1.0 / max(temperature, 1e-6)
        nt = self.nt
        NT_CHAIN = nt["chain"]
        rows = np.arange(B)
        rows_k = rows[:, None]
        D = 2 * T + 2 + self.max_push
        sym = np.full((B, D), -1, dtype=np.int64)
        own = np.full((B, D), -1, dtype=np.int64)
        sym[:, 0] = nt[self.g.start.symbol()]
        sp = np.ones(B, dtype=np.int64)
        cost = np.full(B, self.min_steps[sym[0, 0]], dtype=np.int64)
        producers = np.zeros(B, dtype=np.int64)
        n_atoms = np.zeros(B, dtype=np.int64)
        val = np.zeros((B, T + 2), dtype=np.int64)
        used = np.zeros((B, T + 2), dtype=np.int64)
        parent = np.full((B, T + 2), -1, dtype=np.int64)
        pending = np.ones(B, dtype=np.int64)
        multiple = np.zeros((B, T + 2), dtype=np.int64)  # double or triple bonds per atom
        single_only = np.zeros((B, T + 2), dtype=bool)  # atoms of NO_CUMULATED elements
        opener = np.full((B, N_LABELS + 1), -1, dtype=np.int64)  # label -> opening atom
        open_step = np.full((B, N_LABELS + 1), -1, dtype=np.int64)
        ring_atom = np.full(B, -1, dtype=np.int64)  # atom whose ring closures `blocked` is for
        blocked = np.zeros((B, N_LABELS + 1), dtype=bool)  # labels whose opener it is bonded to
        out = np.full((B, T), self.g.pad, dtype=np.int64)
        min_steps, is_producer = self.min_steps, self.is_producer
        for t in range(T):
            empty = sp == 0
            if empty.all():  # every derivation has ended: the rest stays padding
                break
            live = ~empty
            idx = np.maximum(sp - 1, 0)
            top = np.where(empty, self.NOTHING, sym[rows, idx])
            a = np.where(empty, -1, own[rows, idx])
            ai = np.maximum(a, 0)
            used_a, val_a = used[rows, ai], val[rows, ai]
            room = np.where(val_a > 0, val_a, 6) - used_a
            left = (T - t) - cost + min_steps[top]  # steps the chosen production may need
            pms = self.t_pms[top]
            # Ring bonds: labels that may close here, and free labels to open.
            is_open = opener >= 0
            closable = is_open & (opener != a[:, None]) & (opener != parent[rows, ai][:, None]) \
                & ~(blocked & (ring_atom == a)[:, None])
            closable[:, 0] = False
            n_open = is_open[:, 1:].sum(1)
            n_free = N_LABELS - n_open
            n_closable = closable.sum(1)
            lab = self.t_label[top]
            label_code = 2 * closable + (closable | ~is_open & (n_free > 0)[:, None])  # 2: closes, 1: usable
            label_code[:, 0] = 1
            label_code = label_code[rows_k, lab]
            # Soft-rule conditions of the molecule (see the module docstring).
            last = (producers - is_producer[top]) == 0
            stuck = (is_open & (opener == a[:, None]))[:, 1:].any(1)
            close_here = last & (n_closable > 0)
            flags = (last & stuck) + 2 * close_here + 4 * (last & (n_closable == 0)) + 8 * (close_here & (n_closable > 1))
            key = ((np.clip(room, -1, self.ROOM - 2) + 1) * self.USED + np.minimum(used_a, self.USED - 1)) * self.SLOTS
            key = (key + np.minimum(n_closable + n_free, self.SLOTS - 1)) * self.FLAGS + flags
            rule = self.rules[top, key]
            allowed = (rule & self.OK > 0) & (pms <= left[:, None]) & (label_code & 1 > 0)
            # First the chemistry (no cumulated double bonds on C, N, O), then the ring steering.
            cumulated = (rule & self.MULTIPLE > 0) & ((multiple[rows, ai] > 0) & single_only[rows, ai] & (a >= 0))[:, None]
            soft = allowed & ~cumulated
            allowed = np.where(soft.any(1)[:, None], soft, allowed)
            opening = (lab > 0) & (label_code < 2)
            unwanted = (rule & self.UNWANTED > 0) | (opening & (last | (n_open >= MAX_OPEN))[:, None]) \
                | (pms + 3 * n_open[:, None] > left[:, None])
            soft = allowed & ~unwanted
            allowed = np.where(soft.any(1)[:, None], soft, allowed)
            # Choose.
            score = flat[(row_base + t * P) + self.cand_real[top]]
            if rng is not None:
                score = score * inv_temp + rng.gumbel(size=score.shape)
            k = np.where(allowed, score, NEG).argmax(1)
            p = self.cand[top, k]
            out[:, t] = p
            # A new atom for each chain expanded; its incoming bond is the pending order.
            new = live & (top == NT_CHAIN)
            aid = np.where(new, n_atoms, a)
            parent[rows, n_atoms] = np.where(new, a, parent[rows, n_atoms])
            used[rows, n_atoms] = np.where(new, np.where(a >= 0, pending, 0), used[rows, n_atoms])
            multiple[rows, n_atoms] = np.where(new, (a >= 0) & (pending >= 2), multiple[rows, n_atoms])
            pending = np.where(new, 1, pending)
            n_atoms += new
            # Pop the top, push the right-hand side's nonterminals (leftmost ends on top).
            sp = sp - live
            push = self.x_push[p]
            for j in range(self.max_push):
                sym[rows, sp + j] = push[:, j]
                own[rows, sp + j] = aid
            sp = sp + self.n_push[p] * live
            cost = cost - np.where(live, min_steps[top] - self.pms[np.minimum(p, P - 1)] + 1, 0)
            producers += live * (self.push_producers[p] - is_producer[top])
            # Valence committed, bond orders, elements.
            bi = np.maximum(aid, 0)
            used[rows, bi] += live * (self.extra[p] + np.maximum(self.order[p] - 1, 0))
            pending = np.where(self.order[p] > 0, self.order[p], pending)
            multiple[rows, bi] += live & (self.order[p] >= 2)
            val[rows, bi] = np.where(self.valence[p] > 0, self.valence[p], val[rows, bi])
            single_only[rows, bi] |= self.no_cumulated[p]
            lb = self.label[p]
            ring = live & (lb > 0)
            if ring.any():
                r, l, at = rows[ring], lb[ring], aid[ring]
                fresh = ring_atom[r] != at  # first ring bond of this atom: forget the last atom's
                blocked[r[fresh]] = False
                ring_atom[r] = at
                closing = opener[r, l] >= 0
                rc, lc = r[closing], l[closing]
                # Other open rings from the same opener may not close onto this atom too.
                blocked[rc] |= opener[rc] == opener[rc, lc][:, None]
                opener[rc, lc] = -1
                open_step[rc, lc] = -1
                ro, lo = r[~closing], l[~closing]
                opener[ro, lo] = at[~closing]
                open_step[ro, lo] = t
        dropped = [sorted(open_step[b, 1:][opener[b, 1:] >= 0].tolist()) for b in range(B)]
        return out, dropped

    def to_smiles(self, ids: np.ndarray, drop: list[list[int]]) -> list[str | None]:
        """Canonical SMILES of each derivation, with the listed ring-digit steps removed."""
        out = []
        for row, steps in zip(np.asarray(ids), drop):
            smi = self.g.unparse(row, skip_steps=set(steps))
            mol = Chem.MolFromSmiles(smi)
            out.append(Chem.MolToSmiles(mol) if mol is not None else None)
        return out

    def decode(self, logits: np.ndarray, greedy: bool = True, temperature: float = 1.0,
               seed: int | None = 0) -> list[str | None]:
        """Canonical SMILES for each row of logits (batch, steps, n_productions)."""
        ids, drop = self.decode_ids(logits, greedy=greedy, temperature=temperature, seed=seed)
        smiles = self.to_smiles(ids, drop)
        self.last_stats = DecodeStats(molecules=len(smiles), dropped_rings=sum(len(d) for d in drop),
                                      invalid=sum(s is None for s in smiles))
        return smiles
