"""The Grammar VAE paper's symbolic-regression task: its expressions, data set and score.

    >>> g = Grammar.load("equations")
    >>> evaluate(g, "1/3+x+sin(x*x)", np.array([0.0, 1.0]))      # array([0.3333..., 2.1748...])
    >>> score(g, "x+sin(x*x)")                                   # log(1 + MSE) against TARGET: 0.105...
    >>> expressions = generate(g, 100_000, max_steps=15, seed=0)  # the paper's data set, drawn anew

The grammar (`grammars/equations.cfg`, section 4.1 of Kusner, Paige and Hernandez-Lobato,
ICML 2017) derives univariate expressions in x. An expression is evaluated from its
derivation, each production by what its terminals say (`OPERATIONS`): no text is ever passed
to Python's `eval`. The score is the paper's: log(1 + mean over `POINTS` of
min((f(x) - target(x))^2, WORST)), and log(1 + WORST) for an expression that cannot be
evaluated there (NaN, say 0/0); lower is better, 0 a perfect fit.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

TARGET = "1/3+x+sin(x*x)"
POINTS = np.linspace(-10.0, 10.0, 1000)  # the paper's 1,000 evenly spaced inputs
WORST = 1000.0  # each squared error is capped here, and a failed evaluation scores log(1 + WORST)

# What each production computes from its nonterminal children, by its terminals.
OPERATIONS: dict[str, Callable] = {
    "+": np.add, "*": np.multiply, "/": np.divide,
    "()": lambda a: a, "sin()": np.sin, "exp()": np.exp, "": lambda a: a,
}


def evaluate(grammar, text: str, x: np.ndarray) -> np.ndarray:
    """f(x) for the expression `text` of the grammar, elementwise over x (float64; inf and NaN
    where the expression is so there). GrammarError if the text is not of the grammar."""
    return evaluate_ids(grammar, grammar.parse(text), x)


def evaluate_ids(grammar, ids, x: np.ndarray) -> np.ndarray:
    """f(x) for a derivation (production ids in leftmost order, padding ignored)."""
    x = np.asarray(x, dtype=np.float64)
    ids = [int(p) for p in ids if int(p) != grammar.pad]
    position = 0

    def expand():
        nonlocal position
        p = ids[position]
        position += 1
        children = [expand() for _ in grammar.rhs_nonterminals[p]]
        op = grammar.rhs_terminals[p]
        if not children:  # a leaf: the variable or a number
            return x if op == "x" else np.full_like(x, float(op))
        if op not in OPERATIONS:
            raise ValueError(f"production {grammar.productions[p]} has no operation (OPERATIONS)")
        return OPERATIONS[op](*children)

    with np.errstate(all="ignore"):
        return np.broadcast_to(expand(), x.shape).astype(np.float64)


def score(grammar, text_or_ids, points: np.ndarray = POINTS, target: str = TARGET) -> float:
    """The paper's score of an expression (text or derivation): log(1 + MSE) against `target`
    on `points`, each squared error capped at WORST; log(1 + WORST) where it cannot be
    evaluated (NaN anywhere)."""
    f = (evaluate(grammar, text_or_ids, points) if isinstance(text_or_ids, str)
         else evaluate_ids(grammar, text_or_ids, points))
    return _log_mse(f, evaluate(grammar, target, points))


def _log_mse(f: np.ndarray, y: np.ndarray) -> float:
    """log(1 + mean of min((f - y)^2, WORST)); log(1 + WORST) where that is not finite."""
    with np.errstate(all="ignore"):
        value = np.log1p(np.mean(np.minimum((f - y) ** 2, WORST)))
    return float(value) if np.isfinite(value) else float(np.log1p(WORST))


def fit(grammar, target: str = TARGET, points: np.ndarray = POINTS) -> Callable[[str], float]:
    """The score of the fit to `target`, as a function of one expression's text (what
    `grammarvae.design.optimize` minimises), named for it; ValueError (GrammarError) now if
    `target` is not of the grammar, and from the function for a text that is not.

        >>> fit(g, "x*x")("x*x")   # 0.0
    """
    target_values = evaluate(grammar, target, points)
    if not np.isfinite(target_values).all():
        raise ValueError(f"{target!r} is not finite everywhere on the points")

    def fit_score(text: str) -> float:  # `score`, with the target evaluated once
        return _log_mse(evaluate(grammar, text, points), target_values)

    fit_score.__name__ = f"fit to {target}"
    return fit_score


def generate(grammar, n: int, max_steps: int = 15, seed: int = 0) -> list[str]:
    """n distinct expressions, each a random derivation of at most `max_steps` productions:
    every nonterminal, leftmost first, expands by a production drawn uniformly from those
    that still let the derivation end within the steps left. The same seed gives the same
    expressions, in the order drawn. ValueError if the grammar derives fewer than n."""
    rng = np.random.default_rng(seed)
    g = grammar
    start = g.nt_index[g.start.symbol()]
    choices = [np.flatnonzero(g.masks[a]) for a in range(len(g.nonterminals))]
    seen: dict[str, None] = {}
    draws = 0
    while len(seen) < n:
        draws += 1
        if draws > 50 * n + 1000:
            raise ValueError(f"found only {len(seen)} distinct expressions of at most {max_steps} steps in "
                             f"{draws - 1} draws, not {n}")
        stack, need, ids = [start], int(g.min_steps[start]), []
        while stack:
            top = stack.pop()
            left = max_steps - len(ids)
            options = [p for p in choices[top] if p != g.pad and
                       need - g.min_steps[top] + g.production_min_steps[p] <= left]
            p = int(options[rng.integers(len(options))])
            need += int(g.production_min_steps[p]) - 1 - int(g.min_steps[top])
            ids.append(p)
            stack.extend(reversed(g.rhs_nonterminals[p]))
        seen.setdefault(g.unparse(ids))
    return list(seen)
