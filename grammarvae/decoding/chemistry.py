"""What the masked decoder knows of chemistry, as data, and what each production does.

The decoder writes Kekule SMILES of neutral organic-subset atoms (RDKit perceives
aromaticity on the output): no aromatic or bracket atoms, no stereo marks, single-digit
ring labels. `Productions(grammar)` reads, from the grammar's own productions, what each
one commits on the atom being written (bonds, an element, a ring label), and how much of
the derivation it leaves to do: per-production numpy arrays that the rules (`rules.py`)
and the state (`state.py`) read.

    >>> prods = Productions(Grammar.load("zinc"))
    >>> prods.bonds_added[prods.find("branched_atom", "atom", "branches")]   # a branch: 1 bond
    1
"""

from __future__ import annotations

import numpy as np

# Largest valence of each organic-subset element as RDKit accepts it when neutral.
MAX_VALENCE = {"B": 3, "C": 4, "N": 3, "O": 2, "S": 6, "P": 5, "F": 1, "Cl": 1, "Br": 1, "I": 1}
# Bonds an atom may take before its element is chosen: the most any element allows.
ANY_VALENCE = max(MAX_VALENCE.values())
BOND_ORDER = {"-": 1, "=": 2, "#": 3}
RING_LABELS = tuple(range(1, 10))  # ring-bond labels the decoder writes: 1..9
N_LABELS = len(RING_LABELS)
# Soft limits (preferences, see rules.py):
MAX_OPEN_RINGS = 6  # rings open at once (MOSES molecules open up to 5)
NO_CUMULATED = {"C", "N", "O"}  # at most one double or triple bond on these (no allenes, ketenes)
STEPS_TO_CLOSE_A_RING = 3  # ringbonds -> ringbond ringbonds, ringbond -> digit, digit -> label


class Productions:
    """Per-production attributes (arrays over the grammar's productions), read from the
    productions' text. Only `usable` productions are ever chosen: the grammar's Kekule,
    organic-subset, single-digit-ring part, plus the padding production."""

    def __init__(self, grammar):
        g = self.g = grammar
        P = g.n_productions
        self.lhs = np.asarray(g.lhs)
        self.steps_needed = g.production_min_steps.astype(np.int64)  # fewest steps to finish, p included
        self.pushes = [tuple(r) for r in g.rhs_nonterminals]  # nonterminals pushed, left to right
        self.n_pushed = np.array([len(r) for r in self.pushes], dtype=np.int64)

        find = self.find
        chain_end = find("chain", "branched_atom")
        chain_next = [find("chain", "branched_atom", "chain"), find("chain", "branched_atom", "bond", "chain")]
        atom_plain, atom_ring, atom_branch, atom_both = (
            find("branched_atom", *rhs) for rhs in (("atom",), ("atom", "ringbonds"), ("atom", "branches"),
                                                   ("atom", "ringbonds", "branches")))
        one_ring_bond, more_ring_bonds = find("ringbonds", "ringbond"), find("ringbonds", "ringbond", "ringbonds")
        one_branch, more_branches = find("branches", "branch"), find("branches", "branch", "branches")
        structure = [find("smiles", "chain"), chain_end, *chain_next, atom_plain, atom_ring, atom_branch,
                     atom_both, one_ring_bond, more_ring_bonds, find("ringbond", "digit"), one_branch,
                     more_branches, find("branch", "(", "chain", ")"), find("branch", "(", "bond", "chain", ")"),
                     find("atom", "aliphatic_organic"), g.pad]

        # Single bonds each production commits on the atom it belongs to, at the least: a ring
        # bond or a branch to come, a second one (a list that goes on), the next atom's bond.
        self.links = np.zeros(P, dtype=np.int64)
        self.links[[atom_ring, atom_branch, more_ring_bonds, more_branches, *chain_next]] = 1
        self.links[atom_both] = 2
        # Ring labels it commits the atom to writing (this one and, for a list, the next).
        self.labels_needed = np.zeros(P, dtype=np.int64)
        self.labels_needed[[atom_ring, atom_both]] = 1
        self.labels_needed[more_ring_bonds] = 2
        # A role a soft rule names.
        self.atom_with_ring_only = np.arange(P) == atom_ring

        self.bond_order = np.zeros(P, dtype=np.int64)  # bonds: 1, 2, 3
        self.element_valence = np.zeros(P, dtype=np.int64)  # elements: their largest valence
        self.single_only = np.zeros(P, dtype=bool)  # elements of NO_CUMULATED
        self.label = np.zeros(P, dtype=np.int64)  # ring-label digits: the label
        self.usable = np.isin(np.arange(P), structure)
        for p, prod in enumerate(g.productions):
            lhs, rhs = prod.lhs().symbol(), self.rhs_names(p)
            if lhs == "bond" and rhs[0] in BOND_ORDER:
                self.bond_order[p] = BOND_ORDER[rhs[0]]
            elif lhs == "aliphatic_organic" and rhs[0] in MAX_VALENCE:
                self.element_valence[p] = MAX_VALENCE[rhs[0]]
                self.single_only[p] = rhs[0] in NO_CUMULATED
            elif lhs == "digit" and rhs[0] in "".join(map(str, RING_LABELS)):
                self.label[p] = int(rhs[0])
            else:
                continue
            self.usable[p] = True
        self.is_multiple_bond = self.bond_order >= 2
        # Bonds a production adds to its atom: its links, and a bond's order beyond the single
        # bond its links already counted.
        self.bonds_added = self.links + np.maximum(self.bond_order - 1, 0)
        # The same, counted against the atom that owns the top symbol. A chain production's
        # bond goes on the atom it creates, which has no element yet and room for it.
        self.bonds_on_owner = np.where(self.lhs == g.nt_index["chain"], 0, self.bonds_added)
        self.digit = g.nt_index["digit"]
        self.chain = g.nt_index["chain"]
        # Symbols that will produce an atom (a chain, a branch, a list of branches).
        producers = [g.nt_index[n] for n in ("chain", "branch", "branches")]
        self.produces_atom = np.isin(np.arange(len(g.nonterminals)), producers)
        self.atoms_pushed = np.array([sum(self.produces_atom[list(r)]) for r in self.pushes], dtype=np.int64)

    def rhs_names(self, p: int) -> list[str]:
        return [s.symbol() if hasattr(s, "symbol") else s for s in self.g.productions[p].rhs()]

    def find(self, lhs: str, *rhs: str) -> int:
        """The index of production `lhs -> rhs`; ValueError if the grammar has none."""
        for p, prod in enumerate(self.g.productions):
            if prod.lhs().symbol() == lhs and self.rhs_names(p) == list(rhs):
                return p
        raise ValueError(f"grammar {self.g.name} has no production {lhs} -> {' '.join(rhs)}")
