"""Which bundled model gives back more of what users bring: both, on the ZINC-250k test split
and four MoleculeNet sets, in one run.

    python benchmarks/models_compared.py [--data ../shared/data] [-n 500] [--models moses zinc]

Per model and set: the rows whose elements the grammar has (the reference every share
counts from), the share that encodes (fits the model's steps), and the share that comes
back exactly from its latent mean, greedily (canonical isomeric SMILES: stereo and charges
must match), with the mean Tanimoto similarity of a reconstruction to its input.
"""

from __future__ import annotations

import argparse
import itertools
import time
import warnings
from pathlib import Path

import numpy as np

from common import add_data_argument

SETS = {"zinc test": "zinc/zinc250k_part_b.smi.gz", "clintox": "moleculenet/clintox.csv.gz",
        "bbbp": "moleculenet/bbbp.csv.gz", "bace": "moleculenet/bace.csv.gz", "lipo": "moleculenet/lipo.csv.gz"}
def read(path: Path, n: int) -> list[str]:
    from grammarvae.io import iter_smiles

    return [row.smiles for row in itertools.islice(iter_smiles(path), n)]


def in_grammar(smiles: str) -> bool:
    """Whether every atom of the largest fragment is an element the decoder writes."""
    from rdkit import Chem

    from grammarvae.chem import largest_fragment
    from grammarvae.decoding.chemistry import ELEMENTS

    mol = Chem.MolFromSmiles(smiles)
    return mol is not None and all(a.GetSymbol() in ELEMENTS[1:] for a in largest_fragment(mol).GetAtoms())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(ap)
    ap.add_argument("-n", type=int, default=500, help="rows per set (the first n; default 500)")
    ap.add_argument("--models", nargs="+", default=["moses", "zinc"], help="bundled names or .keras files")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    from grammarvae import GrammarVAE
    from grammarvae.chem import standardize
    from grammarvae.metrics import mean_similarity, reconstruction_accuracy

    print(f"{'model':8} {'set':10} {'rows':>5} {'encode':>7} {'exact':>7} {'similar':>8} {'s':>5}")
    for name in args.models:
        model = GrammarVAE.named(name)
        for label, rel in SETS.items():
            t = time.time()
            rows = [s for s in read(Path(args.data) / rel, args.n) if in_grammar(s)]
            Z = model.encode_checked(rows).Z
            ok = ~np.isnan(Z).any(axis=1)
            decoded = model.decode(Z[ok]) if ok.any() else []
            wanted = [standardize(s) for s, k in zip(rows, ok) if k]
            exact = reconstruction_accuracy(wanted, decoded) * ok.sum() / len(rows)
            similar = mean_similarity(wanted, decoded) if len(decoded) else 0.0
            print(f"{name:8} {label:10} {len(rows):5d} {ok.mean():7.1%} {exact:7.1%} {similar:8.3f} {time.time() - t:5.0f}",
                  flush=True)


if __name__ == "__main__":
    main()
