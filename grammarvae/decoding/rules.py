"""The masked decoder's rules, each stated once as a small function.

At a decoding step, molecule i may take one of W candidate productions: those of the
nonterminal on top of its stack. Each rule reads `c`, the candidates' attributes, arrays
of shape (n, W) (see `Candidates`), and `m`, the molecules' quantities, columns of shape
(n, 1) (see `state.DecodeState.situation`), and returns an (n, W) boolean array.

Hard rules must all hold; a molecule not yet finished always has a production that passes
them all (the step budget guarantees it). Soft rules are preferences applied in tiers: a
tier removes the candidates that break one of its rules, unless that would remove every
candidate left.

A decoding step does not call these functions: `tables.py` evaluates each once, when a
decoder is made, for every symbol and situation it reads, and a step reads the answers by
index (`DecodeState.keep_directly` calls them, and a test checks both agree at every step).
A rule must therefore work elementwise on broadcast arrays, as all of these do.
"""

from __future__ import annotations

import numpy as np

from grammarvae.decoding.chemistry import (ANY_CHARGE, IS_STEREO_ELEMENT, IS_UNMARKABLE, MAX_OPEN_RINGS, STEPS_FOR_A_CHARGE,
                                           STEPS_TO_CLOSE_A_RING, charge_column, valence)

NEUTRAL = charge_column(0)


# ------------------------------------------------------------------ hard rules
def grammatical(c, m):
    """A production of the nonterminal on top of the stack, usable by the decoder."""
    return c.candidate


def finishable(c, m):
    """The fewest steps that finish the derivation after it still fit in the steps left."""
    return c.steps_needed <= m.steps_left


def fits_valence(c, m):
    """The bonds and hydrogens it commits the current atom to fit in the atom's free valence
    (for one that changes the atom's charge states, in the valence of the new ones: see
    `charge_holds_bonds`)."""
    return (c.bonds_on_owner <= m.room) | (c.charge >= 0)


def element_holds_bonds(c, m):
    """An element is chosen only if, in a charge state its atom may still end in, its valence
    holds the bonds the atom already has (row 0 of the table, no element, holds any)."""
    return valence(c.element, m.charge) >= m.bonds_used


def charge_holds_bonds(c, m):
    """A production that settles or narrows the atom's charge states (no charge after all, a
    sign, a charge) leaves one whose valence holds the atom's bonds and the hydrogens it adds."""
    return (c.charge < 0) | (valence(m.element, c.charge) >= m.bonds_used + c.bonds_on_owner)


def time_for_a_charge(c, m):
    """A bracket atom's element that holds its bonds only when charged, or that takes no
    lone chiral mark, leaves time for the longer end of its bracket (`STEPS_FOR_A_CHARGE`
    more than `bracket_chiral -> chiral`)."""
    longer = (c.element > 0) & (m.charge == ANY_CHARGE) & (
        (valence(c.element, NEUTRAL) < m.bonds_used) | IS_UNMARKABLE.take(c.element))
    return ~longer | (c.steps_needed + STEPS_FOR_A_CHARGE <= m.steps_left)


def chiral_mark_readable(c, m):
    """No chiral mark on an element RDKit reads none on (hydrogen)."""
    return ~(c.pushes_chiral & IS_UNMARKABLE[m.element])


def labels_to_write(c, m):
    """It commits the atom to ring bonds only if that many labels can be written: rings
    that may close on the atom, or labels not in use."""
    return c.labels_needed <= m.n_closable + m.n_free


def label_usable(c, m):
    """A ring label closes a ring that may close on the current atom, or opens a new one
    with a label not in use. (An open ring may not close on the atom that opened it, on the
    atom it came from, or on an atom already bonded to its opener.)"""
    return (c.label == 0) | c.label_closable | (~c.label_open & (m.n_free > 0))


HARD_RULES = (grammatical, finishable, fits_valence, element_holds_bonds, charge_holds_bonds, time_for_a_charge,
              chiral_mark_readable, labels_to_write, label_usable)


# ------------------------------------------------------------------ soft rules
def chiral_mark_off_a_stereocentre(c, m):
    """A chiral mark on an element that is no tetrahedral stereocentre (chemistry.STEREO_ELEMENTS)."""
    return c.pushes_chiral & ~IS_STEREO_ELEMENT[m.element]


def ring_bond_with_nothing_to_close(c, m):
    """At the last atom, a ring bond though no open ring can close on it."""
    return c.atom_with_ring_only & m.last_atom & (m.n_closable == 0)


def opens_a_ring_late(c, m):
    """A new ring opened at the last atom, or with MAX_OPEN_RINGS already open."""
    return (c.label > 0) & ~c.label_closable & (m.last_atom | (m.n_open >= MAX_OPEN_RINGS))


def no_steps_to_close_rings(c, m):
    """Too few steps would be left to close the rings now open (those the production's own
    ring labels may close are in its fewest steps already)."""
    return c.steps_needed + STEPS_TO_CLOSE_A_RING * np.maximum(m.n_open - c.labels_needed, 0) > m.steps_left


def closes_an_avoided_ring(c, m):
    """It closes a ring of a size the decoder was asked to avoid (`MaskedDecoder(avoid_rings=)`:
    the ring the closure makes is the shortest path between the two atoms, plus the new bond)."""
    return c.label_closable & c.label_avoided


SOFT_TIERS = (
    (chiral_mark_off_a_stereocentre,),
    (closes_an_avoided_ring,),
    (ring_bond_with_nothing_to_close, opens_a_ring_late, no_steps_to_close_rings),
)
# Not a rule: steering the last atom to close the rings still open (ending the chain later,
# taking ring bonds, closing several). It closed rings the network had not asked for (with
# the bundled one-shot model, prior samples with an 8+ ring rose from 37% to 51%, with a
# 3-4 ring from 27% to 41%); a ring still open at the end is dropped instead.


def row_any(mask: np.ndarray) -> np.ndarray:
    """mask.any(axis=1) for an (n, W) bool array with W a multiple of 8, read as 64-bit words
    (numpy's reduction is several times slower on such short rows)."""
    words = np.ascontiguousarray(mask).view(np.uint64)
    out = words[:, 0] != 0
    for j in range(1, words.shape[1]):
        out |= words[:, j] != 0
    return out


def combine(hard, tiers, nonempty):
    """The candidates kept, from each hard rule's result and each soft tier's rules' results
    (True: broken): all hard rules hold, then each tier in turn removes the candidates that
    break one of its rules, unless that would remove every candidate left. `nonempty(x)`:
    whether a molecule keeps any candidate in x, broadcastable against x. The same for
    (n, W) booleans (`keep`) and for one integer of candidate bits per molecule (`tables`)."""
    ok = hard[0]
    for result in hard[1:]:
        ok = ok & result
    for tier in tiers:
        broken = tier[0]
        for result in tier[1:]:
            broken = broken | result
        passing = ok & ~broken
        ok = np.where(nonempty(passing), passing, ok)
    return ok


def keep(c, m) -> np.ndarray:
    """(n, W) bool: the candidates each molecule may take, hard rules and soft tiers applied
    (the rules evaluated directly; a decoding step reads them from `tables.RuleTables`)."""
    return combine([rule(c, m) for rule in HARD_RULES], [[rule(c, m) for rule in tier] for tier in SOFT_TIERS],
                   nonempty=lambda x: row_any(x)[:, None])
