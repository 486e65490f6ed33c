"""What the benchmarks share: where the shared data lie and which model they measure.

    ap = argparse.ArgumentParser()
    add_data_argument(ap)       # --data, default ../shared/data beside the project root
    add_model_argument(ap)      # --model, default the bundled model
    model = load_model(ap.parse_args())
    add_sample_arguments(ap)    # --train, --test (ZINC-250k's by default), -n, --n-test, --seed
    train, test, test_file = sample_data(args)
    print(REALISM_HEAD); print(realism_row("name", samples, test, train))   # a row of sample figures
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


def add_sample_arguments(ap: argparse.ArgumentParser) -> None:
    """What a benchmark of prior samples reads: the training and test files, how many samples,
    how many random test molecules, the seed."""
    ap.add_argument("--train", help="training molecules (default: DATA/zinc/zinc250k_train.smi.gz)")
    ap.add_argument("--test", help="held-out molecules (default: DATA/zinc/zinc250k_part_b.smi.gz)")
    ap.add_argument("-n", type=int, default=1000, help="samples per row")
    ap.add_argument("--n-test", type=int, default=2000, help="random test molecules to compare with")
    ap.add_argument("--seed", type=int, default=0)


def sample_data(args) -> tuple[list[str], list[str], Path]:
    """(every training molecule, `--n-test` random test molecules, the test file)."""
    from grammarvae.io import read_smiles, sample_smiles

    data = Path(args.data)
    train_file = Path(args.train or data / "zinc" / "zinc250k_train.smi.gz")
    test_file = Path(args.test or data / "zinc" / "zinc250k_part_b.smi.gz")
    return [row.smiles for row in read_smiles(train_file)], sample_smiles(test_file, args.n_test, seed=args.seed), test_file


def load_model(args):
    from grammarvae import GrammarVAE

    return GrammarVAE.named(args.model)


REALISM_HEAD = (f"{'':<22}{'8+ ring':>8}{'3-4 ring':>9}{'arom.':>7}{'unique':>8}{'novel':>7}{'SNN':>7}"
                f"{'Frag':>7}{'Scaf':>7}{'W1 logP':>8}{'W1 SA':>7}{'W1 QED':>7}{'W1 MW':>7}")


def realism_row(name: str, samples, test, train, fcd: bool = False) -> tuple[str, dict]:
    """(the row of `REALISM_HEAD` for `samples`, FCD appended with `fcd`; the realism figures
    against `test`, `grammarvae.realism.realism`)."""
    from grammarvae.metrics import sample_metrics
    from grammarvae.realism import realism

    basic = sample_metrics(samples, train=train)
    r = realism(samples, test, with_fcd=fcd)
    row = (f"{name:<22}{100 * r['ring8_share']:7.1f}%{100 * r['ring34_share']:8.1f}%{100 * r['aromatic_share']:6.1f}%"
           f"{100 * basic['uniqueness']:7.1f}%{100 * basic['novelty']:6.1f}%{r['snn']:7.3f}"
           f"{r['fragment_similarity']:7.3f}{r['scaffold_similarity']:7.3f}{r['wasserstein_logp']:8.2f}"
           f"{r['wasserstein_sa']:7.2f}{r['wasserstein_qed']:7.3f}{r['wasserstein_mw']:7.1f}"
           + (f"{r['fcd']:7.2f}" if fcd else ""))
    return row, r


def reference_row(r: dict) -> str:
    """The test molecules' own ring shares, under `REALISM_HEAD`'s first columns."""
    return (f"{'test molecules':<22}{100 * r['reference_ring8_share']:7.1f}%{100 * r['reference_ring34_share']:8.1f}%"
            f"{100 * r['reference_aromatic_share']:6.1f}%")
