"""The tabulated rules (`decoding/tables.py`) against the rules of `rules.py` evaluated directly."""

import numpy as np
import pytest

from grammarvae.decoding import MaskedDecoder, rules
from grammarvae.decoding.tables import RuleTables
from grammarvae.grammar import Grammar


@pytest.fixture(scope="module")
def decoder():
    return MaskedDecoder(Grammar.load("zinc"))


@pytest.mark.parametrize("steps, scale, greedy, avoid", [(277, 2.0, True, None), (277, 4.0, False, None),
                                                         (60, 1.0, False, None), (277, 3.0, False, "3,4,7+")])
def test_tables_keep_what_the_rules_keep_at_every_step(decoder, steps, scale, greedy, avoid):
    """Every step of decodes of random logits (short budgets included, where steps left and
    open rings bite; ring sizes avoided): the candidates the tables keep are those the rules
    kept, evaluated directly, for every molecule."""
    decoder = decoder if avoid is None else MaskedDecoder(decoder.g, avoid_rings=avoid)
    rng = np.random.default_rng(11)
    logits = rng.normal(scale=scale, size=(200, steps, decoder.g.n_productions)).astype("float32")
    state, checked, differing = decoder.start(len(logits), steps), 0, 0
    while not state.all_finished:
        at = state.batch_row
        direct = state.keep_directly()
        tabulated = decoder.tables.unpacked(state._rules()[1])
        differing += int((direct != tabulated).any(1).sum())
        checked += len(state)
        state.advance(state.choose(logits[at, state.t], greedy=greedy, rng=rng))
    assert checked > 200 * 30 and differing == 0


@pytest.mark.parametrize("avoid", [None, "4,8+"])
def test_the_tables_read_each_rule_it_tabulates(decoder, avoid):
    """Each rule is in exactly one table, and a table reads what its rules read; the rule of
    avoided ring sizes only where sizes are avoided."""
    decoder = decoder if avoid is None else MaskedDecoder(decoder.g, avoid_rings=avoid)
    tables = decoder.tables.hard + [t for tier in decoder.tables.tiers for t in tier]
    names = [n for t in tables for n in t.name.split(" and ")]
    expected = [r.__name__ for r in rules.HARD_RULES] + [r.__name__ for tier in rules.SOFT_TIERS for r in tier]
    assert sorted(names + ([] if avoid else ["closes_an_avoided_ring"])) == sorted(expected)
    assert "steps_left" in next(t for t in tables if "finishable" in t.name).fields
    assert len(decoder.tables.tiers) == len(rules.SOFT_TIERS) - (avoid is None)


def test_a_rule_that_reads_a_quantity_beyond_its_range_is_refused(decoder, monkeypatch):
    """A rule whose answer changes below the room the tables hold (-1) cannot be tabulated
    exactly: making the tables says which rule and which quantity."""
    def room_beyond(c, m):
        return m.room > -5

    monkeypatch.setattr(rules, "HARD_RULES", rules.HARD_RULES + (room_beyond,))
    with pytest.raises(ValueError, match=r"rule room_beyond reads room beyond \(-1, "):
        RuleTables(decoder.windows)


def test_a_rule_that_reads_steps_left_too_far_is_refused(decoder, monkeypatch):
    """Steps left are tabulated up to a cap past which no rule changes; a rule with no such
    cap (below tables.MAX_STEPS_LEFT) is refused by name."""
    def far_ahead(c, m):
        return m.steps_left > 5000

    monkeypatch.setattr(rules, "HARD_RULES", rules.HARD_RULES + (far_ahead,))
    with pytest.raises(ValueError, match=r"rule far_ahead reads steps_left beyond \(0, 3328\)"):
        RuleTables(decoder.windows)
