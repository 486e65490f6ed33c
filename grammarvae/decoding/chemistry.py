"""What the masked decoder knows of chemistry, as data, and what each production does.

The decoder writes Kekule SMILES (RDKit perceives aromaticity on the output): organic-subset
atoms, and bracket atoms with an element of the grammar (H included), an isotope, a chiral
mark (`@`, `@@`), a hydrogen count and a charge; bonds `-` `=` `#` and the stereo bonds `/`
`\\`; single-digit ring labels, a ring bond marked only with a single bond (`-`, `/`, `\\`).

`Productions(grammar)` reads, from the grammar's own productions, what each one commits on
the atom being written (bonds and hydrogens, an element, a charge, a ring label), and how
much of the derivation it leaves to do. The grammar's `digit` serves four roles (a ring
label, a hydrogen count, a charge's size, an isotope) and its `bond` two (between atoms, on a
ring bond): the decoder tells them apart by the production that pushed them, as *roles*,
symbols of its own beyond the grammar's nonterminals (`ROLES`). So every attribute is a
table over (symbol, production), read by the rules (`rules.py`) and the state (`state.py`).

    >>> prods = Productions(Grammar.load("zinc"))
    >>> prods.bonds_added[prods.chain, prods.find("chain", "branched_atom", "chain")]   # the next atom's bond
    1
"""

from __future__ import annotations

import numpy as np

# Largest valence of each organic-subset element as the decoder writes it, neutral and with
# implicit hydrogens (RDKit fills the rest with hydrogens).
MAX_VALENCE = {"B": 3, "C": 4, "N": 3, "O": 2, "S": 6, "P": 5, "F": 1, "Cl": 1, "Br": 1, "I": 1}
# Largest valence (bonds + hydrogens) of a bracket atom, by element and charge: the states of
# the grammar's elements found in ZINC-250k and MoleculeNet, each one RDKit sanitises
# (tests/test_decoder_chemistry.py checks both against RDKit and the data). A bracket atom with
# fewer bonds and hydrogens than this is a radical, which RDKit also accepts (ZINC has none);
# the decoder's output gives it hydrogens instead (`decoder.closed_shell`).
# Left out: Cl+3 (perchlorate, twice in MoleculeNet, as a counter-ion): the only state whose
# valence exceeds that of its element's charges +1 and -1, which `+` or `-` alone write, so
# that a charged atom's shortest end always holds the most it can.
BRACKET_VALENCE = {
    ("H", 0): 1, ("H", 1): 0, ("H", -1): 0,
    ("B", 0): 3, ("B", -1): 4, ("B", 1): 2,
    ("C", 0): 4, ("C", -1): 3, ("C", 1): 3,
    ("N", 0): 3, ("N", 1): 4, ("N", -1): 2,
    ("O", 0): 2, ("O", 1): 3, ("O", -1): 1, ("O", -2): 0,
    ("F", 0): 1, ("F", 1): 2, ("F", -1): 0,
    ("P", 0): 5, ("P", 1): 4, ("P", -1): 6,
    ("S", 0): 6, ("S", 1): 5, ("S", -1): 5, ("S", 2): 4, ("S", -2): 0,
    ("Cl", 0): 1, ("Cl", 1): 2, ("Cl", -1): 0,
    ("Br", 0): 1, ("Br", 1): 2, ("Br", -1): 0,
    ("I", 0): 3, ("I", 1): 2, ("I", -1): 0,
}
# Elements whose atoms can be tetrahedral stereocentres: a chiral mark elsewhere is avoided
# (a soft rule; RDKit would drop it, and a mark never makes a molecule invalid).
STEREO_ELEMENTS = {"B", "C", "N", "P", "S"}
UNMARKABLE = {"H"}  # elements RDKit reads no chiral mark on (`[H@]` is a syntax error there)
ELEMENTS = ("",) + tuple(sorted({e for e, _ in BRACKET_VALENCE} | set(MAX_VALENCE)))  # "" = none chosen yet
# Bonds and hydrogens an atom may take before its element is chosen: the most any element
# allows in any state the decoder writes.
ANY_VALENCE = max(max(MAX_VALENCE.values()), max(BRACKET_VALENCE.values()))
BOND_ORDER = {"-": 1, "=": 2, "#": 3, "/": 1, "\\": 1}
RING_LABELS = tuple(range(1, 10))  # ring-bond labels the decoder writes: 1..9
N_LABELS = len(RING_LABELS)
CHARGES = tuple(range(-9, 10))  # what `+`/`-` and one digit can write
# Soft limits (preferences, see rules.py):
MAX_OPEN_RINGS = 8  # rings open at once (MOSES molecules open up to 5; ZINC-250k, in Kekule form, up to 8)
STEPS_TO_CLOSE_A_RING = 3  # ringbonds -> ringbond ringbonds, ringbond -> digit, digit -> label
# A bracket atom whose element needs a charge to hold its bonds needs one step more than the
# shortest end of its bracket (bracket_chiral -> bracket_hcount -> charge -> '+', not
# bracket_chiral -> chiral -> '@').
STEPS_FOR_A_CHARGE = 1

# The states an atom may still end in, as columns of VALENCE_TABLE: organic subset; a
# bracket atom whose charge may still come or not (any), that will take a hydrogen or a
# charge (what `bracket_hcount` writes), that will be charged (any charge but 0), whose sign
# is written (> 0, < 0), or whose charge is settled (a column per charge, CHARGES).
ORGANIC, ANY_CHARGE, HYDROGEN_OR_CHARGE, CHARGED, POSITIVE, NEGATIVE = range(6)
EXACT = 6  # column of charge CHARGES[0]; charge q is column EXACT + q - CHARGES[0]
UNCHANGED = -1  # a production that leaves the atom's charge states as they are


def charge_column(q: int) -> int:
    return EXACT + q - CHARGES[0]


def valence_table() -> np.ndarray:
    """(elements, charge-state columns): the largest valence an atom of that element can end
    with in those states; -1 where none is allowed. Row 0 (no element yet): ANY_VALENCE."""
    table = np.full((len(ELEMENTS), EXACT + len(CHARGES)), -1, dtype=np.int64)
    table[0] = ANY_VALENCE
    for i, e in enumerate(ELEMENTS[1:], start=1):
        table[i, ORGANIC] = MAX_VALENCE.get(e, -1)
        for q in CHARGES:
            table[i, charge_column(q)] = BRACKET_VALENCE.get((e, q), -1)
        exact, q = table[i, EXACT:], np.array(CHARGES)
        table[i, CHARGED] = exact[q != 0].max()
        table[i, HYDROGEN_OR_CHARGE] = max(exact[q == 0][0] - 1, table[i, CHARGED])  # the bonds it holds
        # `bracket_chiral` ends neutral only as a lone chiral mark, which some elements cannot take.
        table[i, ANY_CHARGE] = max(-1 if e in UNMARKABLE else exact[q == 0][0], table[i, HYDROGEN_OR_CHARGE])
        table[i, POSITIVE] = exact[q > 0].max()
        table[i, NEGATIVE] = exact[q < 0].max()
    return table


VALENCE_TABLE = valence_table()
_VALENCE_FLAT = VALENCE_TABLE.astype(np.int16).ravel()


def valence(element, charge):
    """VALENCE_TABLE[element, charge] for broadcastable integer arrays (int16 as the decoder's
    tables), read by flat index: several times faster than numpy's two-array indexing. A
    negative charge column (`UNCHANGED`) reads some other entry: rules mask those out."""
    return _VALENCE_FLAT.take(element * np.int16(VALENCE_TABLE.shape[1]) + charge)


IS_STEREO_ELEMENT = np.array([e in STEREO_ELEMENTS for e in ELEMENTS])
IS_UNMARKABLE = np.array([e in UNMARKABLE for e in ELEMENTS])

# Roles: a grammar symbol pushed at position j of production lhs -> rhs, for each (lhs, rhs, j)
# listed, plays the named role.
ROLES = {
    "digit@hydrogens": [("hcount", ("H", "digit"), 1)],
    "digit@charge+": [("charge", ("+", "digit"), 1)],
    "digit@charge-": [("charge", ("-", "digit"), 1)],
    "digit@isotope": [("isotope", ("digit",) * k, 0) for k in (1, 2, 3)],  # a mass's first digit
    "digit@isotope-next": [("isotope", ("digit",) * k, j) for k in (2, 3) for j in range(1, k)],
    "bond@ring": [("ringbond", ("bond", "digit"), 0)],
}

# The structural productions the decoder writes, (lhs, rhs): the single bonds each commits on
# its atom at the least (a ring bond or a branch to come, a second one for a list that goes
# on, the next atom's bond).
STRUCTURE = {
    ("smiles", ("chain",)): 0,
    ("chain", ("branched_atom",)): 0, ("chain", ("branched_atom", "chain")): 1,
    ("chain", ("branched_atom", "bond", "chain")): 1,
    ("branched_atom", ("atom",)): 0, ("branched_atom", ("atom", "ringbonds")): 1,
    ("branched_atom", ("atom", "branches")): 1, ("branched_atom", ("atom", "ringbonds", "branches")): 2,
    ("ringbonds", ("ringbond",)): 0, ("ringbonds", ("ringbond", "ringbonds")): 1,
    ("ringbond", ("digit",)): 0, ("ringbond", ("bond", "digit")): 0,
    ("branches", ("branch",)): 0, ("branches", ("branch", "branches")): 1,
    ("branch", ("(", "chain", ")")): 0, ("branch", ("(", "bond", "chain", ")")): 0,
    ("atom", ("aliphatic_organic",)): 0, ("atom", ("bracket_atom",)): 0,
    ("bracket_atom", ("[", "bracket_inner", "]")): 0,
    **{("bracket_inner", rhs): 0 for rhs in [("isotope", "symbol", "bracket_chiral"), ("symbol", "bracket_chiral"),
                                             ("isotope", "symbol"), ("symbol",)]},
    **{("bracket_chiral", rhs): 0 for rhs in [("chiral", "bracket_hcount"), ("bracket_hcount",), ("chiral",)]},
    **{("bracket_hcount", rhs): 0 for rhs in [("hcount", "charge"), ("hcount",), ("charge",)]},
    ("symbol", ("aliphatic_organic",)): 0,
    **{("isotope", ("digit",) * k): 0 for k in (1, 2, 3)},
    ("hcount", ("H",)): 0, ("hcount", ("H", "digit")): 0,
}


class Productions:
    """Per (symbol, production) attributes, read from the productions' text. Symbols are the
    grammar's nonterminals then the roles (`ROLES`); only `usable` productions are ever
    chosen: the grammar's Kekule, single-digit-ring part, plus the padding production."""

    def __init__(self, grammar):
        g = self.g = grammar
        P = g.n_productions
        self.symbols = list(g.nonterminals) + list(ROLES)
        self.symbol = {name: i for i, name in enumerate(self.symbols)}
        S = len(self.symbols)
        # The grammar nonterminal behind each symbol, and what it may expand to.
        self.base = np.array([g.nt_index[n.split("@")[0]] for n in self.symbols])
        self.masks = g.masks[self.base].astype(bool)
        self.lhs = np.asarray(g.lhs)
        # Symbols each production pushes, left to right, a role where it plays one.
        self.pushes = [tuple(self._role(p, j, s) for j, s in enumerate(r)) for p, r in enumerate(g.rhs_nonterminals)]
        self.n_pushed = np.array([len(r) for r in self.pushes], dtype=np.int64)
        self.chain, self.digit = self.symbol["chain"], self.symbol["digit"]
        # Symbols that will produce an atom (a chain, a branch, a list of branches).
        self.produces_atom = np.isin(self.base, [g.nt_index[n] for n in ("chain", "branch", "branches")])
        self.atoms_pushed = np.array([sum(self.produces_atom[list(r)]) for r in self.pushes], dtype=np.int64)

        zeros = lambda dtype=np.int64: np.zeros((S, P), dtype=dtype)  # noqa: E731
        self.usable = zeros(bool)
        self.links = zeros()  # single bonds committed on the atom: a ring bond or branch to come, the next atom's
        self.hydrogens = zeros()  # hydrogens committed on a bracket atom
        self.labels_needed = zeros()  # ring labels the atom is committed to writing
        self.atom_with_ring_only = zeros(bool)
        self.bond_order = zeros()  # a bond between atoms: 1, 2, 3
        self.element = zeros()  # an element: its index in ELEMENTS
        self.charge = np.full((S, P), UNCHANGED, dtype=np.int64)  # the charge states it leaves the atom in
        self.label = zeros()  # a ring label
        self.pushes_chiral = zeros(bool)
        for s, name in enumerate(self.symbols):
            for p in np.flatnonzero(self.masks[s]):
                self.usable[s, p] = self._read(s, name, int(p))
        self.usable[:, g.pad] = True
        self._min_steps()
        # Bonds and hydrogens a production adds to its atom: its links and hydrogens, and a
        # bond's order beyond the single bond its links already counted.
        self.bonds_added = self.links + self.hydrogens + np.maximum(self.bond_order - 1, 0)
        # The same, counted against the atom that owns the top symbol. A chain production's
        # bond goes on the atom it creates, which has no element yet and room for it.
        self.bonds_on_owner = np.where(self.lhs[None, :] == g.nt_index["chain"], 0, self.bonds_added)

    def _min_steps(self) -> None:
        """`min_steps` per symbol and `steps_needed` per production (p included): the fewest
        steps that finish them, through the productions the decoder writes whatever the atom's
        bonds (so not `symbol -> 'H'`, whose valence of 1 may not hold them; when it does, it
        finishes sooner)."""
        P, S = self.g.n_productions, len(self.symbols)
        always = self.usable & self.masks
        always[self.symbol["symbol"], self.find("symbol", "H")] = False
        best = np.full(S, 10 ** 6, dtype=np.int64)
        changed = True
        while changed:
            steps = np.array([1 + sum(int(best[k]) for k in self.pushes[p]) for p in range(P)])
            new = np.where(always, steps[None, :], 10 ** 6).min(axis=1)
            changed = bool((new < best).any())
            best = np.minimum(best, new)
        self.min_steps, self.steps_needed = best, steps

    def _role(self, p: int, j: int, symbol: int) -> int:
        """The symbol pushed as the j-th nonterminal of production p: a role where one is named."""
        lhs, rhs = self.g.productions[p].lhs().symbol(), tuple(self.rhs_names(p))
        at = [i for i, s in enumerate(rhs) if s in self.g.nt_index][j]  # its position in the rhs
        for role, where in ROLES.items():
            if (lhs, rhs, at) in where:
                return self.symbol[role]
        return self.symbol[self.g.nonterminals[symbol]]

    def _read(self, s: int, name: str, p: int) -> bool:
        """Record what production p does under symbol s; whether the decoder writes it."""
        rhs = tuple(self.rhs_names(p))
        first = rhs[0] if rhs else ""
        if (name, rhs) in STRUCTURE:
            self.links[s, p] = STRUCTURE[name, rhs]
            self.labels_needed[s, p] = {("branched_atom", True): 1, ("ringbonds", True): 2}.get(
                (name, "ringbonds" in rhs), 0)  # for a list: this label and the next
            self.atom_with_ring_only[s, p] = (name, rhs) == ("branched_atom", ("atom", "ringbonds"))
            self.pushes_chiral[s, p] = "chiral" in rhs
            if (name, rhs) == ("atom", ("aliphatic_organic",)):
                self.charge[s, p] = ORGANIC
            elif name in ("bracket_inner", "bracket_chiral", "bracket_hcount"):
                # After it a charge will be written; a hydrogen or a charge; may be; or will not.
                self.charge[s, p] = (CHARGED if "charge" in rhs else HYDROGEN_OR_CHARGE if "bracket_hcount" in rhs
                                     else ANY_CHARGE if "bracket_chiral" in rhs else charge_column(0))
            if name == "bracket_hcount" and "hcount" in rhs:
                self.hydrogens[s, p] = 1  # `hcount` writes at least one
            return True
        if name == "symbol" and rhs == ("H",):
            self.element[s, p] = ELEMENTS.index("H")
        elif name == "aliphatic_organic":
            self.element[s, p] = ELEMENTS.index(first)
        elif name == "charge":
            sign = 1 if first == "+" else -1
            self.charge[s, p] = charge_column(sign) if len(rhs) == 1 else (POSITIVE if sign > 0 else NEGATIVE)
        elif name in ("bond", "bond@ring"):
            if name == "bond@ring" and BOND_ORDER[first] != 1:
                return False  # a ring bond of order 2 or 3 would need its order written on both ends
            self.bond_order[s, p] = BOND_ORDER[first] if name == "bond" else 0  # a ring bond: single
        elif name == "digit":
            self.label[s, p] = int(first)
            return int(first) in RING_LABELS
        elif name == "digit@hydrogens":
            self.hydrogens[s, p] = int(first) - 1  # `hcount -> 'H' digit` committed one
            return int(first) >= 1
        elif name.startswith("digit@charge"):
            self.charge[s, p] = charge_column(int(first) if name.endswith("+") else -int(first))
            return int(first) >= 1
        elif name == "digit@isotope":
            return int(first) >= 1  # RDKit reads no mass that begins with 0
        elif name not in ("chiral", "digit@isotope-next", "Nothing"):
            return False  # aromatic atoms, '%' ring labels: not written (Kekule, labels 1..9)
        return True

    def rhs_names(self, p: int) -> list[str]:
        return [s.symbol() if hasattr(s, "symbol") else s for s in self.g.productions[p].rhs()]

    def find(self, lhs: str, *rhs: str) -> int:
        """The index of production `lhs -> rhs`; ValueError if the grammar has none."""
        for p, prod in enumerate(self.g.productions):
            if prod.lhs().symbol() == lhs and self.rhs_names(p) == list(rhs):
                return p
        raise ValueError(f"grammar {self.g.name} has no production {lhs} -> {' '.join(rhs)}")
