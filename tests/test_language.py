"""Any grammar, not only SMILES: the plain language, and the paper's expression task."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from grammarvae.equations import POINTS, TARGET, WORST, evaluate, generate, score
from grammarvae.grammar import Grammar


@pytest.fixture(scope="module")
def g():
    return Grammar.load("equations")


@pytest.mark.parametrize("text, closed_form", [
    ("1/3+x+sin(x*x)", lambda x: 1 / 3 + x + np.sin(x * x)),
    ("exp(x)/2", lambda x: np.exp(x) / 2),
    ("(x+1)*3", lambda x: (x + 1) * 3),
    ("sin(exp(1))", lambda x: np.full_like(x, np.sin(np.e))),
    ("x/2/3*x", lambda x: x / 2 / 3 * x),  # left to right, as the grammar nests it
])
def test_an_expression_evaluates_as_numpy_computes_it(g, text, closed_form):
    x = np.linspace(-3, 3, 7)
    np.testing.assert_allclose(evaluate(g, text, x), closed_form(x), rtol=1e-12)


def test_the_score_is_log1p_of_the_capped_mean_squared_error(g):
    y = 1 / 3 + POINTS + np.sin(POINTS * POINTS)
    assert score(g, TARGET) == 0.0
    assert score(g, "x+sin(x*x)") == pytest.approx(np.log(1 + 1 / 9), rel=1e-12)
    capped = np.log(1 + np.mean(np.minimum((np.exp(POINTS * POINTS) - y) ** 2, 1000.0)))
    assert score(g, "exp(x*x)") == pytest.approx(capped, rel=1e-12)
    nan = "exp(exp(exp(x)))/exp(exp(exp(x)))"  # inf / inf where x is large
    assert np.isnan(evaluate(g, nan, POINTS)).any() and score(g, nan) == np.log(1 + WORST)


def test_generated_expressions_are_distinct_derivations_within_the_steps(g):
    first = generate(g, 300, max_steps=15, seed=1)
    assert first == generate(g, 300, max_steps=15, seed=1) and first != generate(g, 300, max_steps=15, seed=2)
    assert len(set(first)) == 300
    lengths = [len(g.parse(e)) for e in first]
    assert max(lengths) <= 15 and min(lengths) >= 2
    with pytest.raises(ValueError, match="found only 4 distinct expressions of at most 2 steps"):
        generate(g, 5, max_steps=2)  # S -> T, then x, 1, 2 or 3


def test_the_plain_language_path_imports_no_rdkit(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        sys.modules["rdkit"] = None  # any import of RDKit now fails
        from grammarvae import GrammarVAE
        m = GrammarVAE(preset="tiny", grammar="equations", language="plain", max_len=15, seed=0)
        z = m.encode(["x+sin(x*x)", "exp(1)/x"])
        out = m.decode(z) + m.decode(z, beam_width=2) + m.sample(4, seed=0)
        m = m.with_prior(["x", "x+1", "sin(x)", "exp(x)"], size=4)
        m.save({str(tmp_path / "eq.keras")!r})
        assert GrammarVAE.load({str(tmp_path / "eq.keras")!r}).sample(4, seed=0) == m.sample(4, seed=0)
        print(len(out), "rdkit" in sys.modules and sys.modules["rdkit"] is not None)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["8", "False"]


@pytest.mark.parametrize("decoder", ["one-shot", "autoregressive"])
def test_any_weights_decode_to_expressions_of_the_grammar(g, decoder):
    from grammarvae import GrammarVAE

    m = GrammarVAE(preset="tiny", grammar="equations", language="plain", max_len=15, decoder=decoder, seed=3)
    z = np.random.default_rng(0).standard_normal((200, m.latent_dim)).astype("float32") * 3
    for texts in (m.decode(z), m.decode(z, greedy=False, seed=1), m.decode(z[:40], beam_width=3)):
        res = g.encode_checked(texts, max_len=15)
        assert res.ok.all(), res.errors[:3]
    assert m.decode_stats.molecules == 40 and m.decode_stats.dropped_rings == 0


def test_molecule_options_are_refused_for_plain_text():
    from grammarvae import GrammarVAE

    m = GrammarVAE(preset="tiny", grammar="equations", language="plain", max_len=15, seed=0)
    with pytest.raises(ValueError, match="neutralize and strip_stereo are for molecules; this model's language is plain"):
        m.encode(["x"], neutralize=True)
    with pytest.raises(ValueError, match="unknown language 'smile'; one of smiles, plain"):
        GrammarVAE(preset="tiny", language="smile")
    assert GrammarVAE.from_config(m.get_config()).language.name == "plain"
    assert GrammarVAE(preset="tiny").get_config()["language"] == "smiles"


def test_bayesian_optimisation_takes_a_score_function_for_any_language(g):
    from grammarvae import GrammarVAE
    from grammarvae.design import optimize

    m = GrammarVAE(preset="tiny", grammar="equations", language="plain", max_len=15, seed=0)
    data = generate(g, 120, max_steps=15, seed=0)

    def fit(text):
        return score(g, text)

    run = optimize(m, data, fit, iterations=1, batch=5, seed=0, num_inducing=20, max_iters=20, minimize=True,
                   score_decoded=False)
    assert run.target == "fit" and 1 <= len(run.proposals) <= 5
    for p in run.proposals:
        assert g.encode_checked([p.smiles], max_len=15).ok[0] and p.score == score(g, p.smiles)
        assert p.smiles not in set(data)


def test_the_cli_reads_and_writes_plain_text_and_refuses_molecule_work(tmp_path, capsys):
    from grammarvae import GrammarVAE
    from grammarvae.cli.main import main

    model = tmp_path / "eq.keras"
    m = GrammarVAE(preset="tiny", grammar="equations", language="plain", max_len=15, seed=0)
    m.save(model)
    given = tmp_path / "in.txt"
    given.write_text("x+sin(x*x)\nexp(1)/x\nnot one\n")
    assert main(["encode", str(given), "-o", str(tmp_path / "z.npy"), "--model", str(model)]) == 1
    assert f"{given}:3: 'not': unknown symbol 'n' at position 0" in capsys.readouterr().err
    assert main(["decode", str(tmp_path / "z.npy"), "--model", str(model)]) == 0
    z = np.load(tmp_path / "z.npy")
    assert capsys.readouterr().out.split("\n")[:2] == m.decode(z[:2])
    assert main(["sample", "-n", "5", "--model", str(model)]) == 0
    assert capsys.readouterr().out.split() == m.sample(5, seed=0)
    assert main(["interpolate", "x", "exp(x)", "--steps", "3", "--model", str(model)]) == 0
    assert len(capsys.readouterr().out.split()) == 3
    for argv, what in ((["sample", "-n", "3", "--image", str(tmp_path / "s.png")], "--image"),
                       (["evaluate", "--test", str(given)], "evaluate"),
                       (["encode", str(given), "-o", str(tmp_path / "y.npy"), "--neutralize"], "--neutralize")):
        assert main(argv + ["--model", str(model)]) == 2
        assert capsys.readouterr().err.strip().endswith(
            f"{what} is for molecule models; {model} writes plain text of the grammar equations")


def test_the_fit_score_is_the_papers_score_named_for_its_target(g):
    from grammarvae.equations import fit

    paper = fit(g)
    assert paper.__name__ == f"fit to {TARGET}" and paper(TARGET) == 0.0
    assert paper("x+sin(x*x)") == score(g, "x+sin(x*x)")
    square = fit(g, "x*x")
    y = POINTS ** 2
    assert square("x") == pytest.approx(np.log1p(np.mean(np.minimum((POINTS - y) ** 2, WORST))), rel=1e-12)
    with pytest.raises(ValueError, match=r"'exp\(exp\(x\)\)' is not finite everywhere on the points"):
        fit(g, "exp(exp(x))")
    with pytest.raises(ValueError, match="unknown symbol 'y'"):
        fit(g, "x+y")


def test_the_cli_trains_a_plain_grammar_model_and_optimises_its_fit(g, tmp_path, capsys):
    import csv

    from grammarvae import GrammarVAE
    from grammarvae.cli.main import main
    from grammarvae.equations import fit

    data = tmp_path / "expressions.txt"
    data.write_text("\n".join(generate(g, 150, max_steps=15, seed=0)) + "\n")
    model = tmp_path / "eq.keras"
    assert main(["train", str(data), "--grammar", "equations", "--language", "plain", "--preset", "tiny",
                 "--max-len", "15", "--epochs", "1", "--batch-size", "32", "-o", str(model)]) == 0
    m = GrammarVAE.load(model)
    assert (m.language.name, m.grammar_name, m.max_len) == ("plain", "equations", 15)
    assert all(g.encode_checked([s], max_len=15).ok[0] for s in m.sample(20, seed=0))
    for argv, said in ((["--resume", "--grammar", "equations"], "--grammar: a run started from its checkpoint "
                                                                 "keeps that model's grammar and language"),
                       (["--language", "plain"], "--language plain: name the grammar its texts are of"),
                       (["--grammar", "equations", "--language", "plain", "--max-len", "15"],  # preset small's kernels
                        "max_len 15 is too short for the convolutions (kernels 9, 9, 11 need 27 steps at the least)")):
        assert main(["train", str(data), "-o", str(tmp_path / "other.keras")] + argv) == 2
        assert said in capsys.readouterr().err
    capsys.readouterr()
    # Optimised with the bundled model (a tiny one's decodes are a few, all of them seen already).
    model = "equations"
    out = tmp_path / "bo.csv"
    assert main(["optimize", str(data), "--model", model, "--iterations", "1", "--batch", "5",
                 "--inducing", "20", "--target", "x*x", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("best fit to x*x in the data: ")
    rows = list(csv.DictReader(out.open()))
    assert 1 <= len(rows) <= 5 and list(rows[0])[:3] == ["iteration", "text", "score"]
    square = fit(g, "x*x")
    for r in rows:  # each proposal, scored by its fit to the target (lower is better)
        assert float(r["score"]) == pytest.approx(square(r["text"]), rel=1e-5)
    for argv, said in ((["--property", "qed"], "--property is for molecule models"),
                       (["--target", "x+y"], "--target: SMILES 'x+y': unknown symbol 'y'")):
        assert main(["optimize", str(data), "--model", model, "-o", str(out)] + argv) == 2
        assert said in capsys.readouterr().err


def test_the_equations_preset_is_the_bundled_expression_network():
    from grammarvae import GrammarVAE

    bundled = GrammarVAE.pretrained("equations")
    fresh = GrammarVAE(preset="equations", grammar="equations", language="plain", seed=0)
    assert fresh.max_len == bundled.max_len == 15
    assert [w.shape for w in fresh.get_weights()] == [w.shape for w in bundled.get_weights()]
