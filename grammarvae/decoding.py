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

Where no other atom is to come, softer rules steer towards closing open rings (the chain
goes on, the last atom takes ring bonds, a label closes rather than opens), each applied
only where it leaves some production allowed. A ring still open when the steps run out is dropped (its label removed; the opening atom
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
        for p in range(P):
            lhs, rhs = prods[p].lhs().symbol(), rhs_names(p)
            if lhs == "bond" and rhs[0] in BOND_ORDER:
                self.order[p] = BOND_ORDER[rhs[0]]
                usable[p] = True
            elif lhs == "aliphatic_organic" and rhs[0] in MAX_VALENCE:
                self.valence[p] = MAX_VALENCE[rhs[0]]
                usable[p] = True
            elif lhs == "digit" and rhs[0] in "123456789":
                self.label[p] = int(rhs[0])
                usable[p] = True
        self.label_prod = np.zeros(N_LABELS + 1, dtype=np.int64)
        self.label_prod[self.label[self.label > 0]] = np.nonzero(self.label > 0)[0]
        self.usable = usable
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

    # ------------------------------------------------------------------ decode
    def decode_ids(self, logits: np.ndarray, greedy: bool = True, temperature: float = 1.0,
                   seed: int | None = 0) -> tuple[np.ndarray, list[list[int]]]:
        """Production indices (batch, steps) chosen under the masks, and for each molecule
        the steps of ring-bond digits still open at the end (to drop)."""
        logits = np.asarray(logits, dtype=np.float64)
        B, T, P = logits.shape
        if P != self.g.n_productions:
            raise ValueError(f"logits have {P} productions, the grammar {self.g.n_productions}")
        if not greedy:
            rng = np.random.default_rng(seed)
            logits = logits / max(temperature, 1e-6) + rng.gumbel(size=logits.shape)
        nt = self.nt
        rows = np.arange(B)
        D = 2 * T + 2
        sym = np.full((B, D), -1, dtype=np.int64)
        own = np.full((B, D), -1, dtype=np.int64)
        sym[:, 0] = nt[self.g.start.symbol()]
        sp = np.ones(B, dtype=np.int64)
        cost = np.full(B, self.min_steps[sym[0, 0]], dtype=np.int64)
        producers = np.zeros(B, dtype=np.int64)
        n_atoms = np.zeros(B, dtype=np.int64)
        val = np.zeros((B, T + 1), dtype=np.int64)
        used = np.zeros((B, T + 1), dtype=np.int64)
        parent = np.full((B, T + 1), -1, dtype=np.int64)
        pending = np.ones(B, dtype=np.int64)
        opener = np.full((B, N_LABELS + 1), -1, dtype=np.int64)  # label -> opening atom
        open_step = np.full((B, N_LABELS + 1), -1, dtype=np.int64)
        ring_atom = np.full(B, -1, dtype=np.int64)  # atom whose ring closures are listed below
        ring_partners = np.full((B, N_LABELS + 1), -1, dtype=np.int64)  # atoms it closed rings onto
        out = np.full((B, T), self.g.pad, dtype=np.int64)
        lab = np.arange(N_LABELS + 1)
        for t in range(T):
            empty = sp == 0
            top = np.where(empty, self.NOTHING, sym[rows, np.maximum(sp - 1, 0)])
            a = np.where(empty, -1, own[rows, np.maximum(sp - 1, 0)])
            ai = np.maximum(a, 0)
            allowed = self.base[top].copy()
            # Finishable within the steps left.
            allowed &= (cost - self.min_steps[top])[:, None] + self.pms[None, :] <= T - t
            # Valence of the atom the production belongs to.
            free = np.where(a >= 0, val[rows, ai] - used[rows, ai], 0)
            is_elem = top == nt["aliphatic_organic"]
            allowed[is_elem] &= self.valence[None, :] >= used[rows, ai][is_elem, None]
            is_ba = top == nt["branched_atom"]
            # For a new atom `used` already holds its incoming bond and the next-atom bond.
            allowed[is_ba] &= used[rows, ai][is_ba, None] + self.extra[None, :] <= 6
            after_atom = np.isin(top, [nt["ringbonds"], nt["branches"], nt["bond"]])
            allowed[after_atom] &= (self.extra[None, :] + np.maximum(self.order[None, :] - 1, 0)
                                    <= free[after_atom, None])
            # Ring bonds: a slot is committed only when a label will be there to fill it.
            is_open = opener >= 0
            partners = np.where((ring_atom == a)[:, None], ring_partners, -2)
            closable = is_open & (opener != a[:, None]) & (opener != parent[rows, ai][:, None]) \
                & ~(opener[:, :, None] == partners[:, None, :]).any(-1)
            n_free = N_LABELS - is_open[:, 1:].sum(1)
            slots = closable[:, 1:].sum(1) + n_free
            allowed &= self.slots_needed[None, :] <= slots[:, None]
            is_digit = top == nt["digit"]
            if is_digit.any():
                ok_label = closable | (~is_open & (n_free > 0)[:, None])
                ok_label[:, 0] = False
                lab_ok = np.zeros((B, P), dtype=bool)
                lab_ok[:, self.label_prod[1:]] = ok_label[:, 1:]
                allowed[is_digit] &= lab_ok[is_digit]
            # Soft rules, kept only where something stays allowed: when no other atom is to
            # come, steer towards closing the open rings.
            soft = allowed.copy()
            n_open = is_open[:, 1:].sum(1)
            # Leave each open ring the three productions that close it, and open at most
            # MAX_OPEN at once (more than drug-like molecules use).
            soft &= ((cost - self.min_steps[top])[:, None] + self.pms[None, :] + 3 * n_open[:, None]
                     <= T - t)
            last = (producers - self.is_producer[top]) == 0
            n_closable = closable[:, 1:].sum(1)
            stuck = (opener[:, 1:] == a[:, None]).any(1)  # the next atom cannot close these
            soft[(top == nt["chain"]) & last & stuck, self.chain_end] = False
            close_here = last & (n_closable > 0)
            soft[np.ix_(close_here & (top == nt["branched_atom"]), self.no_ring_ba)] = False
            soft[last & (n_closable == 0) & (top == nt["branched_atom"]), self.ring_only_ba] = False
            soft[close_here & (top == nt["ringbonds"]) & (n_closable > 1), self.ringbonds_one] = False
            opening = np.zeros((B, P), dtype=bool)
            opening[:, self.label_prod[1:]] = (~is_open & ~closable)[:, 1:]
            no_open = is_digit & (last | (n_open >= MAX_OPEN))
            soft[no_open] &= ~opening[no_open]
            use_soft = soft.any(1)
            allowed[use_soft] = soft[use_soft]
            # Choose.
            p = np.where(allowed, logits[:, t, :], NEG).argmax(1)
            p = np.where(empty, self.g.pad, p)
            out[:, t] = p
            live = ~empty
            # Pop the top, push the right-hand side's nonterminals (leftmost on top).
            sp = sp - live
            new_atom = live & (top == nt["chain"])
            aid = np.where(new_atom, n_atoms, a)
            if new_atom.any():
                r = rows[new_atom]
                inc = np.where(a[new_atom] >= 0, pending[new_atom], 0)
                parent[r, n_atoms[r]] = a[new_atom]
                used[r, n_atoms[r]] = inc
                pending[r] = 1
                n_atoms[r] += 1
            k = self.n_push[p] * live
            for j in range(self.max_push):
                m = j < k
                sym[rows[m], sp[m] + j] = self.push[p[m], j]
                own[rows[m], sp[m] + j] = aid[m]
            sp = sp + k
            cost = cost - np.where(live, self.min_steps[top], 0) + np.where(live, self.pms[p] - 1, 0)
            producers = producers - (live & self.is_producer[top]) + self.push_producers[p] * live
            # Semantics: valence, bonds, rings.
            bi = np.maximum(aid, 0)
            used[rows, bi] += np.where(live & (aid >= 0), self.extra[p] + np.maximum(self.order[p] - 1, 0), 0)
            is_bond = live & (self.order[p] > 0)
            pending[is_bond] = self.order[p][is_bond]
            is_el = live & (self.valence[p] > 0)
            val[rows[is_el], bi[is_el]] = self.valence[p][is_el]
            lb = self.label[p]
            ring = live & (lb > 0)
            if ring.any():
                r, l, at = rows[ring], lb[ring], aid[ring]
                fresh = ring_atom[r] != at  # first ring bond of this atom: forget the last atom's
                ring_partners[r[fresh]] = -1
                ring_atom[r] = at
                closing = opener[r, l] >= 0
                rc, lc = r[closing], l[closing]
                ring_partners[rc, lc] = opener[rc, lc]
                opener[rc, lc] = -1
                open_step[rc, lc] = -1
                ro, lo = r[~closing], l[~closing]
                opener[ro, lo] = aid[ro]
                open_step[ro, lo] = t
        dropped = [sorted(open_step[b, 1:][opener[b, 1:] >= 0].tolist()) for b in range(B)]
        return out, dropped

    def to_smiles(self, ids: np.ndarray, drop: list[list[int]]) -> list[str | None]:
        """Canonical SMILES of each derivation, with the listed ring-digit steps removed."""
        out = []
        for row, steps in zip(np.asarray(ids), drop):
            smi = self.g.unparse(row) if not steps else self._unparse_without(row, set(steps))
            mol = Chem.MolFromSmiles(smi)
            out.append(Chem.MolToSmiles(mol) if mol is not None else None)
        return out

    def _unparse_without(self, ids, steps: set[int]) -> str:
        """Unparse, leaving out the terminals produced by the digit productions at `steps`."""
        g = self.g
        stack: list = [(g.start, -1)]
        toks: list[str] = []
        for step, p in enumerate(int(i) for i in ids):
            if p == g.pad:
                continue
            while stack and isinstance(stack[-1][0], str):
                s, at = stack.pop()
                if at not in steps:
                    toks.append(s)
            stack.pop()
            stack.extend((s, step) for s in reversed(g.productions[p].rhs()))
        toks.extend(s for s, at in reversed(stack) if isinstance(s, str) and at not in steps)
        return "".join(toks)

    def decode(self, logits: np.ndarray, greedy: bool = True, temperature: float = 1.0,
               seed: int | None = 0) -> list[str | None]:
        """Canonical SMILES for each row of logits (batch, steps, n_productions)."""
        ids, drop = self.decode_ids(logits, greedy=greedy, temperature=temperature, seed=seed)
        smiles = self.to_smiles(ids, drop)
        self.last_stats = DecodeStats(molecules=len(smiles), dropped_rings=sum(len(d) for d in drop),
                                      invalid=sum(s is None for s in smiles))
        return smiles
