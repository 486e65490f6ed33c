"""What the command line checks before any work: numbers in range, text that is text, and
outputs that can be written. Each check raises `UsageError` (one line, exit 2).

    >>> p.add_argument("-n", type=count(1))              # an int >= 1, or a one-line error
    >>> check_output("out/x.png", (".png", ".svg"), "--image")
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path


class UsageError(Exception):
    """A user error: printed as one line, exit code 2."""


def count(least: int):
    """argparse type: an integer >= `least`."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"{value} is below {least}")
        return value

    return parse


def number(low: float, strict: bool = False):
    """argparse type: a finite float >= `low` (> `low` with `strict`)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(f"{text} is not a finite number {'>' if strict else '>='} {low:g}")
        return value

    return parse


def devices(text: str) -> int | str:
    """argparse type: a number of devices >= 1, or "all"."""
    return "all" if text == "all" else count(1)(text)


def fraction(text: str) -> float:
    """argparse type: a number in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not in [0, 1)")
    return value


def text(value: str) -> str:
    """argparse type: a non-empty string that came in as valid UTF-8 (argv bytes that are
    not arrive as lone surrogates, which no output can print)."""
    if not value.strip():
        raise argparse.ArgumentTypeError("empty")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        shown = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise argparse.ArgumentTypeError(f"{shown!r} is not valid UTF-8 text") from None
    return value


MOLECULE_BYTES = 4096  # memory per molecule asked for (latent point, SMILES, the decoder's share), generous
BEAM_BYTES_PER_STEP = 160  # one beam's decoding state per step of the model (measured: 150 at 160 steps)


def available_memory() -> int:
    """Bytes of memory the machine can give now (MemAvailable; free pages where not known)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def check_memory(count: int, what: str, bytes_each: int = MOLECULE_BYTES) -> None:
    """UsageError when `count` items of about `bytes_each` bytes would take more than half the
    memory free now (the command would otherwise grow until the machine stops it)."""
    free = available_memory()
    if count * bytes_each > free // 2:
        most = max(1, free // 2 // bytes_each)
        raise UsageError(f"{what} {count}: needs about {count * bytes_each / 1e9:.1f} GB, more than half the "
                         f"{free / 1e9:.1f} GB free here; at most {most:,} at once (split the work)")


def check_output(path: str | None, suffixes: tuple[str, ...] | None = None, what: str = "output") -> None:
    """`path` can be written: its folder exists, it is not a folder, it has an allowed suffix."""
    if not path:
        return
    p = Path(path)
    if suffixes and p.suffix.lower() not in suffixes:
        raise UsageError(f"{what} {path}: must end in {' or '.join(suffixes)}")
    if p.is_dir():
        raise UsageError(f"{what} {path}: is a folder, not a file")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"{what} {path}: no such folder {folder} (create it first)")
    if not os.access(folder, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise UsageError(f"{what} {path}: not writable")
