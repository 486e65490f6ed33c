"""Training data: SMILES files to compact production sequences, and the tf.data pipeline.

    >>> res = encode_smiles(["CCO", "c1ccccc1"], max_len=200)   # Kekule, int16, aligned
    >>> ds = make_dataset(res.X[res.ok], n_productions=76, batch_size=256)

`encode_file` streams a SMILES file into an int16 .npy on disk (a memory map) in chunks,
with worker processes, so that the 1.58M MOSES molecules never sit in memory as Python
strings and float one-hots are built only per batch. TensorFlow is imported only by
`make_dataset`.
"""

from __future__ import annotations

import csv
import multiprocessing
import os
from collections import deque
import re
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from rdkit import Chem

from grammarvae.chem import canonical, standardize_reporting
from grammarvae.errors import GrammarError
from grammarvae.files import replacing, writing
from grammarvae.grammar import Grammar
from grammarvae.io import iter_smiles
from grammarvae.language import Read
# Batching of encoded rows (no chemistry: any grammar's derivations), kept importable from here.
from grammarvae.batches import (BUCKET_BATCHES, LENGTH_QUANTUM, length_batches, make_dataset,  # noqa: F401
                                sequence_lengths, split_indices)

_WORKER_GRAMMAR: Grammar | None = None


# What `encode_smiles` gives: the fields every language's `read` gives (`grammarvae.language.Read`),
# rows aligned with the input, failed rows all padding, `standard` the Kekule SMILES encoded.
EncodedSmiles = Read


_POSITION = re.compile(r" at position \d+$")


def encode_smiles(smiles: Sequence[str], max_len: int, grammar: Grammar | None = None,
                  neutralize: bool = False, strip_stereo: bool = False) -> EncodedSmiles:
    """Standardise to Kekule SMILES and encode; with `neutralize` and `strip_stereo`, charges
    and stereo marks are removed first (`grammarvae.chem.standardize`) and each molecule so
    changed is listed in `prepared`. A reason names what is wrong with the input as given:
    where RDKit rewrote it, a position in its rewrite (which the user never typed) is left out."""
    g = grammar or Grammar.load("zinc")
    kek, reasons, mixtures, prepared = [], {}, [], []
    for i, s in enumerate(smiles):
        try:
            k, reduced = standardize_reporting(s, kekule=True, max_steps=max_len)
            if neutralize or strip_stereo:
                k2, _ = standardize_reporting(k, kekule=True, keep_stereo=not strip_stereo, neutralize=neutralize)
                if k2 != k:
                    prepared.append((i, s, _removed(k, k2)))
                k = k2
        except GrammarError as e:
            k, reduced, reasons[i] = "", False, e.reason
        kek.append(k)
        if reduced:
            mixtures.append(i)
    res = g.encode_checked(kek, max_len=max_len)
    ok = res.ok.copy()
    errors = []
    for i, k, why in res.errors:
        ok[i] = False
        errors.append((i, smiles[i], reasons.get(i, why if k == smiles[i] else _POSITION.sub("", why))))
    mixtures = [(i, smiles[i], canonical(kek[i])) for i in mixtures if ok[i]]
    prepared = [p for p in prepared if ok[p[0]]]
    return EncodedSmiles(res.X.astype(np.int16), ok, errors, mixtures, prepared,
                         [k if good else "" for k, good in zip(kek, ok)])


def _removed(before: str, after: str) -> str:
    """What preparation took away, in words, from the Kekule SMILES before and after."""
    def charge(smiles: str) -> int:
        return sum(abs(a.GetFormalCharge()) for a in Chem.MolFromSmiles(smiles).GetAtoms())

    def stereo(smiles: str) -> int:
        return sum(smiles.count(c) for c in "@/\\")

    what = [name for name, count in (("charges", charge), ("stereo marks", stereo)) if count(before) != count(after)]
    return f"{' and '.join(what) or 'charges'} removed: encoded {canonical(after)}"


def _encode_chunk(args: tuple[str, list[str], int, bool, bool, str]) -> EncodedSmiles:
    global _WORKER_GRAMMAR
    text, smiles, max_len, neutralize, strip_stereo, language_name = args
    if _WORKER_GRAMMAR is None or _WORKER_GRAMMAR.cfg_text != text:
        _WORKER_GRAMMAR = Grammar(text)
    from grammarvae.language import language

    return language(language_name).read(smiles, max_len, _WORKER_GRAMMAR, neutralize, strip_stereo)


def _watch_parent(parent: int, every: float = 1.0) -> None:
    """Worker initializer: a thread that ends the worker once its parent has died (a killed
    `encode` or `train` leaves no orphan workers holding memory)."""
    def watch():
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _chunks(rows: Iterable, size: int):
    buf = []
    for r in rows:
        buf.append(r)
        if len(buf) == size:
            yield buf
            buf = []
    if buf:
        yield buf


def count_rows(path: str | Path, column: str | None = None) -> int:
    return sum(1 for _ in iter_smiles(path, column))


def encoded_chunks(rows: Iterable, grammar: Grammar, max_len: int, chunk: int = 20000,
                   workers: int | None = None, neutralize: bool = False, strip_stereo: bool = False,
                   language: str = "smiles"):
    """(rows of the chunk, its `EncodedSmiles`) for each `chunk` rows of `rows` (SmilesRow),
    in order; read by `language` (`grammarvae.language`: for SMILES, standardised as
    `encode_smiles` with `neutralize` and `strip_stereo`) and parsed in worker processes, at most two chunks a worker in flight, so memory does not
    grow with the input."""
    workers = workers or min(2, os.cpu_count() or 1)
    # Spawned, not forked: a fork copies the locks other threads (TensorFlow's) hold at that
    # moment, and a worker then waited forever on one (seen in CI, in training preparation).
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_watch_parent, initargs=(os.getpid(),))
    finished = False
    try:
        pending: deque = deque()
        for batch in _chunks(rows, chunk):
            pending.append((batch, pool.submit(_encode_chunk, (grammar.cfg_text, [r.smiles for r in batch], max_len,
                                                                  neutralize, strip_stereo, language))))
            if len(pending) >= 2 * workers:
                batch, future = pending.popleft()
                yield batch, future.result()
        while pending:
            batch, future = pending.popleft()
            yield batch, future.result()
        finished = True
    finally:  # stopped early (an error, Ctrl-C, SIGTERM): the chunks not begun are dropped
        pool.shutdown(wait=finished, cancel_futures=True)


def encode_file(path: str | Path, out: str | Path, max_len: int, grammar: Grammar | None = None,
                column: str | None = None, workers: int | None = None, chunk: int = 20000,
                progress: bool = True, language: str = "smiles") -> tuple[np.ndarray, np.ndarray, list]:
    """Encode every SMILES (or, for another `language`, every text) of a file into ``out``
    (int16 .npy, one row per input row) and ``out`` with ``.ok.npy`` (bool). Returns
    (memory-mapped X, ok, errors as (line, smiles, reason))."""
    g = grammar or Grammar.load("zinc")
    out = Path(out)
    n = count_rows(path, column)
    ok = np.zeros(n, dtype=bool)
    errors: list = []
    done = 0
    with replacing(out) as tmp, replacing(ok_path(out)) as ok_tmp:
        X = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.int16, shape=(n, max_len))
        for batch, res in encoded_chunks(iter_smiles(path, column), g, max_len, chunk, workers, language=language):
            X[done:done + len(batch)] = res.X
            ok[done:done + len(batch)] = res.ok
            errors += [(batch[i].line, s, why) for i, s, why in res.errors]
            done += len(batch)
            if progress:
                print(f"\rencoding {done:,}/{n:,} ({100 * done / n:.0f}%), {len(errors):,} failed",
                      end="", file=sys.stderr, flush=True)
        X.flush()
        del X
        np.save(ok_tmp, ok)
    if progress:
        print(file=sys.stderr)
    return np.load(out, mmap_mode="r"), ok, errors


def ok_path(out: str | Path) -> Path:
    """Where `encode_file` keeps which rows of `out` encoded."""
    out = str(out)
    return Path(out[:-4] + ".ok.npy" if out.endswith(".npy") else f"{out}.ok.npy")


def write_errors(errors: list, path: str | Path) -> None:
    with writing(path, newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["line", "input", "reason"])
        w.writerows(errors)
