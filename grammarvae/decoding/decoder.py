"""`MaskedDecoder`: production logits to valid molecules, through `DecodeState`.

    >>> dec = MaskedDecoder(Grammar.load("zinc"))
    >>> dec.decode(logits)                                  # (batch, steps, P) -> canonical SMILES
    >>> dec.decode(logits, greedy=False, temperature=1.0, seed=0)
    >>> state = dec.start(n, steps)                         # to drive it step by step (state.py)
"""

from __future__ import annotations

import numpy as np
from rdkit import Chem

from grammarvae.decoding import rules
from grammarvae.decoding.chemistry import N_LABELS, Productions
from grammarvae.decoding.state import DecodeState
from grammarvae.decoding.tables import RuleTables, packed
from grammarvae.grammar import Grammar
from grammarvae.language import DecodeStats  # noqa: F401 (what `last_stats` holds; exported here too)

# The (symbol, production) attributes the rules and the state read, laid out per symbol (see `windows`).
CANDIDATE_FIELDS = ("bonds_on_owner", "bonds_added", "element", "charge", "labels_needed", "label", "bond_order",
                    "atom_with_ring_only", "pushes_chiral")


def closed_shell(mol) -> bool:
    """Give each atom with unpaired electrons as many hydrogens, in place (RDKit reads a
    bracket atom left short of its valence, `[CH]` with two bonds or `[NH2+]` with one, as a
    radical; an organic-subset atom gets its hydrogens implicitly, and so do these). Whether
    there were any. The price: a real radical (a nitroxide, nitric oxide: 0.05% of MoleculeNet,
    none in ZINC-250k) comes back with hydrogens."""
    radical = [a for a in mol.GetAtoms() if a.GetNumRadicalElectrons()]
    for atom in radical:
        atom.SetNumExplicitHs(atom.GetNumExplicitHs() + atom.GetNumRadicalElectrons())
        atom.SetNumRadicalElectrons(0)
    if radical:
        Chem.SanitizeMol(mol)
    return bool(radical)


RING_SIZES = 64  # ring sizes a preference names, 0..RING_SIZES-1 (the last: that many or more)


def ring_sizes(spec: str | None) -> np.ndarray | None:
    """A ring-size preference, "4,8+" (4-rings, and rings of 8 or more atoms), as a boolean
    table by size (index min(size, RING_SIZES - 1)); None for None or "none". ValueError names
    a bad size."""
    if spec is None or str(spec).strip() == "none":
        return None
    table = np.zeros(RING_SIZES, dtype=bool)
    for part in str(spec).split(","):
        part = part.strip()
        size = part[:-1] if part.endswith("+") else part
        if not size.isdigit() or not 3 <= int(size) < RING_SIZES:
            raise ValueError(f"ring size {part!r} in {spec!r}: a size of 3 to {RING_SIZES - 1} atoms, "
                             f"or one with '+' for that many or more (e.g. '4,8+')")
        if part.endswith("+"):
            table[int(size):] = True
        else:
            table[int(size)] = True
    return table


class MaskedDecoder:
    """Grammar-, budget- and chemistry-constrained decoding of a batch (see grammarvae.decoding).

    `avoid_rings` ("4,8+": 4-rings and rings of 8 or more atoms) makes closing a ring of those
    sizes a soft rule (`rules.closes_an_avoided_ring`): a ring closes there only when nothing
    else may be written. Off by default, as a real molecule may hold such rings."""

    ADVANCE_FIELDS = ("steps_needed", "atoms_pushed", "bonds_added", "element", "charge", "bond_order", "label")
    COMPACT = 64  # decode_ids drops finished rows once this many (or a quarter) have finished

    def __init__(self, grammar: Grammar, avoid_rings: str | None = None):
        g = self.g = grammar
        self.avoided_ring = ring_sizes(avoid_rings)  # by size: the state then tracks distances
        prods = self.prods = Productions(g)
        self.nothing = prods.symbol["Nothing"]
        # Per symbol (the grammar's nonterminals, then the roles of chemistry.ROLES): the
        # productions it may expand to, and the fewest steps that finish it.
        self.masks, self.min_steps = prods.masks, prods.min_steps
        # Pushed symbols of each production in push order (the leftmost pushed last, so
        # it ends on top). The padding production, which a finished derivation takes, pushes
        # back the `Nothing` it popped: a finished stack stays as it is.
        self.n_pushed = prods.n_pushed.copy()
        self.n_pushed[g.pad] = 1
        self.push_order = np.full((g.n_productions, int(self.n_pushed.max())), self.nothing, dtype=np.int64)
        for p, rhs in enumerate(prods.pushes):
            self.push_order[p, :len(rhs)] = rhs[::-1]
        self.is_bond = g.lhs == g.nt_index["bond"]  # productions that write a bond
        self.windows = self._windows()
        # The rules, tabulated for these windows (without a preference, avoided rings cannot close).
        self.tables = RuleTables(self.windows, without=(rules.closes_an_avoided_ring,) if self.avoided_ring is None else ())
        # A set of ring labels (bit L: label L) -> the candidates of a ring digit that write one.
        label = self.windows["label"][prods.digit]
        self.label_weights = 1 << np.arange(N_LABELS + 1)
        sets = np.arange(1 << (N_LABELS + 1))[:, None]
        self.digit_candidates = packed(((sets >> label) & 1).astype(bool) & (label > 0))
        # What `DecodeState.advance` reads of the production taken, one row per (symbol, place).
        self.advance_table = np.stack([self.windows[k].reshape(-1) for k in self.ADVANCE_FIELDS])

    def _windows(self) -> dict[str, np.ndarray]:
        """Per symbol, its candidates as a window of W adjacent productions (each
        nonterminal's productions are adjacent in the grammar): for `production`,
        `candidate` (a usable production of it), `first` (its first), `steps_needed`,
        `atoms_pushed` and each attribute of CANDIDATE_FIELDS, an (n_symbols, W) table whose
        rows a step gathers by top symbol."""
        g, prods, P = self.g, self.prods, self.g.n_productions
        candidate = prods.masks & prods.usable  # (n_symbols, P)
        has = candidate.any(1)
        first = np.where(has, candidate.argmax(1), 0)
        last = np.where(has, P - 1 - candidate[:, ::-1].argmax(1), 0)
        span = int((last - first).max()) + 1
        W = -(-span // 8) * 8  # whole 8-byte words of booleans: see rules.row_any
        if W > min(P, 64):  # a molecule's candidates are kept as the bits of one integer (tables.py)
            raise ValueError(f"grammar {g.name}: a nonterminal's productions span {span} of {P} (at most 64)")
        start = np.minimum(first, P - W)
        production = start[:, None] + np.arange(W)
        table = {"production": production, "candidate": np.take_along_axis(candidate, production, axis=1),
                 "first": production == first[:, None]}
        table["steps_needed"] = prods.steps_needed[production]
        table["atoms_pushed"] = prods.atoms_pushed[production]
        for name in CANDIDATE_FIELDS:
            table[name] = np.take_along_axis(getattr(prods, name), production, axis=1)
        self.window_start = start
        # Small integers (int16, as the molecules' quantities in `DecodeState.situation`):
        # comparisons run several times faster than on int64.
        return {k: np.ascontiguousarray(v if v.dtype == bool else v.astype(np.int16)) for k, v in table.items()}

    def start(self, n: int, steps: int) -> DecodeState:
        """The state of n molecules before their first production, over at most `steps`."""
        return DecodeState(self, n, steps)

    def decode_ids(self, logits: np.ndarray, greedy: bool = True, temperature: float = 1.0,
                   seed: int | None = 0) -> tuple[np.ndarray, list[list[int]]]:
        """Production ids (batch, steps) chosen under the masks from precomputed logits
        (batch, steps, n_productions), and per molecule the steps of ring digits still open
        at the end (to drop)."""
        logits = np.asarray(logits)
        B, T, P = logits.shape
        if P != self.g.n_productions:
            raise ValueError(f"logits have {P} productions, the grammar {self.g.n_productions}")
        state = self.start(B, T)
        rng = None if greedy else np.random.default_rng(seed)
        flat = logits.reshape(-1)
        while not state.all_finished:
            state.drop_finished(at_least=max(self.COMPACT, len(state) // 4))
            # Only the candidates' logits are read, by flat index.
            at = (state.batch_row * T + state.t) * P
            scores = flat.take(at[:, None] + state.candidate_productions())
            state.advance(state.choose_among(scores, greedy=greedy, temperature=temperature, rng=rng))
        return state.result()

    def replay(self, ids: np.ndarray) -> tuple[np.ndarray, list[str | None]]:
        """Feed derivations (n, steps), a parser's, through the decoder's rules: per molecule the
        first step whose production the rules do not allow (-1 where every step is allowed),
        and the canonical SMILES the derivation then writes (None where one was refused). The
        completeness check: every real molecule the decoder should be able to write.

            >>> refused, smiles = dec.replay(encode_smiles(["CN1CCC[C@H]1c1cccnc1"], 277, grammar).X)
            >>> refused, smiles
            (array([-1]), ['CN1CCC[C@H]1c1cccnc1'])
        """
        ids = np.asarray(ids)
        state = self.start(len(ids), ids.shape[1])
        refused = np.full(len(ids), -1, dtype=np.int64)
        while not state.all_finished:
            p = ids[state.batch_row, state.t]
            ok = state.allowed()[np.arange(len(state)), p]
            bad = state.batch_row[~ok & (refused[state.batch_row] < 0)]
            refused[bad] = state.t
            state.advance(np.where(ok, p, state.choose(np.zeros((len(state), self.g.n_productions)))))
        smiles = self.to_smiles(*state.result())
        return refused, [s if r < 0 else None for s, r in zip(smiles, refused)]

    def to_smiles(self, ids: np.ndarray, drop: list[list[int]]) -> list[str | None]:
        """Canonical SMILES of each derivation, the listed ring-digit steps removed, with no
        radicals (`closed_shell`); `last_stats` counts them."""
        out, filled = [], 0
        for row, steps in zip(np.asarray(ids), drop):
            mol = Chem.MolFromSmiles(self.g.unparse(row, skip_steps=set(steps)))
            if mol is not None:
                filled += closed_shell(mol)
            out.append(Chem.MolToSmiles(mol) if mol is not None else None)
        self.last_stats = DecodeStats(molecules=len(out), dropped_rings=sum(len(d) for d in drop),
                                      invalid=sum(s is None for s in out), radicals_filled=filled)
        return out

    def decode(self, logits: np.ndarray, greedy: bool = True, temperature: float = 1.0,
               seed: int | None = 0) -> list[str | None]:
        """Canonical SMILES for each row of logits (batch, steps, n_productions)."""
        return self.to_smiles(*self.decode_ids(logits, greedy=greedy, temperature=temperature, seed=seed))
