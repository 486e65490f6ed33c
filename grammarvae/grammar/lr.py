"""A small LR(1) parser generator and driver, derived from any context-free grammar.

It knows nothing of SMILES. `LRTables.build` turns a list of productions into
LALR(1) action and goto tables (canonical LR(1) states merged by core), and
`LRTables.parse` runs them over a list of terminal ids and returns the reductions
in the order made: the rightmost derivation, reversed. (Parse the reversed tokens
with every right-hand side reversed, and the reductions read backwards are the
original grammar's leftmost derivation: that is how `Grammar.parse` uses it.)

Grammars that are not LR(1), such as a SMILES grammar in which a bond after an
atom may open a ring bond (``C=1``) or link the next atom (``C=C``), leave
conflicts in the table. The driver resolves each conflict by trying every
candidate action on a copy of the stack for a few more tokens and keeping the
one that survives: bounded extra lookahead, exact for grammars that are
unambiguous within that horizon. Two survivors raise `AmbiguityError`.

Example:
    >>> prods = [("S", ("S", "+", "x")), ("S", ("x",))]
    >>> t = LRTables.build(prods, start="S", terminals={"+", "x"})
    >>> t.parse([t.terminal_ids[c] for c in "x+x"])
    [1, 0]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Sequence

Symbol = Hashable
ACCEPT = "accept"
END = "$end"


class ParseFailure(Exception):
    """Raised by `LRTables.parse`: token `position` is unexpected; `expected` lists what fits."""

    def __init__(self, position: int, expected: list[Symbol]):
        super().__init__(position, expected)
        self.position = position
        self.expected = expected


class AmbiguityError(Exception):
    """Two actions of a conflict both survive the lookahead horizon."""


@dataclass
class LRTables:
    """Action and goto tables; actions are ints (shift: state >= 0, reduce p: -p - 1)."""

    action: list[dict[int, object]]
    goto: list[dict[int, int]]
    lhs: list[int]  # nonterminal id of each production
    rhs_len: list[int]
    terminal_ids: dict[Symbol, int]
    end_id: int
    n_conflicts: int
    horizon: int = 3

    # ------------------------------------------------------------------ build
    @classmethod
    def build(
        cls, productions: Sequence[tuple[Symbol, tuple[Symbol, ...]]], start: Symbol,
        terminals: set[Symbol],
    ) -> "LRTables":
        """Build LALR(1) tables. Productions are ``(lhs, rhs)``; no empty right-hand sides."""
        nts = sorted({lhs for lhs, _ in productions} | {start}, key=repr)
        nt_id = {a: i for i, a in enumerate(nts)}
        t_list = sorted(terminals, key=repr) + [END]
        t_id = {a: i for i, a in enumerate(t_list)}
        end = t_id[END]
        # Symbols as ints: terminals 0..T-1, nonterminals T.. ; production P is S' -> start.
        T = len(t_list)
        prods = [(T + nt_id[l], tuple(T + nt_id[s] if s in nt_id else t_id[s] for s in r))
                 for l, r in productions]
        for l, r in prods:
            if not r:
                raise ValueError("empty productions are not supported")
        aug = len(prods)
        prods.append((-1, (T + nt_id[start],)))
        by_lhs: dict[int, list[int]] = {}
        for i, (l, _) in enumerate(prods):
            by_lhs.setdefault(l, []).append(i)

        first: dict[int, set[int]] = {T + i: set() for i in range(len(nts))}
        changed = True
        while changed:
            changed = False
            for l, r in prods[:aug]:
                s = r[0]
                add = {s} if s < T else first[s]
                if not add <= first[l]:
                    first[l] |= add
                    changed = True

        def closure(kernel):
            items = set(kernel)
            todo = list(kernel)
            while todo:
                p, dot, la = todo.pop()
                r = prods[p][1]
                if dot < len(r) and r[dot] >= T:
                    nxt = r[dot + 1] if dot + 1 < len(r) else None
                    las = {la} if nxt is None else ({nxt} if nxt < T else first[nxt])
                    for q in by_lhs[r[dot]]:
                        for b in las:
                            it = (q, 0, b)
                            if it not in items:
                                items.add(it)
                                todo.append(it)
            return frozenset(items)

        states = [closure({(aug, 0, end)})]
        index = {states[0]: 0}
        trans: list[dict[int, int]] = []
        i = 0
        while i < len(states):
            moves: dict[int, set] = {}
            for p, dot, la in states[i]:
                r = prods[p][1]
                if dot < len(r):
                    moves.setdefault(r[dot], set()).add((p, dot + 1, la))
            row = {}
            for sym, kernel in moves.items():
                st = closure(kernel)
                if st not in index:
                    index[st] = len(states)
                    states.append(st)
                row[sym] = index[st]
            trans.append(row)
            i += 1

        # LALR: merge states that share a core (items without lookaheads).
        core_of = [frozenset((p, d) for p, d, _ in st) for st in states]
        merged: dict[frozenset, int] = {}
        new_id = []
        for c in core_of:
            new_id.append(merged.setdefault(c, len(merged)))
        n = len(merged)
        action: list[dict[int, object]] = [dict() for _ in range(n)]
        goto: list[dict[int, int]] = [dict() for _ in range(n)]
        n_conflicts = 0

        def add(s, a, act):
            nonlocal n_conflicts
            old = action[s].get(a)
            if old is None or old == act:
                action[s][a] = act
                return
            olds = old if isinstance(old, tuple) else (old,)
            if act not in olds:
                if len(olds) == 1:
                    n_conflicts += 1
                action[s][a] = olds + (act,)

        for i, st in enumerate(states):
            s = new_id[i]
            for sym, j in trans[i].items():
                if sym < T:
                    add(s, sym, new_id[j])
                else:
                    goto[s][sym - T] = new_id[j]
            for p, dot, la in st:
                if dot == len(prods[p][1]):
                    add(s, la, ACCEPT if p == aug else -p - 1)
        return cls(action=action, goto=goto, lhs=[l - T for l, _ in prods[:aug]],
                   rhs_len=[len(r) for _, r in prods[:aug]], terminal_ids=t_id, end_id=end,
                   n_conflicts=n_conflicts)

    # ------------------------------------------------------------------ parse
    def parse(self, tokens: Sequence[int]) -> list[int]:
        """Reductions, in the order made, of `tokens` (terminal ids, no end marker).

        That is the rightmost derivation reversed. Raises `ParseFailure` naming the first
        token that cannot be consumed.
        """
        toks = list(tokens) + [self.end_id]
        stack = [0]
        out: list[int] = []
        self.advance(stack, toks, 0, len(toks), out)
        return out

    def advance(self, stack: list[int], toks: list[int], i: int, j: int, out: list[int]) -> tuple[int, bool]:
        """Consume tokens i..j-1 (each: the reductions it triggers, then its shift).

        Mutates `stack` and appends reductions to `out`. Returns the lowest stack height
        reached and whether a conflict was resolved by looking at tokens from j on; a
        caller may memoise the step on (the stack above that height, the tokens) when not.
        """
        action, goto, lhs, rhs_len = self.action, self.goto, self.lhs, self.rhs_len
        low = len(stack)
        looked_past = False
        while i < j:
            act = action[stack[-1]].get(toks[i])
            if act is None:
                raise ParseFailure(i, self._expected(stack[-1]))
            if type(act) is tuple:
                act, trial_low = self._resolve(stack, toks, i, act)
                looked_past |= i + self.horizon > j
                low = min(low, trial_low)
            if act is ACCEPT:
                return min(low, len(stack)), looked_past
            if act >= 0:
                stack.append(act)
                i += 1
            else:
                p = -act - 1
                del stack[-rhs_len[p]:]
                low = min(low, len(stack))
                out.append(p)
                stack.append(goto[stack[-1]][lhs[p]])
        return low, looked_past

    def _expected(self, state: int) -> list[Symbol]:
        names = {i: s for s, i in self.terminal_ids.items()}
        return [names[a] for a in sorted(self.action[state])]

    def _resolve(self, states: list[int], toks: list[int], i: int, candidates: tuple) -> tuple[object, int]:
        """The one candidate action that survives `horizon` tokens, and the lowest stack
        height the trials reached (they read the stack that deep)."""
        trials = [(a, self._survives(states, toks, i, a, self.horizon)) for a in candidates]
        alive = [a for a, (ok, _) in trials if ok]
        low = min(h for _, (_, h) in trials)
        if len(alive) > 1:
            raise AmbiguityError(f"actions {alive} all fit {self.horizon} tokens at position {i}")
        return (alive[0] if alive else candidates[0]), low

    def _survives(self, states: list[int], toks: list[int], i: int, act, horizon: int) -> tuple[bool, int]:
        st = list(states)
        low = len(st)
        shifted = 0
        while True:
            if type(act) is tuple:
                subs = [self._survives(st, toks, i, a, horizon - shifted) for a in act]
                return any(ok for ok, _ in subs), min([low] + [h for _, h in subs])
            if act is ACCEPT:
                return True, low
            if act >= 0:
                st.append(act)
                i += 1
                shifted += 1
                if shifted >= horizon or i >= len(toks):
                    return True, low
            else:
                p = -act - 1
                del st[-self.rhs_len[p]:]
                low = min(low, len(st))
                st.append(self.goto[st[-1]][self.lhs[p]])
            act = self.action[st[-1]].get(toks[i])
            if act is None:
                return False, low
