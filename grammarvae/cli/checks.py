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
