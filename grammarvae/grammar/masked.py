"""Grammar-only masked decoding: the paper's masks, for any grammar, with a step budget.

    >>> dec = GrammarDecoder(Grammar.load("equations"))
    >>> ids, _ = dec.decode_ids(logits)               # (n, steps, P) -> (n, steps) derivations
    >>> dec.to_text(ids)                              # the strings they derive
    >>> state = dec.start(n, steps); state.advance(state.choose(step_logits))   # stepwise

At each step a row takes a production of the nonterminal on top of its stack (the Grammar VAE
paper's mask) whose fewest steps to finish, with the rest of the stack, fit in the steps left,
so that every derivation ends within `steps` and derives a string of the grammar, for any
logits. No chemistry, no RDKit, no TensorFlow: the molecule decoder (`grammarvae.decoding`)
adds its chemistry on top of the same two rules. `GrammarState` steps like `DecodeState`
(`choose`, `advance`, `allowed`, `select`, `drop_finished`, `result`), so the autoregressive
drivers decode with either.
"""

from __future__ import annotations

import numpy as np

from grammarvae.grammar.cfg import Grammar


class DerivationRows:
    """Row bookkeeping shared by the grammar-only state below and the molecule decoder's
    `DecodeState`: n derivations over at most `steps` productions, each on a stack whose
    bottom `Nothing` is all that a finished row holds (`depth` 1). `ROW_FIELDS` are the
    per-row arrays that `select` and `drop_finished` carry; `_store(r)` keeps the results of
    rows r, `_copied()` gives a selected copy buffers of its own, `_moved()` forgets what was
    computed for the old rows."""

    ROW_FIELDS: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.batch_row)

    @property
    def finished(self) -> np.ndarray:
        """Per row: the derivation has ended (only `Nothing` is left on the stack)."""
        return self.depth == 1

    @property
    def all_finished(self) -> bool:
        return bool(self.finished.all()) or self.t >= self.steps

    def select(self, index):
        """A new state of rows `index` of this one, reordered or repeated (a copy)."""
        index = np.asarray(index, dtype=np.int64)
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        for name in self.ROW_FIELDS:
            setattr(new, name, getattr(self, name)[index])
        new._copied()
        new._moved()
        return new

    def copy(self):
        return self.select(np.arange(len(self)))

    def drop_finished(self, at_least: int = 1):
        """Once at least `at_least` rows have finished, keep their results and remove them.
        Returns the positions kept (for a driver to follow), or None if nothing was removed."""
        done = self.finished
        if int(np.count_nonzero(done)) < max(1, at_least):
            return None
        self._store(np.flatnonzero(done))
        kept = np.flatnonzero(~done)
        for name in self.ROW_FIELDS:
            setattr(self, name, getattr(self, name)[kept])
        self._moved()
        return kept

    def _store(self, r) -> None:
        raise NotImplementedError

    def _copied(self) -> None:
        """Called on a `select`ed copy: give it its own result buffers."""

    def _moved(self) -> None:
        """Called when rows were selected or dropped."""


class GrammarDecoder:
    """The tables a `GrammarState` reads, derived from the grammar once."""

    def __init__(self, grammar: Grammar):
        g = self.g = grammar
        self.masks = g.masks  # (n_nonterminals, P): the productions of each nonterminal
        self.nothing = g.lhs[g.pad]  # a finished stack holds only this
        self.min_steps = g.min_steps.astype(np.int64)
        self.production_min_steps = g.production_min_steps.astype(np.int64)
        pushes = [kids[::-1] for kids in g.rhs_nonterminals]  # the leftmost pushed last, on top
        pushes[g.pad] = (self.nothing,)  # the padding production puts back the `Nothing` it pops
        width = max(1, max(len(p) for p in pushes))
        self.n_pushed = np.array([len(p) for p in pushes], dtype=np.int64)
        self.push_order = np.zeros((g.n_productions, width), dtype=np.int64)
        for p, kids in enumerate(pushes):
            self.push_order[p, :len(kids)] = kids

    def start(self, n: int, steps: int) -> "GrammarState":
        return GrammarState(self, n, steps)

    def decode_ids(self, logits: np.ndarray, greedy: bool = True, temperature: float = 1.0,
                   seed: int | None = 0) -> tuple[np.ndarray, list[list[int]]]:
        """(n, steps) derivations from one-shot logits (n, steps, P), greedy or sampled, and
        the steps to drop of each (none: `GrammarState.result`), as `MaskedDecoder` gives them."""
        logits = np.asarray(logits)
        state = self.start(len(logits), logits.shape[1])
        rng = None if greedy else np.random.default_rng(seed)
        while not state.all_finished:
            state.advance(state.choose(logits[state.batch_row, state.t], greedy, temperature, rng))
        return state.result()

    def to_text(self, ids: np.ndarray, dropped=None) -> list[str]:
        """The string each derivation derives (`dropped`, as `decode_ids` gives it, is empty)."""
        return [self.g.unparse(row) for row in np.asarray(ids)]


class GrammarState(DerivationRows):
    """Masked-decoding state of n derivations over at most `steps` productions each."""

    ROW_FIELDS = ("batch_row", "stack", "depth", "need", "chosen")

    def __init__(self, decoder: GrammarDecoder, n: int, steps: int):
        self.decoder, g = decoder, decoder.g
        start = g.nt_index[g.start.symbol()]
        if steps < decoder.min_steps[start]:
            raise ValueError(f"decoding over {steps} steps; the shortest derivation of grammar {g.name} "
                             f"takes {decoder.min_steps[start]}")
        self.steps, self.t, self.n = int(steps), 0, int(n)
        self.batch_row = np.arange(n)
        self.stack = np.zeros((n, steps + 2 + decoder.push_order.shape[1]), dtype=np.int64)
        self.stack[:, 0], self.stack[:, 1] = decoder.nothing, start
        self.depth = np.full(n, 2, dtype=np.int64)
        self.need = np.full(n, decoder.min_steps[start], dtype=np.int64)  # fewest steps that empty the stack
        self.chosen = np.full((n, steps), g.pad, dtype=np.int64)
        self.result_ids = np.full((n, steps), g.pad, dtype=np.int64)
        self._allowed = None  # this step's `allowed()`, once computed

    def top(self) -> np.ndarray:
        return self.stack[np.arange(len(self)), self.depth - 1]

    def allowed(self) -> np.ndarray:
        """(len(self), P) bool: productions of the top nonterminal that leave the stack
        finishable in the steps left (for a finished row, only the padding production)."""
        if self._allowed is None:
            d, top = self.decoder, self.top()
            after = self.need[:, None] - d.min_steps[top][:, None] + d.production_min_steps[None, :] - 1
            self._allowed = d.masks[top] & (self.finished[:, None] | (after <= self.steps - self.t - 1))
        return self._allowed

    def choose(self, logits: np.ndarray, greedy: bool = True, temperature: float = 1.0,
               rng: np.random.Generator | None = None) -> np.ndarray:
        """Each row's production: the best-scoring allowed one (greedy), or one sampled from
        softmax(logits / temperature) over the allowed ones (Gumbel-max with `rng`)."""
        scores = np.asarray(logits, dtype=np.float64)
        if scores.shape != (len(self), self.decoder.g.n_productions):
            raise ValueError(f"logits of shape {scores.shape}; the state needs "
                             f"({len(self)}, {self.decoder.g.n_productions})")
        if not greedy:
            scores = np.clip(scores / temperature, -1e300, 1e300) + rng.gumbel(size=scores.shape)
        return np.where(self.allowed(), scores, -np.inf).argmax(axis=1).astype(np.int64)

    def advance(self, p) -> None:
        """Each row takes production p[i] (one it may take): pop the top, push its nonterminals."""
        d, p = self.decoder, np.asarray(p, dtype=np.int64)
        rows, top = np.arange(len(self)), self.top()
        ok = self.allowed()[rows, p]
        if not ok.all():
            bad = int(np.flatnonzero(~ok)[0])
            raise ValueError(f"row {bad} may not take production {int(p[bad])} at step {self.t}")
        done = self.finished
        self.need += np.where(done, 0, d.production_min_steps[p] - 1 - d.min_steps[top])
        self.depth -= 1
        for j in range(d.push_order.shape[1]):
            push = j < d.n_pushed[p]
            self.stack[rows[push], self.depth[push] + j] = d.push_order[p[push], j]
        self.depth += d.n_pushed[p]
        self.chosen[:, self.t] = p
        self.t += 1
        self._allowed = None

    def _store(self, r) -> None:
        self.result_ids[self.batch_row[r]] = self.chosen[r]

    def _copied(self) -> None:
        self.result_ids = self.result_ids.copy()

    def _moved(self) -> None:
        self._allowed = None  # computed for the old rows

    def result(self) -> tuple[np.ndarray, list[list[int]]]:
        """(n, steps) production ids by batch row, and per row the steps dropped (none here:
        a grammar-only derivation has nothing to drop), as `DecodeState.result` gives."""
        out = self.result_ids.copy()
        out[self.batch_row] = self.chosen
        return out, [[] for _ in range(self.n)]
