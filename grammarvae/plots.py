"""Line plots of curves (matplotlib, drawn off screen): PNG or SVG by the file's suffix.

    >>> curve("best.png", [0, 1, 2], {"best score": [1.2, 2.5, 2.9]}, xlabel="iteration", ylabel="penalized logP")
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from grammarvae.files import replacing


def curve(path: str | Path, x: Sequence[float], series: Mapping[str, Sequence[float]], xlabel: str = "",
          ylabel: str = "", title: str = "", references: Mapping[str, float] | None = None) -> Path:
    """One line (with markers) per named series against x; `references` are drawn as labelled
    dashed horizontal lines (a paper's figure beside the curve)."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg"):
        raise ValueError(f"{path}: a plot must end in .png or .svg")
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    try:
        for label, ys in series.items():
            ax.plot(list(x), list(ys), marker="o", label=label)
        for i, (label, value) in enumerate((references or {}).items()):
            ax.axhline(value, linestyle="--", linewidth=1, color=f"C{i + len(series)}", label=label)
        ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize="small")
        fig.tight_layout()
        with replacing(path) as tmp:
            fig.savefig(tmp)
    finally:
        plt.close(fig)
    return path
