"""Reading SMILES files: plain one-per-line (.smi, .txt) or CSV with a named column, gzipped or not.

Rows keep their place: `read_smiles` returns one entry per data line, so results can
stay aligned with the input even when some entries fail later on.

    >>> rows = read_smiles("train.csv.gz", column="SMILES")   # doctest: +SKIP
    >>> rows[0]
    SmilesRow(line=2, smiles='CCCS(=O)c1ccc2[nH]c(=NC(=O)OC)[nH]c2c1')
"""

from __future__ import annotations

import csv
import gzip
import io
import random
import sys
import zlib
from pathlib import Path
from typing import Iterator, NamedTuple

COMMON_COLUMNS = ("smiles", "SMILES", "Smiles", "canonical_smiles", "mol")
MAX_LINE = 100_000  # characters in a line or cell: the longest SMILES in PubChem has about 2,000


class SmilesRow(NamedTuple):
    line: int  # 1-based line number in the file
    smiles: str


def _open_text(path: Path):
    """Text of a file (utf-8; a byte-order mark is skipped), gunzipped when it ends in .gz;
    `-` is standard input."""
    if str(path) == "-":
        return open(sys.stdin.fileno(), encoding="utf-8-sig", newline="", closefd=False)
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _is_csv(path: Path) -> bool:
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    return name.endswith((".csv", ".tsv"))


def iter_smiles(path: str | Path, column: str | None = None) -> Iterator[SmilesRow]:
    """Yield (line, smiles) for every data line. CSV files need a column (or a common name).

    Plain files: the first whitespace-separated field of each line (``SMILES name``, the
    .smi convention); blank lines are yielded as empty strings so that the caller can
    report them by line number. CSV: the whole cell, so a cell with a space in it is
    reported rather than cut; a row's line is where its record starts. `-` reads standard
    input (as plain lines unless `column` is given).
    """
    path = Path(path)
    if str(path) != "-" and not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with _open_text(path) as fh:
            if column is not None or _is_csv(path):
                delim = "\t" if ".tsv" in path.name else ","
                csv.field_size_limit(MAX_LINE)
                reader = csv.reader(fh, delimiter=delim)
                header = next(reader, None)
                if header is None:
                    raise ValueError(f"{path}: empty file")
                names = [h.strip() for h in header]
                if column is None:
                    column = next((c for c in COMMON_COLUMNS if c in names), None)
                    if column is None:
                        raise ValueError(f"{path}: no SMILES column found among {names}; name it (--column on the command line, column= in Python)")
                if column not in names:
                    raise ValueError(f"{path}: no column {column!r} (columns: {', '.join(names)})")
                j = names.index(column)
                start = reader.line_num + 1  # a quoted record may span several lines
                try:
                    for row in reader:
                        yield SmilesRow(start, row[j].strip() if j < len(row) else "")
                        start = reader.line_num + 1
                except csv.Error as e:
                    raise ValueError(f"{path}: line {start}: {e}") from None
            else:
                for k, line in enumerate(iter(lambda: fh.readline(MAX_LINE + 1), ""), start=1):
                    if len(line) > MAX_LINE:
                        raise ValueError(f"{path}: line {k}: longer than {MAX_LINE:,} characters; not a SMILES file?")
                    fields = line.split()
                    yield SmilesRow(k, fields[0] if fields else "")
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError, OSError, zlib.error) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise ValueError(f"{path}: cannot read as text ({e.__class__.__name__}: {e})") from None


def read_smiles(path: str | Path, column: str | None = None) -> list[SmilesRow]:
    """All rows of `iter_smiles` as a list."""
    return list(iter_smiles(path, column))


def sample_smiles(path: str | Path, n: int, seed: int = 0, column: str | None = None) -> list[str]:
    """A fixed-seed random sample of `n` non-empty SMILES from a file (all of them if fewer)."""
    rows = [r.smiles for r in iter_smiles(path, column) if r.smiles]
    if n >= len(rows):
        return rows
    return random.Random(seed).sample(rows, n)
