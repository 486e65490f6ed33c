"""Latent-space design: the GP property model, expected improvement, the optimisation loop and
attribute vectors, each against an independent baseline."""

from __future__ import annotations

import csv
from functools import partial

import numpy as np
import pytest
from rdkit import Chem

from grammarvae.design import (LatentGP, attribute_vector, expected_improvement, optimize, property_direction,
                               shift)
from grammarvae.design.bayesopt import propose
from grammarvae.properties import score


def _smooth(Z):
    return np.sin(1.5 * Z[:, 0]) + 0.5 * Z[:, 1] ** 2 - Z[:, 2]


@pytest.fixture(scope="module")
def synthetic():
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((400, 5))
    y = _smooth(Z) + 0.05 * rng.standard_normal(400)
    return Z[:300], y[:300], Z[300:], _smooth(Z[300:])


@pytest.fixture(scope="module")
def fitted(synthetic):
    Z, y, _, _ = synthetic
    return LatentGP(num_inducing=60, max_iters=150, seed=0).fit(Z, y)


def test_gp_beats_the_mean_predictor_on_held_out_points(synthetic, fitted):
    Z, y, Zt, yt = synthetic
    mean_rmse = float(np.sqrt(np.mean((yt - y.mean()) ** 2)))
    assert fitted.rmse(Zt, yt) < 0.5 * mean_rmse
    # the mean predictor's log-likelihood: N(mean of y, std of y) at every point
    baseline = float(np.mean(-0.5 * np.log(2 * np.pi * y.var()) - (yt - y.mean()) ** 2 / (2 * y.var())))
    assert fitted.log_likelihood(Zt, yt) > baseline + 0.5


def test_gp_is_less_sure_far_from_the_data(synthetic, fitted):
    _, _, Zt, _ = synthetic
    _, near = fitted.predict(Zt)
    _, far = fitted.predict(Zt + 20.0)
    assert far.min() > near.max()


def test_gp_refuses_what_it_cannot_use(synthetic):
    Z, y, _, _ = synthetic
    with pytest.raises(RuntimeError, match="fit the LatentGP"):
        LatentGP().predict(Z)
    with pytest.raises(ValueError, match="at least 2 points"):
        LatentGP().fit(Z[:3], [np.nan, np.inf, 1.0])
    gp = LatentGP(num_inducing=5, max_iters=0).fit(Z[:20], y[:20])
    with pytest.raises(ValueError, match=r"latents must be \(n, 5\)"):
        gp.predict(Z[:, :3])


def test_expected_improvement_equals_monte_carlo():
    rng = np.random.default_rng(1)
    mean, std, best = np.array([0.0, 1.0, -2.0, 0.5]), np.array([1.0, 0.3, 2.0, 0.0]), 0.4
    draws = mean + std * rng.standard_normal((400_000, 4))
    np.testing.assert_allclose(expected_improvement(mean, std, best), np.maximum(draws - best, 0).mean(0),
                               atol=5e-3)


def test_a_batch_spreads_out(synthetic, fitted):
    """The correlation penalty: a batch of 10 distinct points, further apart than 10 picks of
    plain top expected improvement from the same candidates."""
    Z, y, _, _ = synthetic
    points, _, _ = propose(fitted, Z, y, 10, np.random.default_rng(0), n_candidates=500)
    assert len(np.unique(points, axis=0)) == 10

    def spread(P):
        return np.mean([np.linalg.norm(a - b) for i, a in enumerate(P) for b in P[i + 1:]])

    from grammarvae.design.bayesopt import candidates
    C = candidates(Z, y, 500, np.random.default_rng(0))
    mean, std = fitted.predict(C)
    plain = C[np.argsort(-expected_improvement(mean, std, y.max()))[:10]]
    assert spread(points) > spread(plain)


def test_a_batch_is_distinct_where_no_point_is_expected_to_improve(synthetic, fitted):
    """The best so far far above anything the GP predicts: expected improvement is 0 at every
    candidate (it underflows), and each pick is still a new point, the most promising by mean
    + std first."""
    Z, y, _, _ = synthetic
    y = y.copy()
    y[0] = 1e6
    from grammarvae.design.bayesopt import candidates
    C = candidates(Z, y, 500, np.random.default_rng(0))
    mean, std = fitted.predict(C)
    assert expected_improvement(mean, std, y.max()).max() == 0
    points, _, _ = propose(fitted, Z, y, 30, np.random.default_rng(0), n_candidates=500)
    assert len(np.unique(points, axis=0)) == 30
    assert np.allclose(points[0], C[np.argmax(mean + std)])


def test_candidates_follow_the_scale_of_the_scored_points():
    """Latents spread unevenly and off the origin (as encoded molecules are): the wide share of
    the candidates has the data's mean and per-dimension spread, not the prior's, and the rest
    lie around the best points, a fixed number of spreads away where the scales are one."""
    from grammarvae.design.bayesopt import candidates

    rng = np.random.default_rng(3)
    centre, spread = np.array([2.0, -1.0, 0.0, 0.5]), np.array([0.1, 0.5, 0.02, 1.0])
    Z = centre + spread * rng.standard_normal((2000, 4))
    y = -np.abs(Z[:, 0] - 2.0)                  # best points: those nearest 2 along dimension 0
    C = candidates(Z, y, 4000, np.random.default_rng(0), top=10, scales=(0.25, 0.25), wide=0.5)
    wide, near = C[:2000], C[2000:]
    # the wide half's mean within 4 standard errors of the data's, along every dimension
    assert np.all(np.abs(wide.mean(0) - Z.mean(0)) / Z.std(0) < 4 / np.sqrt(2000))
    np.testing.assert_allclose(wide.std(0), Z.std(0), rtol=0.1)
    best = Z[np.argsort(-y)[:10]]
    offsets = (near - best[np.arange(2000) % 10]) / Z.std(0)
    np.testing.assert_allclose(offsets.std(0), 0.25, rtol=0.1)


def test_candidate_steps_are_log_uniform_between_the_scales():
    """By default every candidate lies around one of the 50 best points, moved by its own scale
    drawn log-uniformly in [0.02, 0.2] (in the data's spreads): the mean squared offset is the
    closed form E[s^2] = (hi^2 - lo^2) / (2 ln(hi / lo)), and the scale of each candidate (its
    offsets' root mean square over 400 dimensions) spans the range and no more."""
    from grammarvae.design.bayesopt import candidates

    rng = np.random.default_rng(4)
    Z = rng.standard_normal((3000, 400)) * 0.3
    y = rng.standard_normal(3000)
    C = candidates(Z, y, 5000, np.random.default_rng(0))
    best = Z[np.argsort(-y, kind="stable")[:50]]
    offsets = (C - best[np.arange(5000) % 50]) / Z.std(0)
    lo, hi = 0.02, 0.2
    np.testing.assert_allclose((offsets ** 2).mean(), (hi ** 2 - lo ** 2) / (2 * np.log(hi / lo)), rtol=0.05)
    per = np.sqrt((offsets ** 2).mean(1))
    assert per.min() > 0.85 * lo and per.max() < 1.15 * hi
    assert np.quantile(per, 0.1) < 2 * lo and np.quantile(per, 0.9) > hi / 2
    for bad in ({"scales": (0.2, 0.02)}, {"scales": (0.0, 0.2)}, {"wide": 1.5}, {"top": 0}):
        with pytest.raises(ValueError, match="scales"):
            candidates(Z, y, 10, np.random.default_rng(0), **bad)


class _Rings:
    """A stand-in model whose decoder writes how far a point lies from `centre`, in steps of
    `width`: every point within `known` steps decodes to a text already scored."""

    def __init__(self, centre, width):
        self.centre, self.width = centre, width
        self.language = type("Plain", (), {"canonical": staticmethod(str)})()

    def decode(self, points):
        return [str(int(np.linalg.norm(p - self.centre) / self.width)) for p in points]


def test_a_short_batch_is_filled_from_candidates_reaching_further(synthetic, fitted):
    """Every candidate near the best points decodes to a text scored already (only the ring of
    distances 0-1 around them is reached at first): the picks are drawn again, further out,
    until the batch holds `batch` new texts, and the round records every decode."""
    from grammarvae.design.bayesopt import REACHES, _Picker, candidates

    Z, y, _, _ = synthetic
    best = Z[np.argmax(y)]
    width = 0.5 * Z.std(0).max()  # steps of up to 0.2 spreads around the best stay in ring 0 or 1
    model = _Rings(best, width)
    seen = {str(i) for i in range(2)}
    rounds = []
    draw = partial(candidates, top=1)
    picker = _Picker(model, draw, seen, batch=5, spare=2, n_candidates=300, rounds=rounds)
    points, predicted, ei, texts = picker.new_picks(fitted, Z, y, np.random.default_rng(0))
    assert len(texts) == len(set(texts)) == 5 and not set(texts) & {"0", "1"}
    assert texts == model.decode(points) and len(points) == len(predicted) == len(ei) == 5
    decoded, found = rounds[0]
    assert found == 5 and decoded > 2 * 5   # the first reach's 10 picks found none
    # at the first reach alone, the same draw finds nothing new
    first = propose(fitted, Z, y, 10, np.random.default_rng(0), 300, partial(draw, reach=REACHES[0]))[0]
    assert set(model.decode(first)) <= {"0", "1"}


@pytest.fixture(scope="module")
def tiny():
    from grammarvae import GrammarVAE

    return GrammarVAE(preset="tiny", seed=0)


START = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "CC(C)Cc1ccc(C(C)C(=O)O)cc1",
         "O=C(O)c1ccccc1O", "CCCCCC", "c1ccc2ccccc2c1", "C1CCNCC1", "C1CC"]


def test_optimisation_runs_end_to_end_and_every_proposal_is_valid_and_scored(tiny, tmp_path):
    run = optimize(tiny, START, "logp", iterations=2, batch=5, seed=0, num_inducing=5, max_iters=20,
                   n_candidates=50)
    iterations = [p.iteration for p in run.proposals]
    assert iterations and iterations == sorted(iterations) and set(iterations) <= {1, 2} and len(iterations) <= 10
    # the second GP was fit on the first one's points and every scored proposal of iteration 1
    assert len(run.fits) == 2 and run.fits[1] == run.fits[0] + iterations.count(1)
    for p in run.proposals:
        assert Chem.MolFromSmiles(p.smiles) is not None
        assert p.score == pytest.approx(score([p.smiles], "logp").values[0]) and p.reason is None
    assert run.data_best == pytest.approx(np.nanmax(score(START, "logp").values))
    best = run.best_per_iteration()
    assert len(best) == 3 and best == sorted(best)
    path = tmp_path / "r.csv"
    run.write_csv(path)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(int(r["iteration"]), r["smiles"]) for r in rows] == [(p.iteration, p.smiles) for p in run.proposals]
    assert {"iteration", "smiles", "score"} <= set(rows[0])


def test_a_batch_holds_only_molecules_not_scored_before(tiny):
    """Nearby latent points of an untrained model decode to few molecules: without the check,
    one batch of plain picks repeats some (the baseline); with it no proposal repeats another,
    a starting molecule or a starting latent's decode."""
    from grammarvae.chem import canonical

    good = START[:-1]  # the last cannot be read
    Z, y = tiny.encode(good).astype("float64"), score(good, "logp").values
    gp = LatentGP(num_inducing=5, max_iters=10, seed=0).fit(Z, y)
    plain = tiny.decode(propose(gp, Z, y, 8, np.random.default_rng(0), n_candidates=60)[0].astype("float32"))
    assert len(set(plain)) < len(plain)
    run = optimize(tiny, START, "logp", iterations=2, batch=8, seed=0, num_inducing=5, max_iters=10,
                   n_candidates=60)
    found = [canonical(p.smiles) for p in run.proposals]
    scored = {canonical(s) for s in good} | {canonical(s) for s in tiny.decode(tiny.encode(good))}
    assert found and len(set(found)) == len(found) and not set(found) & scored
    with pytest.raises(ValueError, match="spare must be >= 1"):
        optimize(tiny, START, "logp", spare=0)


def test_minimising_a_property_is_maximising_its_negation(tiny):
    common = dict(iterations=2, batch=4, seed=0, num_inducing=4, max_iters=10, n_candidates=40)
    low = optimize(tiny, START, "logp", minimize=True, **common)

    def negated_logp(smiles: str) -> float:  # a target given as a function of one text
        return -float(score([smiles], "logp").values[0])

    high = optimize(tiny, START, negated_logp, **common)  # the largest -logP
    assert low.proposals and [p.smiles for p in low.proposals] == [p.smiles for p in high.proposals]
    np.testing.assert_allclose([p.score for p in low.proposals], [-p.score for p in high.proposals])
    np.testing.assert_allclose([p.predicted for p in low.proposals], [-p.predicted for p in high.proposals])
    assert low.data_best == pytest.approx(np.nanmin(score(START, "logp").values)) == -high.data_best
    curve = low.best_per_iteration()
    assert curve == sorted(curve, reverse=True) and curve == pytest.approx([-v for v in high.best_per_iteration()])
    best = low.best(3)
    assert [p.smiles for p in best] == [p.smiles for p in high.best(3)]
    assert [p.score for p in best] == sorted(p.score for p in best)


def test_the_same_seed_gives_the_same_proposals(tiny):
    def smiles(seed):
        run = optimize(tiny, START, "qed", iterations=1, batch=4, seed=seed, num_inducing=4, max_iters=10,
                       n_candidates=40)
        return [(p.smiles, p.predicted) for p in run.proposals]

    first = smiles(0)
    assert smiles(0) == first
    assert smiles(1) != first


def test_attribute_vector_points_from_without_to_with():
    rng = np.random.default_rng(2)
    d = 16
    true = np.zeros(d)
    true[3] = 2.0
    Z_with, Z_without = rng.standard_normal((200, d)) + true, rng.standard_normal((200, d))
    v = attribute_vector(Z_with, Z_without)
    assert v @ true / (np.linalg.norm(v) * np.linalg.norm(true)) > 0.9
    # a property that grows along w: the top-minus-bottom direction lines up with w; for a
    # random direction the cosine is about 1/sqrt(d) = 0.25
    w = rng.standard_normal(d)
    Z = rng.standard_normal((1000, d))
    u = property_direction(Z, Z @ w + 0.1 * rng.standard_normal(1000))
    assert u @ w / (np.linalg.norm(u) * np.linalg.norm(w)) > 0.9
    with pytest.raises(ValueError, match="no finite latent points without"):
        attribute_vector(Z_with, np.full((3, d), np.nan))


def test_shift_starts_at_the_molecule_and_walks_the_line(tiny):
    direction = np.ones(tiny.latent_dim, dtype="float32")
    path = shift(tiny, "CC(=O)Nc1ccc(O)cc1", direction, steps=4, scale=3.0)
    assert [t for t, _ in path] == pytest.approx([0.0, 1.0, 2.0, 3.0])
    z0 = tiny.encode(["CC(=O)Nc1ccc(O)cc1"])[0]
    assert [s for _, s in path] == tiny.decode(z0 + np.array([0.0, 1.0, 2.0, 3.0], dtype="float32")[:, None] * direction)
    with pytest.raises(ValueError, match="finite numbers"):
        shift(tiny, "CCO", np.full(tiny.latent_dim, np.nan))
