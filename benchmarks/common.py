"""What the benchmarks share: where the shared data lie and which model they measure.

    ap = argparse.ArgumentParser()
    add_data_argument(ap)       # --data, default ../shared/data beside the project root
    add_model_argument(ap)      # --model, default the bundled model
    model = load_model(ap.parse_args())
"""

from __future__ import annotations

import argparse
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def add_data_argument(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--data", default=str(SHARED_DATA),
                    help=f"the shared data folder (default: {SHARED_DATA})")


def add_model_argument(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--model", help="a bundled model (zinc, moses) or a .keras GrammarVAE (default: the bundled default)")


def load_model(args):
    from grammarvae import GrammarVAE

    return GrammarVAE.named(args.model)
