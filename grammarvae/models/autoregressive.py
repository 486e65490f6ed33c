"""Masked decoding driven by an autoregressive network: greedy, sampled and beam search.

The network (`vae_core.AutoregressiveGRUDecoder`) is stepped once per production, fed the
production just chosen; the masked state (`MaskedDecoder.start`) says which productions
each molecule may take, so every result is a valid molecule whatever the weights.

    >>> ids, dropped = masked_generate(engine, network, z, steps=160, greedy=True)
    >>> ids, dropped = masked_beam_search(engine, network, z, steps=160, beam_width=8)
    >>> ids, dropped = masked_beam_search(engine, PrecomputedLogits(logits), z, 160, 8)  # one-shot
"""

from __future__ import annotations

import numpy as np
from keras import ops

from vae_core import select_rows


class PrecomputedLogits:
    """A one-shot decoder's logits (batch, steps, n_productions) behind the stepping interface
    of an autoregressive network, so that beam search serves both: the state is each row's
    molecule and step, and what was chosen does not change the next logits."""

    def __init__(self, logits: np.ndarray):
        self.logits = np.asarray(logits)

    def start(self, z):
        n = len(z)
        return np.arange(n), np.zeros(n, dtype=np.int64)

    def step(self, previous, state):
        rows, t = (np.asarray(s) for s in state)
        return self.logits[rows, t], (rows, t + 1)


def _numpy(x) -> np.ndarray:
    """A step's logits as numpy; ValueError if any is NaN or inf (weights gone bad), so that
    such a model never decodes to junk."""
    x = np.asarray(ops.convert_to_numpy(x))
    if not np.isfinite(x).all():
        raise ValueError(NOT_FINITE)
    return x


NOT_FINITE = "the decoder's outputs are not finite: the model's weights hold NaN or inf"


def masked_generate(engine, network, z: np.ndarray, steps: int, greedy: bool = True,
                    temperature: float = 1.0, seed: int | None = 0, compact: int = 64):
    """Each molecule takes, step by step, its most likely allowed production (greedy) or one
    sampled at `temperature`; rows whose derivation has ended leave the network's batch once
    `compact` of them (or a quarter) have. Returns `DecodeState.result()`."""
    z = np.asarray(z, dtype="float32")
    state = engine.start(len(z), steps)
    rng = None if greedy else np.random.default_rng(seed)
    hidden = network.start(z)
    previous = np.full(len(z), -1, dtype=np.int32)
    while not state.all_finished:
        kept = state.drop_finished(at_least=max(compact, len(state) // 4))
        if kept is not None:
            previous, hidden = previous[kept], select_rows(hidden, kept)
        logits, hidden = network.step(previous, hidden)
        previous = state.choose(_numpy(logits), greedy=greedy, temperature=temperature, rng=rng)
        state.advance(previous)
    return state.result()


def _masked_log_softmax(logits: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """log softmax over the True entries of each row; -inf elsewhere."""
    x = np.where(mask, logits.astype(np.float64), -np.inf)
    top = x.max(axis=1, keepdims=True)
    return x - top - np.log(np.exp(x - top).sum(axis=1, keepdims=True))


def masked_beam_search(engine, network, z: np.ndarray, steps: int, beam_width: int = 8):
    """For each z, the allowed derivation of highest log-probability found by a beam of
    `beam_width`. A step's log-probability is the network's, normalised (as in training)
    over the productions of the nonterminal on top of the stack; only productions the
    masked state allows extend a beam. A finished beam keeps its score (the padding
    production it takes has probability 1). Returns `DecodeState.result()`."""
    z = np.asarray(z, dtype="float32")
    B, K = len(z), int(beam_width)
    if K < 1:
        raise ValueError(f"beam_width must be at least 1, got {beam_width}")
    P = engine.g.n_productions
    rows = np.repeat(np.arange(B), K)  # row b * K + k: beam k of molecule b
    state = engine.start(B, steps).select(rows)
    hidden = select_rows(network.start(z), rows)
    score = np.where(np.arange(B * K) % K == 0, 0.0, -np.inf)  # one live beam per molecule at first
    previous = np.full(B * K, -1, dtype=np.int32)
    while not state.all_finished:
        logits, hidden = network.step(previous, hidden)
        logp = _masked_log_softmax(_numpy(logits), engine.masks[state.top()])
        total = np.where(state.allowed(), score[:, None] + logp, -np.inf).reshape(B, K * P)
        best = np.argsort(-total, axis=1, kind="stable")[:, :K]  # (B, K) flat (beam, production)
        score = np.take_along_axis(total, best, axis=1)
        # Fewer allowed extensions than beams: the rest copy the best one, and stay dead (-inf).
        best = np.where(np.isfinite(score), best, best[:, :1])
        source = (np.arange(B)[:, None] * K + best // P).reshape(-1)
        score = score.reshape(-1)
        previous = (best % P).reshape(-1).astype(np.int32)
        state, hidden = state.select(source), select_rows(hidden, source)
        state.advance(previous)
    winner = np.arange(B) * K + score.reshape(B, K).argmax(axis=1)
    return state.select(winner).result()
