"""`Grammar`: a SMILES context-free grammar loaded from an nltk CFG file, with every
table the model needs derived from it. No TensorFlow here: this module imports fast
and runs in worker processes.

Example:
    >>> g = Grammar.load("zinc")
    >>> ids = g.parse("c1ccccc1O")
    >>> g.unparse(ids)
    'c1ccccc1O'
    >>> g.encode(["CCO"], max_len=277).shape
    (1, 277)
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path
from typing import Iterable, NamedTuple, Sequence

import nltk
import numpy as np

from grammarvae.errors import GrammarError
from grammarvae.grammar.lr import END, AmbiguityError, LRTables, ParseFailure

PAD_LHS = "Nothing"  # left-hand side of the padding production

# Chunks of a *reversed* SMILES for the parse memo: a bracket atom or a run of letters,
# with the non-letters that follow it in the original string. Only a speed device:
# chunks are tokenized with the grammar's own tokenizer, and any split is correct.
_CHUNK_RE = re.compile(r"[^A-Za-z\[\]]*(?:\][^\[\]]*\[|[A-Za-z]+)|[^A-Za-z\[\]]+")
_ELEMENT_RE = re.compile(r"\[\d*([A-Z][a-z]?|[a-z]{1,2})")  # the element of a bracket atom
_MEMO_DEPTH = 6
_MEMO_LIMIT = 500_000
_RING_HINT_RE = re.compile(r"\d")
_RING_RE = re.compile(r"\[[^\]]*\]|(%\d\d|\d)")


def grammar_path(name_or_path: str | Path) -> Path:
    """Resolve a grammar name shipped with the package (``"zinc"``) or a path to a .cfg file."""
    p = Path(name_or_path)
    if p.suffix == ".cfg" or p.exists():
        if not p.is_file():
            raise FileNotFoundError(f"grammar file not found: {p}")
        return p
    return shipped_grammar(str(name_or_path))


def shipped_grammar(name: str) -> Path:
    """The .cfg file of a grammar shipped with the package (never a path: a name from a model
    file is looked up only here)."""
    if not name or Path(name).name != name or name.startswith("."):
        raise FileNotFoundError(f"no grammar named {name!r}: a shipped grammar's name has no folder in it")
    name_or_path = name
    candidates = []
    try:
        candidates.append(Path(str(resources.files("grammarvae.grammars") / f"{name_or_path}.cfg")))
    except ModuleNotFoundError:
        pass
    # A source checkout used without installing: grammars/ beside the package.
    candidates.append(Path(__file__).resolve().parents[2] / "grammars" / f"{name_or_path}.cfg")
    for c in candidates:
        if c.is_file():
            return c
    looked = dict.fromkeys(map(str, candidates))  # installed and source checkout can be one folder
    raise FileNotFoundError(f"no grammar named {name_or_path!r} (looked in {', '.join(looked)})")


class Encoded(NamedTuple):
    """Result of `Grammar.encode_checked`: rows of failed inputs are all padding."""

    X: np.ndarray  # int32 (n, max_len)
    ok: np.ndarray  # bool (n,)
    errors: list[tuple[int, str, str]]  # (index, input, reason)


class Grammar:
    """A context-free grammar over SMILES tokens and its derived tables.

    Tables (numpy arrays, all derived from the .cfg file):
        lhs[p]            nonterminal id of production p's left-hand side
        masks[a, p]       True where production p may expand nonterminal a
        rhs_nonterminals  per production, the nonterminal ids it pushes, left to right
        min_steps[a]      fewest productions that turn nonterminal a into terminals
        production_min_steps[p]  fewest productions to finish once p is chosen (p included)
    The padding production (``Nothing -> None``) is index `pad`; its left-hand side
    `Nothing` is the "derivation has ended" state.
    """

    def __init__(self, text: str, name: str = "<string>"):
        self.name = name
        self.cfg_text = text
        self.cfg = nltk.CFG.fromstring(text)
        prods = self.cfg.productions()
        self.productions = prods
        self.n_productions = len(prods)
        pads = [i for i, p in enumerate(prods) if p.lhs().symbol() == PAD_LHS]
        if len(pads) != 1:
            raise ValueError(f"grammar {name} needs exactly one padding production '{PAD_LHS} -> None'")
        self.pad = pads[0]
        self.start = self.cfg.start()
        names: list[str] = []
        for p in prods:
            if p.lhs().symbol() not in names:
                names.append(p.lhs().symbol())
        self.nonterminals = names
        self.nt_index = {n: i for i, n in enumerate(names)}
        nt = self.nt_index
        self.lhs = np.array([nt[p.lhs().symbol()] for p in prods], dtype=np.int32)
        self.masks = np.zeros((len(names), len(prods)), dtype=bool)
        self.masks[self.lhs, np.arange(len(prods))] = True
        self.rhs_nonterminals: list[tuple[int, ...]] = [
            () if i == self.pad else
            tuple(nt[s.symbol()] for s in p.rhs() if isinstance(s, nltk.Nonterminal))
            for i, p in enumerate(prods)]
        self.rhs_terminals: list[str] = [
            "".join(s for s in p.rhs() if isinstance(s, str)) for p in prods]
        self._derive_min_steps()
        self.terminals = sorted({s for p in prods for s in p.rhs() if isinstance(s, str)})
        # Longest terminals first so that 'Cl' wins over 'C' and '@@' over '@'.
        alts = sorted(self.terminals, key=len, reverse=True)
        self._token_re = re.compile("|".join(re.escape(t) for t in alts))
        self.index = {p: i for i, p in enumerate(prods)}
        # A SMILES grammar's ring bonds must pair up, which no CFG can say; other grammars
        # (the paper's expressions, where a digit is a number) have no such rule.
        self.has_ring_bonds = "ringbond" in self.nt_index
        self._memo: dict = {}  # parse memo: see `parse`
        self._chunk_cache: dict[str, tuple[int, ...]] = {}

    # -------------------------------------------------------------- loading
    @classmethod
    @functools.lru_cache(maxsize=8)
    def load(cls, name_or_path: str | Path = "zinc") -> "Grammar":
        """Load a grammar by name (a file in ``grammars/``) or from a path to a .cfg file."""
        path = grammar_path(name_or_path)
        return cls(path.read_text(), name=str(name_or_path))

    def _derive_min_steps(self) -> None:
        n = len(self.nonterminals)
        inf = np.iinfo(np.int32).max // 4
        best = np.full(n, inf, dtype=np.int64)
        best[self.lhs[self.pad]] = 1
        changed = True
        while changed:
            changed = False
            for p, kids in enumerate(self.rhs_nonterminals):
                cost = 1 + sum(int(best[k]) for k in kids)
                if cost < best[self.lhs[p]]:
                    best[self.lhs[p]] = cost
                    changed = True
        unfinished = [self.nonterminals[i] for i in range(n) if best[i] >= inf]
        if unfinished:
            raise ValueError(f"grammar {self.name}: nonterminals that never finish: {unfinished}")
        self.min_steps = best.astype(np.int32)
        self.production_min_steps = np.array(
            [1 + sum(int(best[k]) for k in kids) for kids in self.rhs_nonterminals], dtype=np.int32)

    def _lr_tables(self, mirrored: bool) -> LRTables:
        prods = []
        for i, p in enumerate(self.productions):
            if i == self.pad:
                continue
            rhs = tuple(s.symbol() if isinstance(s, nltk.Nonterminal) else s for s in p.rhs())
            prods.append((p.lhs().symbol(), rhs[::-1] if mirrored else rhs))
        return LRTables.build(prods, start=self.start.symbol(), terminals=set(self.terminals))

    @functools.cached_property
    def _mirror(self) -> LRTables:
        """Tables of the grammar with every right-hand side reversed, for the fast path."""
        return self._lr_tables(mirrored=True)

    @functools.cached_property
    def _forward(self) -> LRTables:
        """Tables of the grammar as written; used to explain errors left to right."""
        return self._lr_tables(mirrored=False)

    # -------------------------------------------------------------- parsing
    def tokenize(self, smiles: str) -> list[str]:
        """Split SMILES into the grammar's terminals; raises GrammarError on an unknown character."""
        if not isinstance(smiles, str):
            raise GrammarError(f"expected a SMILES string, got {type(smiles).__name__}")
        if not smiles:
            raise GrammarError("empty SMILES", smiles)
        tokens = self._token_re.findall(smiles)
        if sum(map(len, tokens)) != len(smiles):
            pos = 0
            for t in tokens:  # findall skips what it cannot match: find the first gap
                if not smiles.startswith(t, pos):
                    break
                pos += len(t)
            start = smiles.rfind("[", 0, pos + 1)
            if start != -1 and "]" not in smiles[start:pos]:  # inside a bracket atom: name it
                raise self._bracket_atom_error(smiles, start, pos,
                                               f"has a symbol the grammar does not know ({smiles[pos]!r})")
            raise GrammarError(f"unknown symbol {smiles[pos]!r}", smiles, pos)
        return tokens

    def _bracket_atom_error(self, smiles: str, start: int, pos: int, otherwise: str) -> GrammarError:
        """The error for the bracket atom opening at `start`: its element, when the grammar
        has no such element, else `otherwise` (what went wrong at `pos`)."""
        end = smiles.find("]", pos)
        atom = smiles[start:end + 1] if end != -1 else smiles[start:]
        element = _ELEMENT_RE.match(atom)
        if element and element.group(1) not in self.terminals:
            return GrammarError(f"bracket atom {atom!r}: the grammar has no element {element.group(1)}",
                                smiles, start)
        return GrammarError(f"bracket atom {atom!r} {otherwise}", smiles, start)

    def chart_parser(self):
        """nltk's ChartParser over this grammar: the reference `parse` is checked against.
        Without a time limit (nltk 3.10 stops a parse after 5 s by default, which a loaded
        machine can reach on a long molecule)."""
        import inspect

        unlimited = {"max_time": None} if "max_time" in inspect.signature(nltk.ChartParser).parameters else {}
        return nltk.ChartParser(self.cfg, **unlimited)

    def parse(self, smiles: str) -> list[int]:
        """Leftmost-derivation production indices of `smiles` (as nltk's ChartParser gives).

        Raises GrammarError naming the position for unknown symbols, unbalanced brackets,
        misplaced tokens and ring bonds left open.

        How it is fast: the reversed SMILES is parsed with the mirrored grammar, whose
        reductions, read backwards, are the leftmost derivation. The input is cut into
        chunks (an atom and what follows it), and the effect of each chunk on the top
        of the LR stack is memoised, so a molecule costs a few dictionary look-ups per
        atom once similar molecules have been seen. Any miss or error takes the exact
        token-by-token path.
        """
        if not isinstance(smiles, str) or not smiles:
            self.tokenize(smiles)  # raises the right error
        chunks = _CHUNK_RE.findall(smiles[::-1])
        if sum(map(len, chunks)) != len(smiles):
            self._explain(smiles)
        chunks.append(None)  # the end of input
        memo = self._memo
        stack = [0]
        out: list[int] = []
        for k, c in enumerate(chunks):
            key = (tuple(stack[-_MEMO_DEPTH:]), c)
            hit = memo.get(key)
            if hit is None:
                hit, exact = self._step(smiles, chunks, k, stack)
                if exact and len(memo) < _MEMO_LIMIT:
                    memo[key] = hit
            pops, push, prods = hit
            if pops:
                del stack[-pops:]
            stack.extend(push)
            out.extend(prods)
        out.reverse()
        if self.has_ring_bonds:
            self._check_rings(smiles)
        return self._renumber(out)

    def _step(self, smiles: str, chunks: list, k: int, stack: list[int]):
        """Run chunk k token by token on a copy of `stack`. Returns its effect
        (states popped, states pushed, reductions) and whether that effect depends only
        on the memo key (it read no deeper in the stack, and no further than the chunk)."""
        lr = self._mirror
        toks = list(self._chunk_ids(smiles, chunks[k]))
        n = len(toks)
        for c in chunks[k + 1:]:
            if len(toks) - n >= lr.horizon:
                break
            toks.extend(self._chunk_ids(smiles, c))
        before = len(stack)
        work = list(stack)
        out: list[int] = []
        try:
            low, looked_past = lr.advance(work, toks, 0, n, out)
        except (ParseFailure, AmbiguityError):
            self._explain(smiles)
        entry = (before - low, tuple(work[low:]), tuple(out))
        return entry, not looked_past and before - low < _MEMO_DEPTH

    def _chunk_ids(self, smiles: str, chunk: str | None) -> tuple[int, ...]:
        lr = self._mirror
        if chunk is None:
            return (lr.end_id,)
        ids = self._chunk_cache.get(chunk)
        if ids is None:
            try:
                tokens = self.tokenize(chunk[::-1])
            except GrammarError:
                self._explain(smiles)
            ids = tuple(lr.terminal_ids[t] for t in reversed(tokens))
            if len(self._chunk_cache) < _MEMO_LIMIT:
                self._chunk_cache[chunk] = ids
        return ids

    def _renumber(self, ids: list[int]) -> list[int]:
        # The LR tables leave out the padding production.
        if self.pad < self.n_productions - 1:
            ids = [i + (i >= self.pad) for i in ids]
        return ids

    def _explain(self, smiles: str) -> None:
        """Raise the GrammarError that a left-to-right reading of `smiles` finds first."""
        tokens = self.tokenize(smiles)
        depth: list[int] = []
        pos = 0
        for t in tokens:
            if t == "(":
                depth.append(pos)
            elif t == ")":
                if not depth:
                    raise GrammarError("')' has no matching '('", smiles, pos)
                depth.pop()
            pos += len(t)
        lr = self._forward
        tid = lr.terminal_ids
        try:
            lr.parse([tid[t] for t in tokens])
        except ParseFailure as e:
            pos = sum(map(len, tokens[:e.position]))
            if e.position >= len(tokens) and depth:
                raise GrammarError("'(' is never closed", smiles, depth[-1]) from None
            start = smiles.rfind("[", 0, pos + 1)
            if e.position < len(tokens) and start != -1 and "]" not in smiles[start:pos]:
                raise self._bracket_atom_error(smiles, start, pos,
                                               "is not in the grammar (a feature it cannot write)") from None
            got = repr(tokens[e.position]) if e.position < len(tokens) else "end of SMILES"
            exp = [repr(x) for x in e.expected if x != END]
            if END in e.expected:
                exp.append("end")
            more = f", ... ({len(exp) - 8} more)" if len(exp) > 8 else ""
            raise GrammarError(f"unexpected {got} (expected {', '.join(exp[:8])}{more})",
                               smiles, pos) from None
        except AmbiguityError as e:
            raise GrammarError(f"ambiguous parse: {e}", smiles) from None
        raise GrammarError("cannot parse", smiles)

    def _check_rings(self, smiles: str) -> None:
        """Every ring-bond label must be closed: the CFG alone cannot count them."""
        if not _RING_HINT_RE.search(smiles):
            return
        open_at: dict[str, int] = {}
        for m in _RING_RE.finditer(smiles):
            label = m.group(1)
            if label is None:
                continue  # a bracket atom
            if label in open_at:
                del open_at[label]
            else:
                open_at[label] = m.start(1)
        if open_at:
            label, p = min(open_at.items(), key=lambda kv: kv[1])
            raise GrammarError(f"ring bond {label} is opened but never closed", smiles, p)

    def unparse(self, ids: Iterable[int], skip_steps: set[int] = frozenset()) -> str:
        """SMILES string of a leftmost derivation (padding ignored); exact inverse of `parse`.

        Terminals written by the productions at `skip_steps` are left out (the decoder drops
        the labels of rings it could not close this way)."""
        stack: list = [(self.start, -1)]
        out: list[str] = []
        for step, p in enumerate(int(i) for i in ids):
            if p == self.pad:
                continue
            if not 0 <= p < self.n_productions:
                raise GrammarError(f"production index {p} out of range at step {step}")
            while stack and isinstance(stack[-1][0], str):
                s, at = stack.pop()
                if at not in skip_steps:
                    out.append(s)
            if not stack:
                raise GrammarError(f"production {p} at step {step} comes after the derivation ended")
            top = stack.pop()[0]
            prod = self.productions[p]
            if prod.lhs() != top:
                raise GrammarError(f"production {p} ({prod}) at step {step} cannot expand {top}")
            stack.extend((s, step) for s in reversed(prod.rhs()))
        while stack and isinstance(stack[-1][0], str):
            s, at = stack.pop()
            if at not in skip_steps:
                out.append(s)
        if stack:
            raise GrammarError(f"incomplete derivation: {stack[-1][0]} is never expanded")
        return "".join(out)

    # -------------------------------------------------------------- encoding
    def encode(self, smiles: Sequence[str], max_len: int = 277) -> np.ndarray:
        """int32 array (n, max_len) of production indices, padded; raises on the first failure."""
        res = self.encode_checked(smiles, max_len)
        if res.errors:
            i, s, reason = res.errors[0]
            raise GrammarError(reason, s, index=i if len(smiles) > 1 else None)
        return res.X

    def encode_checked(self, smiles: Sequence[str], max_len: int = 277) -> Encoded:
        """Encode what can be encoded; failures keep their row (all padding) and are reported."""
        X = np.full((len(smiles), max_len), self.pad, dtype=np.int32)
        ok = np.zeros(len(smiles), dtype=bool)
        errors = []
        for i, s in enumerate(smiles):
            try:
                ids = self.parse(s)
            except GrammarError as e:
                errors.append((i, s, e.reason + (f" at position {e.position}" if e.position is not None else "")))
                continue
            if len(ids) > max_len:
                errors.append((i, s, f"needs {len(ids)} productions, more than max_len={max_len}"))
                continue
            X[i, :len(ids)] = ids
            ok[i] = True
        return Encoded(X, ok, errors)

    def one_hot(self, X: np.ndarray) -> np.ndarray:
        """float32 one-hot of int production indices: shape X.shape + (n_productions,)."""
        return np.eye(self.n_productions, dtype=np.float32)[np.asarray(X)]

    def __repr__(self) -> str:
        return f"Grammar({self.name!r}, {self.n_productions} productions)"
