"""A per-molecule reference of `MaskedDecoder.decode_ids`, for tests and benchmarks.

The same rules written straightforwardly (one molecule at a time, Python stack, sets and
dicts), greedy only. Its output must equal the vectorised decoder's on any logits:

    >>> (scalar_decode(engine, logits) == engine.decode_ids(logits)[0]).all()
    True
"""

from __future__ import annotations

import numpy as np

from grammarvae.decoding import ANY_VALENCE, MAX_OPEN, N_LABELS, MaskedDecoder


def scalar_decode(e: MaskedDecoder, logits: np.ndarray) -> np.ndarray:
    """The same masked decoding as `MaskedDecoder.decode_ids` (grammar, budget, valence,
    rings, soft rules; greedy), written straightforwardly: per molecule, per step, a
    Python stack and Python sets and dicts. Its output must equal the vectorised one."""
    g, nt = e.g, e.nt
    B, T, P = logits.shape
    start = nt[g.start.symbol()]
    out = np.full((B, T), g.pad, dtype=np.int64)
    K = e.cand.shape[1]
    for b in range(B):
        stack = [(start, -1)]
        cost, producers, n_atoms, pending = int(e.min_steps[start]), 0, 0, 1
        val, used, parent, multiple, single_only = {}, {}, {}, {}, set()
        opener = {}  # label -> (atom, step)
        ring_atom, blocked = -1, set()
        for t in range(T):
            if not stack:
                break
            top, a = stack[-1]
            left = T - t - cost + int(e.min_steps[top])
            ua, va = used.get(a, 0), val.get(a, 0)
            room = (va if va > 0 else ANY_VALENCE) - ua
            closable = {lab for lab, (o, _) in opener.items()
                        if o != a and o != parent.get(a, -1) and not (ring_atom == a and lab in blocked)}
            n_open = len(opener)
            n_free = N_LABELS - n_open
            last = producers - int(e.is_producer[top]) == 0
            stuck = any(o == a for o, _ in opener.values())
            close_here = last and bool(closable)
            scored = []  # (score, production, cumulated, unwanted) of each allowed candidate
            for k in range(K):
                p = int(e.cand[top, k])
                if p == P:
                    continue
                lab = int(e.t_label[top, k])
                ok = (e.t_pms[top, k] <= left and e.t_req[top, k] <= room and e.t_val[top, k] >= ua
                      and e.t_slots[top, k] <= len(closable) + n_free
                      and (lab == 0 or lab in closable or (lab not in opener and n_free > 0)))
                if not ok:
                    continue
                cumulated = bool(e.t_multiple[top, k] and a >= 0 and multiple.get(a, 0) > 0 and a in single_only)
                unwanted = ((e.t_chain_end[top, k] and last and stuck)
                            or (e.t_no_ring_ba[top, k] and close_here and top == nt["branched_atom"])
                            or (e.t_ring_only_ba[top, k] and last and not closable and top == nt["branched_atom"])
                            or (e.t_ringbonds_one[top, k] and close_here and len(closable) > 1
                                and top == nt["ringbonds"])
                            or (lab and lab not in closable and (last or n_open >= MAX_OPEN) and top == nt["digit"])
                            or e.t_pms[top, k] + 3 * n_open > left)
                scored.append((logits[b, t, p], p, cumulated, bool(unwanted)))
            # Soft rules in order, each kept only if something survives it.
            keep = [c for c in scored if not c[2]] or scored
            keep = [c for c in keep if not c[3]] or keep
            p = max(keep, key=lambda c: c[0])[1]  # first of equal scores, as argmax
            out[b, t] = p
            stack.pop()
            aid = a
            if top == nt["chain"]:
                aid = n_atoms
                parent[aid] = a
                used[aid] = pending if a >= 0 else 0
                multiple[aid] = int(a >= 0 and pending >= 2)
                pending = 1
                n_atoms += 1
            stack.extend((s, aid) for s in reversed(g.rhs_nonterminals[p]))
            cost += int(e.pms[p]) - 1 - int(e.min_steps[top])
            producers += int(e.push_producers[p]) - int(e.is_producer[top])
            used[aid] = used.get(aid, 0) + int(e.extra[p]) + max(int(e.order[p]) - 1, 0)
            if e.order[p] > 0:
                pending = int(e.order[p])
            if e.order[p] >= 2:
                multiple[aid] = multiple.get(aid, 0) + 1
            if e.valence[p] > 0:
                val[aid] = int(e.valence[p])
            if e.no_cumulated[p]:
                single_only.add(aid)
            lab = int(e.label[p])
            if lab:
                if ring_atom != aid:
                    ring_atom, blocked = aid, set()
                if lab in opener:
                    o = opener[lab][0]
                    blocked |= {m for m, (oo, _) in opener.items() if oo == o}
                    del opener[lab]
                else:
                    opener[lab] = (aid, t)
    return out
