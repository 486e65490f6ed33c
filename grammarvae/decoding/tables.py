"""The rules of `rules.py`, tabulated: each rule evaluated once, when a decoder is made, for
every symbol and every situation it reads, and kept as one bit per candidate.

A step then reads a rule by index, (top symbol, the molecule's quantities), as one integer
per molecule, instead of computing it over (molecules, candidates) arrays: the rules stay
written once, as functions of arrays, and this module only evaluates them ahead of time.

    >>> tables = RuleTables(decoder.windows)
    >>> bits = tables.keep(top, quantities, row_bits)   # (n,) unsigned: bit w set = candidate w kept

What a rule reads is found by calling it on recording namespaces. Its situation quantities
take the ranges of `RANGES`; those that can fall outside (`CLIPPED`) are clipped to it, the
tables checked, when made, to read the same at the range's ends as far beyond them; `steps_left` runs to the smallest cap past
which no rule changes. Per (molecule, candidate) booleans (`ROW_BITS`: a ring label open or
closable on the current atom) come in as bits: a rule reading them is tabulated for each of
their values, and the tables combined by them bit by bit.
"""

from __future__ import annotations

import functools
import itertools
from types import SimpleNamespace

import numpy as np

from grammarvae.decoding import rules
from grammarvae.decoding.chemistry import ANY_VALENCE, ELEMENTS, N_LABELS, VALENCE_TABLE

# The values of each quantity of `DecodeState.situation`, [low, high] (None: found, see above).
RANGES = {
    "steps_left": (0, None), "bonds_used": (0, ANY_VALENCE + 1), "room": (-1, None),
    "element": (0, len(ELEMENTS) - 1), "charge": (0, VALENCE_TABLE.shape[1] - 1),
    "last_atom": (0, 1), "n_closable": (0, N_LABELS), "n_open": (0, N_LABELS), "n_free": (0, N_LABELS),
}
BOOLEAN = {"last_atom"}
# Those that may fall outside their range, and at which end (the rest cannot): steps left and
# bonds beyond any that matters, room below -1 (an atom whose state holds no bonds at all).
CLIPPED = {"steps_left": "high", "bonds_used": "high", "room": "low"}
ROW_BITS = ("label_open", "label_closable", "label_avoided")
FAR = 30_000  # where, past a range's ends, a table is checked to read the same (int16 holds it)
MAX_STEPS_LEFT = 1 << 12  # the most steps left a table holds
GROUP_LIMIT = 1 << 15  # the most entries per symbol of one table of several rules joined


class _Recorder(SimpleNamespace):
    """A namespace that records the names read from it."""

    def __getattribute__(self, name):
        if not name.startswith("__"):
            object.__getattribute__(self, "__dict__").setdefault("_read", []).append(name)
        return object.__getattribute__(self, name)


def reads(rule, windows) -> tuple[list[str], list[str]]:
    """(situation quantities, per-row candidate booleans) that `rule` reads."""
    c = _Recorder(**{k: v[:1] for k, v in windows.items()}, **{k: np.zeros(windows["label"][:1].shape, bool)
                                                              for k in ROW_BITS})
    m = _Recorder(**{k: np.zeros((1, 1), bool if k in BOOLEAN else np.int16) for k in RANGES})
    rule(c, m)
    got = lambda ns: list(dict.fromkeys(vars(ns).get("_read", [])))  # noqa: E731
    return got(m), [k for k in got(c) if k in ROW_BITS]


def packed(mask: np.ndarray) -> np.ndarray:
    """(..., W) bool -> (...) unsigned integers, bit w = mask[..., w]."""
    W = mask.shape[-1]
    dtype = np.dtype(f"uint{max(8, 1 << (W - 1).bit_length())}")
    return (mask.astype(dtype) << np.arange(W, dtype=dtype)).sum(-1, dtype=dtype)


class RuleTable:
    """A rule, or rules joined, over every symbol and situation read: `tables[row bit
    values]`, each (symbols, *sizes of `fields`) bits, read flat."""

    def __init__(self, name: str, fields: list[str], row_bits: list[str], tables: dict):
        self.name, self.fields, self.row_bits, self.tables = name, fields, row_bits, tables
        self.shape = next(iter(tables.values())).shape
        self.G = int(np.prod(self.shape[1:], dtype=np.int64))
        self.strides = {f: int(np.prod(self.shape[2 + i:], dtype=np.int64)) for i, f in enumerate(fields)}
        self.flat = {values: t.reshape(-1) for values, t in tables.items()}

    @classmethod
    def of(cls, rule, windows, ranges) -> "RuleTable":
        """`rule` evaluated at every symbol and situation it reads (within `ranges`)."""
        fields, row_bits = reads(rule, windows)
        axes = [np.arange(ranges[f][0], ranges[f][1] + 1) for f in fields]
        grid = {f: g.reshape(1, -1, 1) for f, g in zip(fields, np.meshgrid(*axes, indexing="ij"))}
        c = {k: v[:, None, :] for k, v in windows.items()}  # (symbols, 1, W)
        tables = {values: _evaluate(rule, c, grid, dict(zip(row_bits, values))).reshape((-1,) + tuple(map(len, axes)))
                  for values in itertools.product((False, True), repeat=len(row_bits))}
        table = cls(rule.__name__, fields, row_bits, tables)
        table.rule, table.c, table.grid = rule, c, grid
        return table

    @classmethod
    def joined(cls, parts: list["RuleTable"], join) -> "RuleTable":
        """One table of `parts` joined by `join` (`&` or `|` of their bits), over all they read."""
        fields = list(dict.fromkeys(f for t in parts for f in t.fields))
        row_bits = list(dict.fromkeys(b for t in parts for b in t.row_bits))
        size = {f: t.shape[1 + t.fields.index(f)] for t in parts for f in t.fields}
        tables = {}
        for values in itertools.product((False, True), repeat=len(row_bits)):
            given = dict(zip(row_bits, values))
            spread = []
            for t in parts:  # each part's table laid out over all the fields (its own, then broadcast)
                own = t.tables[tuple(given[b] for b in t.row_bits)]
                order = [t.fields.index(f) + 1 for f in fields if f in t.fields]
                shape = (own.shape[0],) + tuple(size[f] if f in t.fields else 1 for f in fields)
                spread.append(own.transpose([0] + order).reshape(shape))
            tables[values] = np.broadcast_to(functools.reduce(join, spread), (spread[0].shape[0],) + tuple(
                size[f] for f in fields)).copy()
        return cls(" and ".join(t.name for t in parts), fields, row_bits, tables)

    def clipped_exactly(self) -> str | None:
        """The first quantity whose table (of one rule) reads differently beyond its range."""
        candidate = packed(self.c["candidate"][:, 0, :])[:, None]  # the bits that can be kept
        for f in (f for f in self.fields if f in CLIPPED):
            end = self.grid[f].max() if CLIPPED[f] == "high" else self.grid[f].min()
            far = FAR if CLIPPED[f] == "high" else -FAR
            at = {g: v[:, self.grid[f][0, :, 0] == end] for g, v in self.grid.items()}  # the situations at the end
            past = {**at, f: np.full_like(at[f], far)}
            for values in self.tables:
                given = dict(zip(self.row_bits, values))
                if not np.array_equal(_evaluate(self.rule, self.c, at, given) & candidate,
                                      _evaluate(self.rule, self.c, past, given) & candidate):
                    return f
        return None

    def __call__(self, top, q, row_bits):
        """(n,) bits for molecules with top symbols `top`, quantities' indices `q`."""
        at = top * self.G
        for f, stride in self.strides.items():
            at = at + (q[f] if stride == 1 else q[f] * stride)
        if not self.row_bits:
            return self.flat[()].take(at)
        out = 0
        for values, table in self.flat.items():
            chosen = table.take(at)
            for name, value in zip(self.row_bits, values):
                chosen = chosen & (row_bits[name] if value else ~row_bits[name])
            out = out | chosen
        return out


def _evaluate(rule, c, m, row_bits) -> np.ndarray:
    """(symbols, G) bits of `rule` for candidates c at situations m (each a (1, G, 1) array),
    its row bits (those it reads) all True or all False."""
    zeros = np.zeros((1, 1, 1), dtype=bool)
    cast = {f: (v > 0) if f in BOOLEAN else v.astype(np.int16) for f, v in m.items()}
    out = rule(SimpleNamespace(**c, **{k: zeros | row_bits.get(k, False) for k in ROW_BITS}), SimpleNamespace(**cast))
    S, W = c["label"].shape[0], c["label"].shape[2]
    return packed(np.broadcast_to(out, (S, next(iter(m.values())).shape[1] if m else 1, W)))


def _groups(tables: list[RuleTable], limit: int = GROUP_LIMIT) -> list[list[RuleTable]]:
    """The tables in groups (in order, each in the first group it fits) whose joined table
    has at most `limit` entries per symbol: fewer tables to read a step."""
    def size(group):
        sizes = {f: t.shape[1 + t.fields.index(f)] for t in group for f in t.fields}
        return int(np.prod(list(sizes.values()), dtype=np.int64)) << len({b for t in group for b in t.row_bits})

    groups: list[list[RuleTable]] = []
    for t in tables:
        home = next((g for g in groups if size(g + [t]) <= limit), None)
        groups.append([t]) if home is None else home.append(t)
    return groups


class RuleTables:
    """Every rule of `rules.py` tabulated for a decoder's candidate windows, but those
    `without` (rules that cannot fire for this decoder: a step then reads fewer tables)."""

    def __init__(self, windows: dict[str, np.ndarray], without=()):
        W = windows["label"].shape[1]
        self.dtype = packed(np.zeros((1, W), bool)).dtype
        candidate = windows["candidate"]
        # Room: up to the most bonds a candidate commits (a hydrogen count beyond any valence).
        room = (RANGES["room"][0], int(max(ANY_VALENCE, windows["bonds_on_owner"][candidate].max())) + 1)
        ranges = {**RANGES, "steps_left": (0, int(windows["steps_needed"][candidate].max()) + 1), "room": room}
        hard = [RuleTable.of(r, windows, ranges) for r in rules.HARD_RULES if r not in without]
        tiers = [[RuleTable.of(r, windows, ranges) for r in tier if r not in without] for tier in rules.SOFT_TIERS]
        tiers = [tier for tier in tiers if tier]
        while True:  # steps left: doubled until every table reads the same beyond it
            inexact = [(t, f) for t in hard + sum(tiers, []) if (f := t.clipped_exactly())]
            if not inexact or inexact[0][1] != "steps_left" or 2 * ranges["steps_left"][1] > MAX_STEPS_LEFT:
                break
            ranges["steps_left"] = (0, 2 * ranges["steps_left"][1])
            again = lambda t: RuleTable.of(t.rule, windows, ranges) if "steps_left" in t.fields else t  # noqa: E731
            hard, tiers = [again(t) for t in hard], [[again(t) for t in tier] for tier in tiers]
        if inexact:
            (table, field), = inexact[:1]
            raise ValueError(f"rule {table.name} reads {field} beyond {ranges[field]}")
        join = lambda tables, op: [RuleTable.joined(g, op) if len(g) > 1 else g[0] for g in _groups(tables)]  # noqa: E731
        self.hard = join(hard, np.bitwise_and)
        self.tiers = [join(tier, np.bitwise_or) for tier in tiers]
        self.ranges = ranges
        self.fields = list(dict.fromkeys(f for t in self.hard + sum(self.tiers, []) for f in t.fields))
        self.first = packed(windows["first"])
        self.shifts = np.arange(W, dtype=self.dtype)

    def indices(self, quantities: SimpleNamespace) -> dict[str, np.ndarray]:
        """Each quantity the tables read, clipped to its range, from its low end: (n,) int64."""
        out = {}
        for f in self.fields:
            (low, high), v = self.ranges[f], getattr(quantities, f)
            if f in CLIPPED:
                v = np.minimum(v, high) if CLIPPED[f] == "high" else np.maximum(v, low)
            out[f] = v - low if low else v
        return out

    def keep(self, top: np.ndarray, quantities: SimpleNamespace, row_bits: dict[str, np.ndarray]) -> np.ndarray:
        """(n,) bits: the candidates kept, as `rules.keep` would give them; a molecule with
        none kept keeps its first candidate."""
        q = self.indices(quantities)
        kept = rules.combine([t(top, q, row_bits) for t in self.hard], [[t(top, q, row_bits) for t in tier]
                                                                       for tier in self.tiers],
                             nonempty=lambda x: x != 0)
        return np.where(kept != 0, kept, self.first.take(top))

    def unpacked(self, bits: np.ndarray) -> np.ndarray:
        """(n,) bits -> (n, W) bool."""
        return (bits[:, None] >> self.shifts) & 1 != 0
