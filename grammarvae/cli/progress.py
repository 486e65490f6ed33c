"""A minimal progress bar on stderr, drawn once the work has taken over a second."""

from __future__ import annotations

import sys
import time


class Bar:
    """``with Bar("encoding") as bar: work(progress=bar.update)`` where update(done, total)."""

    def __init__(self, label: str, width: int = 30, stream=None, delay: float = 1.0):
        self.label, self.width, self.stream, self.delay = label, width, stream or sys.stderr, delay
        self.start = self.last = 0.0
        self.drawn = False

    def __enter__(self) -> "Bar":
        self.start = time.monotonic()
        return self

    def update(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.start < self.delay or (now - self.last < 0.1 and done < total):
            return
        self.last = now
        frac = done / total if total else 1.0
        fill = int(frac * self.width)
        rate = done / max(now - self.start, 1e-9)
        self.stream.write(f"\r{self.label} [{'#' * fill}{'.' * (self.width - fill)}] "
                          f"{100 * frac:3.0f}% {done}/{total} ({rate:.0f}/s)")
        self.stream.flush()
        self.drawn = True

    def __exit__(self, *exc) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
