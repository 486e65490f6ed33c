"""The prior sampling draws from: N(0, I), or a fitted aggregate posterior (vae_core.priors)."""

from __future__ import annotations

import numpy as np
import pytest

from grammarvae.cli.main import main
from vae_core.priors import AggregatePosterior, normal_stream

MOLECULES = ["CCO", "c1ccccc1O", "CCN", "CC(=O)O", "CCCC", "C1CCCCC1", "CC=O", "OCCO", "CC(C)N", "COC"]


def _bank(means, log_vars, scale):
    prior = AggregatePosterior(len(means), np.shape(means)[1], scale)
    return prior.fit(np.asarray(means), np.asarray(log_vars))


def test_one_posterior_widened_has_its_mean_and_scale_times_its_spread():
    mean, log_var = np.array([[1.0, -2.0, 0.5]]), np.log(np.array([[0.25, 1.0, 4.0]]))
    z = _bank(mean, log_var, 3.0).draw(40_000, seed=1)
    std = 3.0 * np.sqrt([0.25, 1.0, 4.0])  # the closed form
    assert z.shape == (40_000, 3) and z.dtype == np.float32
    np.testing.assert_allclose(z.mean(0), mean[0], atol=float(4 * std.max() / np.sqrt(len(z))))
    np.testing.assert_allclose(z.std(0), std, rtol=0.02)


def test_a_draw_comes_from_one_bank_row_chosen_uniformly():
    means = np.array([[-100.0, 0.0], [100.0, 0.0]])
    z = _bank(means, np.log(np.full((2, 2), 0.01)), 1.0).draw(4000, seed=0)
    near = np.abs(z[:, :1] - means[:, 0]).min(1) < 1.0  # within 10 standard deviations of a row
    assert near.all()
    share = (z[:, 0] > 0).mean()
    assert abs(share - 0.5) < 4 * 0.5 / np.sqrt(4000)


def test_draws_are_seeded_and_a_stream_taken_in_chunks_is_one_draw():
    prior = _bank(np.random.default_rng(0).normal(size=(7, 4)), np.zeros((7, 4)), 2.0)
    whole = prior.draw(9, seed=5)
    take = prior.stream(5)
    np.testing.assert_array_equal(np.concatenate([take(2), take(3), take(4)]), whole)
    np.testing.assert_array_equal(prior.draw(9, seed=5), whole)
    assert not np.array_equal(prior.draw(9, seed=6), whole)
    normal = normal_stream(4, seed=3)
    np.testing.assert_array_equal(np.concatenate([normal(5), normal(4)]), normal_stream(4, seed=3)(9))


def test_the_bank_refuses_what_it_cannot_hold():
    prior = AggregatePosterior(3, 2)
    with pytest.raises(ValueError, match=r"means and log_vars must both be \(n, 2\); got \(3, 2\) and \(3, 3\)"):
        prior.fit(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="2 encoded examples for a bank of 3"):
        prior.fit(np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="hold NaN or inf"):
        prior.fit(np.full((3, 2), np.nan), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="scale must be a finite number > 0, got 0"):
        AggregatePosterior(3, 2, scale=0)


@pytest.fixture(scope="module")
def tiny():
    from grammarvae import GrammarVAE

    return GrammarVAE(preset="tiny", seed=0)


def test_a_fitted_prior_is_saved_with_the_model_and_sampled_by_default(tiny, tmp_path):
    from grammarvae import GrammarVAE

    assert tiny.prior is None and tiny.default_prior == "normal"
    with pytest.raises(ValueError, match=r"no fitted prior \(GrammarVAE.with_prior\)"):
        tiny.sample(3, prior="aggregate")
    fitted = tiny.with_prior(MOLECULES, size=6, scale=2.0, seed=1)
    assert fitted.prior.size == 6 and fitted.default_prior == "aggregate" and tiny.prior is None
    # The network is the same: the same latents, and N(0, I) samples are the plain model's.
    np.testing.assert_array_equal(fitted.encode(MOLECULES), tiny.encode(MOLECULES))
    assert fitted.sample(12, seed=0, prior="normal") == tiny.sample(12, seed=0)
    # The bank holds the posteriors of 6 of the molecules.
    means, log_vars = tiny.encode_ids(tiny.to_ids(MOLECULES), return_log_var=True)
    bank = fitted.prior.means.numpy()
    rows = [int(np.flatnonzero((means == row).all(1))[0]) for row in bank]
    assert len(set(rows)) == 6
    np.testing.assert_array_equal(fitted.prior.log_vars.numpy(), log_vars[rows])
    samples = fitted.sample(12, seed=0)
    assert samples == fitted.decode(fitted.prior.draw(12, seed=0), avoid_rings=fitted.default_avoid_rings)
    assert [s for part in fitted.sample_chunks(12, seed=0, chunk=1024) for s in part] == samples
    fitted.save(tmp_path / "with_prior.keras")
    loaded = GrammarVAE.load(tmp_path / "with_prior.keras")
    np.testing.assert_array_equal(loaded.prior.means.numpy(), bank)
    assert loaded.prior.scale == 2.0 and loaded.sample(12, seed=0) == samples


def test_a_narrow_prior_decodes_the_reconstructions_of_its_bank():
    from grammarvae import GrammarVAE

    model = GrammarVAE.pretrained("zinc")
    bank = ["CCOC(=O)c1ccc(N)cc1", "Cc1ccccc1NC(=O)C", "O=C(O)c1ccccc1O", "CN1CCN(C)CC1"]
    fitted = model.with_prior(bank, size=4, scale=1e-4)
    back = set(model.decode(model.encode(bank)))
    assert set(fitted.sample(40, seed=0)) == back


def test_cli_fit_prior_then_sample_from_it_or_from_the_normal_prior(tiny, tmp_path, capsys):
    from grammarvae import GrammarVAE

    plain = tmp_path / "plain.keras"
    tiny.save(plain)
    data = tmp_path / "train.smi"
    data.write_text("\n".join(MOLECULES) + "\n")
    code = main(["sample", "-n", "4", "--prior", "aggregate", "--model", str(plain)])
    assert code == 2 and capsys.readouterr().err.strip().endswith(
        "--prior aggregate: this model has no fitted prior (make one with grammarvae fit-prior)")
    out = tmp_path / "fitted.keras"
    assert main(["fit-prior", str(data), "--model", str(plain), "-o", str(out), "--size", "5", "--scale", "2"]) == 0
    assert "a prior of 5 molecules' posteriors, widened 2 times" in capsys.readouterr().err
    fitted = GrammarVAE.load(out)
    assert fitted.prior.size == 5
    assert main(["sample", "-n", "6", "--model", str(out)]) == 0
    assert capsys.readouterr().out.split() == fitted.decode(fitted.prior.draw(6, seed=0), avoid_rings="4,8+")
    assert main(["sample", "-n", "6", "--prior", "normal", "--model", str(out)]) == 0
    assert capsys.readouterr().out.split() == tiny.decode(normal_stream(tiny.latent_dim, 0)(6), avoid_rings="4,8+")
    with pytest.raises(SystemExit) as info:
        main(["fit-prior", str(data), "--model", str(plain), "-o", str(out), "--scale", "0"])
    assert info.value.code == 2 and "--scale: 0 is not a finite number > 0" in capsys.readouterr().err
