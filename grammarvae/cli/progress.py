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

    def update(self, done: int, total: int | None) -> None:
        """Redraw; `total` None (standard input) shows the count and rate only."""
        now = time.monotonic()
        if now - self.start < self.delay or (now - self.last < 0.1 and (total is None or done < total)):
            return
        self.last = now
        rate = done / max(now - self.start, 1e-9)
        if total is None:
            self._draw(f"{self.label} {done} ({rate:.0f}/s)")
            return
        frac = done / total if total else 1.0
        fill = int(frac * self.width)
        self._draw(f"{self.label} [{'#' * fill}{'.' * (self.width - fill)}] {100 * frac:3.0f}% {done}/{total} "
                   f"({rate:.0f}/s)")

    def write(self, line: str) -> None:
        """A line of its own above the bar (the bar is drawn again at the next update)."""
        self.stream.write(("\r\x1b[K" if self.drawn else "") + line + "\n")
        self.stream.flush()

    def _draw(self, text: str) -> None:
        self.stream.write("\r" + text)
        self.stream.flush()
        self.drawn = True

    def __exit__(self, *exc) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
