"""Encoding a SMILES file of any size to a latent file, streamed in chunks.

    >>> summary = encode_to_file(model, "library.smi", "latents.npy", errors="failed.csv")  # doctest: +SKIP
    >>> summary.encoded, summary.failed, summary.mixtures
    (998, 2, 5)

Rows are read, standardised and parsed a chunk at a time (in worker processes, as training
data preparation does), encoded by the network and appended to the output, so memory does
not grow with the file. The output has one row per input row, NaN where the input failed.
Outputs are written under fresh names beside them and renamed when complete (`grammarvae.files`):
an interrupted or failed run never leaves a half-written file under the name asked for, and
leaves an earlier output as it was; a second run on the same output is refused (`OutputBusy`).
"""

from __future__ import annotations

import contextlib
import csv
import os
import shutil
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from grammarvae.data import count_rows, encoded_chunks
from grammarvae.files import claimed, remove_temporaries, temporary_beside, writing
from grammarvae.io import iter_smiles

MIXTURE = "a salt or mixture: encoded its largest fragment, {}"


class EncodeSummary(NamedTuple):
    rows: int
    encoded: int
    failed: int
    mixtures: int  # encoded, as their largest fragment
    latent_dim: int
    prepared: int = 0  # encoded neutralised or without stereo marks (`GrammarVAE.preparation`)
    unseen: int = 0  # encoded, holding what the model never saw in training


def encode_to_file(model, path: str | Path, out: str | Path, column: str | None = None,
                   errors: str | Path | None = None,
                   report: Callable[[int, str, str], None] | None = None,
                   progress: Callable[[int, int | None], None] | None = None,
                   chunk: int = 4096, workers: int | None = None, neutralize: bool | None = None,
                   strip_stereo: bool | None = None) -> EncodeSummary:
    """Encode every row of a SMILES file to `out` (.npy, or .csv of numbers).

    Charges and stereo marks are kept or removed as `model.preparation(neutralize,
    strip_stereo)` says. ``report(line, smiles, reason)`` is called, as it is found, for each
    row that failed, each salt or mixture (encoded as its largest fragment), each molecule
    neutralised or stripped of stereo, and each that holds what the model never saw in
    training; `errors` gets the same as a CSV (line, input, reason). ``progress(rows done,
    rows in all or None)`` after each chunk.
    """
    out = Path(out)
    total = None if str(path) == "-" else count_rows(path, column)  # standard input is read once
    d = model.latent_dim
    counts = dict(rows=0, failed=0, mixtures=0, prepared=0, unseen=0)
    prep = model.preparation(neutralize, strip_stereo)
    with contextlib.ExitStack() as stack:
        stack.enter_context(claimed(out))
        remove_temporaries(out.parent, out.name)  # a killed run's (none other writes this output now)
        raw = temporary_beside(out)
        stack.callback(raw.unlink, missing_ok=True)
        ef = stack.enter_context(writing(errors, newline="") if errors else open(os.devnull, "w"))
        with open(raw, "wb") as zf:
            err_csv = csv.writer(ef, lineterminator="\n")
            err_csv.writerow(["line", "input", "reason"])
            for batch, res in encoded_chunks(iter_smiles(path, column), model.grammar, model.max_len, chunk, workers,
                                             *prep, language=model.language.name):
                _write_chunk(model, batch, res, zf, err_csv, report, counts)
                if progress:
                    progress(counts["rows"], total)
        if not counts["rows"]:
            raise ValueError(f"{path}: no SMILES in the file")
        _finish(raw, out, counts["rows"], d)
    n = counts["rows"]
    return EncodeSummary(n, n - counts["failed"], counts["failed"], counts["mixtures"], d, counts["prepared"],
                         counts["unseen"])


def _write_chunk(model, batch, res, zf, err_csv, report, counts) -> None:
    Z = np.full((len(batch), model.latent_dim), np.nan, dtype="float32")
    if res.ok.any():
        Z[res.ok] = model.encode_ids(res.X[res.ok])
    zf.write(Z.tobytes())
    from grammarvae.models.gvae import UNSEEN

    unseen = [(i, s, UNSEEN.format(what)) for i, s, what in model.unseen(res, [r.smiles for r in batch])]
    problems = ([(i, s, why) for i, s, why in res.errors] + [(i, s, MIXTURE.format(kept)) for i, s, kept in res.mixtures]
                + list(res.prepared) + unseen)
    for i, s, why in sorted(problems):
        err_csv.writerow([batch[i].line, s, why])
        if report:
            report(batch[i].line, s, why)
    counts["rows"] += len(batch)
    counts["failed"] += len(res.errors)
    counts["mixtures"] += len(res.mixtures)
    counts["prepared"] += len(res.prepared)
    counts["unseen"] += len(unseen)


def _finish(raw: Path, out: Path, n: int, d: int) -> None:
    """The raw float32 rows in `raw` as `out` (.npy or .csv), written beside it and renamed.
    Copied through plain reads and writes, a block at a time: pages of a memory map would
    count in the process's memory, which would then grow with the file."""
    block = 65536 * d * 4
    with open(raw, "rb") as src, writing(out, "wb") as fh:
        if out.suffix == ".npy":
            np.lib.format.write_array_header_1_0(fh, {"descr": "<f4", "fortran_order": False, "shape": (n, d)})
            shutil.copyfileobj(src, fh, block)
        else:
            while chunk := src.read(block):
                np.savetxt(fh, np.frombuffer(chunk, dtype="<f4").reshape(-1, d), delimiter=",", fmt="%.7g")
