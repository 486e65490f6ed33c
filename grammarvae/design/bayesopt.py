"""Bayesian optimisation of a property in the latent space: the Grammar VAE paper's loop.

    >>> run = optimize(model, smiles, "penalized_logp", iterations=5, batch=50, seed=0)
    >>> optimize(model, smiles, "sa", minimize=True)   # lower is better
    >>> run.best(3)                        # the three best proposals: Proposal(iteration, smiles, score, ...)
    >>> run.write_csv("results.csv")       # one row per proposed molecule

Each iteration fits a `LatentGP` to every scored point so far (the encoded data set, then the
proposals), proposes `batch` latent points by expected improvement, decodes them (always valid
molecules), scores them and adds them. A batch is chosen greedily from candidate points drawn
around the best points so far, at steps of many sizes on the scale of the scored points (see
`candidates`): each pick is the candidate of highest expected improvement after the
improvement of every candidate has been scaled by 1 - its kernel correlation with each earlier
pick, which keeps a batch from piling onto one point. The ranked picks are decoded `spare`
times over the batch, and the batch keeps the first `batch` of them whose molecule is new: not
decoded before in the batch, in an earlier batch or from the data (nearby latent points often
decode to one molecule, and scoring it twice teaches the GP nothing); where too few are new,
candidates are drawn again, reaching further. Every random draw comes from `seed`: the same
seed gives the same proposals.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from scipy.stats import norm

from grammarvae.design.gp import LatentGP
from grammarvae.files import writing


def expected_improvement(mean, std, best: float) -> np.ndarray:
    """E[max(f - best, 0)] for f ~ N(mean, std^2), elementwise (0 where std is 0 and mean <= best)."""
    mean, std = np.asarray(mean, dtype="float64"), np.asarray(std, dtype="float64")
    gain = mean - best
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(std > 0, gain / std, 0.0)
        ei = std * (u * norm.cdf(u) + norm.pdf(u))
    return np.where(std > 0, ei, np.maximum(gain, 0.0))


def candidates(Z, y, n: int, rng: np.random.Generator, top: int = 50, scales=(0.02, 0.2),
               wide: float = 0.0, reach: float = 1.0) -> np.ndarray:
    """n candidate latent points on the scale of the scored points (Z, y): a share `wide` from
    the Gaussian with Z's mean and per-dimension standard deviation, the rest around the `top`
    best-scoring points, each moved along every dimension by a step of that dimension's standard
    deviation times a scale drawn per candidate, log-uniformly between `scales`, times `reach`
    (which `optimize` raises when the points near the best decode to too few new molecules).

    Encoded molecules spread far less than the prior N(0, I) along most latent dimensions (the
    bundled model's ZINC latent means: a median per-dimension standard deviation of 0.13), so
    candidates drawn at the prior's scale fall where the decoder writes unrealistic molecules.
    Steps of many sizes around the best points find both their near neighbours (the small steps,
    which decode to the same text or a small edit of it) and points a few edits away; each
    iteration's best points include the last iteration's finds, so the search climbs from them."""
    Z = np.asarray(Z, dtype="float64")
    lo, hi = (float(s) for s in scales)
    if not 0 < lo <= hi or not 0 <= wide <= 1 or top < 1:
        raise ValueError(f"need 0 < scales[0] <= scales[1], 0 <= wide <= 1 and top >= 1, got {scales}, {wide}, {top}")
    centre, spread = Z.mean(0), Z.std(0)
    n_wide = int(round(wide * n))
    best = Z[np.argsort(-np.asarray(y), kind="stable")[:top]]
    m = n - n_wide
    step = reach * np.exp(rng.uniform(np.log(lo), np.log(hi), (m, 1)))
    around = best[np.arange(m) % len(best)] + step * spread * rng.standard_normal((m, Z.shape[1]))
    return np.concatenate([centre + spread * rng.standard_normal((n_wide, Z.shape[1])), around])


def propose(gp: LatentGP, Z, y, batch: int, rng: np.random.Generator, n_candidates: int = 2000,
            draw: Callable = candidates):
    """`batch` latent points by greedy, correlation-penalised expected improvement over the best
    y so far, from the points `draw(Z, y, n, rng)` gives (see the module docstring); returns
    (points, predicted means, expected improvements)."""
    C = draw(Z, y, max(n_candidates, batch), rng)
    mean, std = gp.predict(C)
    ei = expected_improvement(mean, std, float(np.max(y)))
    weight, picks = np.ones(len(C)), []
    optimism = mean + std - np.min(mean + std) + 1e-12  # > 0: ranks points where no improvement is expected
    for _ in range(batch):
        value = ei * weight
        if not np.max(value) > 0:  # no improvement expected from any point left: the most
            value = optimism * weight  # promising by mean + std, kept apart from the picks alike
        if not np.max(value) > 0:  # every point left is a pick's twin: any one not picked
            value = (weight >= 0).astype(float)
        value[picks] = -np.inf  # never the same point twice
        i = int(np.argmax(value))
        picks.append(i)
        weight *= 1.0 - gp.correlation(C, C[i])
        weight[i] = 0.0
    picks = np.array(picks)
    return C[picks], mean[picks], ei[picks]


@dataclass(frozen=True)
class Proposal:
    """One proposed molecule: its iteration (1-based), SMILES, score (NaN with a reason if it
    could not be scored), the GP's predicted score and the expected improvement it was picked by."""

    iteration: int
    smiles: str
    score: float
    reason: str | None
    predicted: float
    expected_improvement: float


@dataclass
class Optimization:
    """What `optimize` found: every proposal, and the figures of each iteration's GP. "Best"
    is the highest score, or the lowest where `minimize`."""

    target: str
    data_best: float                    # the best score in the encoded data set
    known: set = field(default_factory=set)       # canonical SMILES of the data set
    proposals: list = field(default_factory=list)
    fits: list = field(default_factory=list)      # per iteration: points the GP was fit on
    minimize: bool = False
    rounds: list = field(default_factory=list)    # per iteration: (points decoded, new molecules among them)

    @property
    def sign(self) -> float:
        """-1 where lower is better, else 1: the higher sign * score, the better."""
        return -1.0 if self.minimize else 1.0

    def better(self, scores) -> float:
        """The best of `scores`."""
        return float(max(scores, key=lambda v: self.sign * v))

    def shares(self) -> dict:
        """Of all proposals: the share scored (valid), distinct, and not in the data set (novel)."""
        n = max(1, len(self.proposals))
        return {"proposals": len(self.proposals),
                "valid": sum(np.isfinite(p.score) for p in self.proposals) / n,
                "unique": len({p.smiles for p in self.proposals}) / n,
                "novel": sum(p.smiles not in self.known for p in self.proposals) / n}

    def best(self, k: int = 3) -> list:
        """The k best-scoring proposals, one per distinct molecule."""
        seen, out = set(), []
        for p in sorted((p for p in self.proposals if np.isfinite(p.score)), key=lambda p: -self.sign * p.score):
            if p.smiles not in seen:
                seen.add(p.smiles)
                out.append(p)
        return out[:k]

    def best_per_iteration(self) -> list[float]:
        """The best score found up to and including each iteration (the data set's best first)."""
        best, out = self.data_best, [self.data_best]
        for it in range(1, len(self.fits) + 1):
            best = self.better([best] + [p.score for p in self.proposals if p.iteration == it and np.isfinite(p.score)])
            out.append(best)
        return out

    def write_csv(self, path: str | Path, text: str = "smiles") -> None:
        """One row per proposal; `text` names the column of what was proposed."""
        with writing(path, newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["iteration", text, "score", "predicted", "expected_improvement", "reason"])
            for p in self.proposals:
                w.writerow([p.iteration, p.smiles, "" if np.isnan(p.score) else f"{p.score:.6g}",
                            f"{p.predicted:.6g}", f"{p.expected_improvement:.6g}", p.reason or ""])


class _Scored:
    """Scores of texts by a callable target: values (NaN where it raised ValueError), reasons."""

    def __init__(self, fn: Callable[[str], float], texts: Sequence[str]):
        self.values, self.reasons = np.full(len(texts), np.nan), [None] * len(texts)
        for i, t in enumerate(texts):
            try:
                self.values[i] = float(fn(t))
            except ValueError as e:
                self.reasons[i] = str(e)


def _scorer(target) -> Callable[[Sequence[str]], object]:
    """texts -> (values, reasons) for a `grammarvae.properties` name or a callable text -> score."""
    if callable(target):
        return lambda texts: _Scored(target, list(texts))
    from grammarvae.properties import score

    return lambda texts: score(list(texts), target)


def optimize(model, smiles: Sequence[str], target="penalized_logp", iterations: int = 5,
             batch: int = 50, seed: int = 0, num_inducing: int = 500, max_iters: int = 200,
             n_candidates: int = 2000, score_decoded: bool = True, spare: int = 6, minimize: bool = False,
             progress: Callable[[int, int], None] | None = None, draw: Callable = candidates) -> Optimization:
    """Bayesian optimisation of `target` (a `grammarvae.properties` name, or for a model of any
    language a callable text -> score, ValueError where it cannot score one) with `model` (any
    GrammarVAE), starting from the molecules (or texts) `smiles`; those that cannot be encoded or scored
    are left out. The starting latent means are scored by the molecules they decode to
    (``score_decoded``, the function the proposals are scored by; where the model reconstructs
    every molecule this is the molecules' own score, which ``score_decoded=False`` takes, as
    the Grammar VAE paper did). A batch holds only new molecules, so it is shorter than
    `batch` when fewer than that many are found among the ranked picks of every reach. With
    ``minimize`` the lowest score is sought (the GP and expected improvement work on the
    negated scores; scores and predictions are reported as they are). `progress(done, total)`
    is called once the data are scored and after each iteration. `draw(Z, y, n, rng)` gives each
    iteration's candidate points, and takes `reach` (see `candidates`; e.g.
    ``functools.partial(candidates, wide=0.5)`` for half of them spread over the data)."""
    if iterations < 1 or batch < 1 or spare < 1:
        raise ValueError(f"iterations, batch and spare must be >= 1, got {iterations}, {batch} and {spare}")
    score, canonical = _scorer(target), model.language.canonical
    Z = model.encode_checked(list(smiles)).Z.astype("float64")
    given = score(smiles).values
    keep = np.isfinite(Z).all(1) & np.isfinite(given)
    if keep.sum() < 2:
        raise ValueError(f"only {int(keep.sum())} of {len(smiles)} molecules could be encoded and scored; "
                         "the optimisation needs at least 2")
    Z = Z[keep]
    known = {canonical(s) for s, k in zip(smiles, keep) if k}
    seen = set(known)  # molecules scored already: proposing them again teaches the GP nothing
    if score_decoded:  # the GP models what a latent point scores once decoded, as proposals are scored
        decoded = model.decode(Z.astype("float32"))
        seen.update(canonical(s) for s in decoded)
        y = score(decoded).values
        Z, y = Z[np.isfinite(y)], y[np.isfinite(y)]
    else:
        y = given[keep]
    rng = np.random.default_rng(seed)
    run = Optimization(getattr(target, "__name__", str(target)), np.nan, known, minimize=minimize)
    run.data_best = run.better(given[keep])
    sign = run.sign  # the loop below maximises sign * score
    picker = _Picker(model, draw, seen, batch, spare, n_candidates, run.rounds)
    if progress:
        progress(0, iterations)
    for it in range(1, iterations + 1):
        gp = LatentGP(num_inducing=num_inducing, max_iters=max_iters, seed=seed + it).fit(Z, sign * y)
        run.fits.append(len(Z))
        points, predicted, ei, decoded = picker.new_picks(gp, Z, sign * y, rng)
        predicted = sign * predicted
        scored = score(decoded)
        for s, v, why, p, e in zip(decoded, scored.values, scored.reasons, predicted, ei):
            run.proposals.append(Proposal(it, s, float(v), why, float(p), float(e)))
        ok = np.isfinite(scored.values)
        Z, y = np.concatenate([Z, points[ok]]), np.concatenate([y, scored.values[ok]])
        if progress:
            progress(it, iterations)
    return run


REACHES = (1.0, 4.0, 16.0)  # how far candidates reach, each used only when the last found too few new molecules


@dataclass
class _Picker:
    """What every iteration's picks share: the model that decodes them, the candidate `draw`,
    the molecules `seen` (scored already), how many new ones a batch holds, how many ranked
    picks are decoded per place (`spare`), the candidates per draw, and the `rounds` record."""

    model: object
    draw: Callable
    seen: set
    batch: int
    spare: int
    n_candidates: int
    rounds: list

    def new_picks(self, gp, Z, y, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
        """Up to `batch` picks whose molecules are new, as (points, predicted, expected
        improvements, molecules): `spare * batch` ranked picks are decoded, and where fewer than
        `batch` of them are new (the neighbourhood of the best points decodes to molecules scored
        already) picks are drawn again, reaching further (`REACHES`). Appends (decoded, new) to
        `rounds`."""
        parts, found, tried = [], 0, 0
        for reach in REACHES:
            points, predicted, ei = propose(gp, Z, y, self.spare * (self.batch - found), rng, self.n_candidates,
                                            partial(self.draw, reach=reach))
            decoded = self.model.decode(points.astype("float32"))
            new = _first_new(decoded, self.seen, self.batch - found, self.model.language.canonical)
            tried += len(decoded)
            parts.append((points[new], predicted[new], ei[new], [decoded[i] for i in new]))
            found += len(new)
            if found == self.batch:
                break
        self.rounds.append((tried, found))
        return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                np.concatenate([p[2] for p in parts]), [m for p in parts for m in p[3]])


def _first_new(smiles: Sequence[str], seen: set, k: int, canonical: Callable[[str], str]) -> list[int]:
    """Indices of the first k of `smiles` whose canonical form is not in `seen` nor earlier in
    the list; adds them to `seen`."""
    out = []
    for i, s in enumerate(smiles):
        if len(out) == k:
            break
        c = canonical(s)
        if c not in seen:
            seen.add(c)
            out.append(i)
    return out
