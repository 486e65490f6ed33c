"""Can the decoder write every real molecule? Each molecule's own derivation, fed step by step
through the decoder's rules (`MaskedDecoder.replay`): the share whose every step the rules
allow (goal 100%), the share then written back as the same canonical isomeric SMILES, and the
reasons of any refusal (the symbol on top and the production refused).

    python benchmarks/decoder_completeness.py [--data ../shared/data] [--steps 277] [--limit N]

Sets: the three ZINC-250k files and the MoleculeNet sets; rows whose derivation does not fit
`--steps` (or that the grammar cannot parse: metals) are counted apart, as not encoded.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import time
import warnings
from pathlib import Path

import numpy as np

from common import add_data_argument

CHUNK = 20_000


def rows(path: Path, limit: int | None) -> list[str]:
    from grammarvae.io import iter_smiles

    return [row.smiles for row in itertools.islice(iter_smiles(path), limit)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(ap)
    ap.add_argument("--steps", type=int, default=277)
    ap.add_argument("--limit", type=int, help="rows per set (default: all)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    from rdkit import Chem

    from grammarvae import Grammar
    from grammarvae.chem import standardize
    from grammarvae.data import encode_smiles
    from grammarvae.decoding import MaskedDecoder

    g = Grammar.load("zinc")
    dec = MaskedDecoder(g)
    data = Path(args.data)
    sets = sorted(data.glob("zinc/*.smi.gz")) + sorted(data.glob("moleculenet/*.csv.gz"))
    print(f"{'set':28} {'rows':>7} {'encoded':>8} {'allowed':>8} {'identical':>9} {'s':>5}")
    reasons = collections.Counter()
    for path in sets:
        t, smiles = time.time(), rows(path, args.limit)
        encoded = allowed = identical = 0
        for i in range(0, len(smiles), CHUNK):
            res = encode_smiles(smiles[i:i + CHUNK], args.steps, g)
            kept = [s for s, ok in zip(smiles[i:i + CHUNK], res.ok) if ok]
            X = res.X[res.ok]
            refused, out = dec.replay(X)
            encoded += len(kept)
            allowed += int((refused < 0).sum())
            for s, r, o, x in zip(kept, refused, out, X):
                if r >= 0:
                    top = g.productions[x[r]].lhs().symbol()
                    reasons[(path.name, top, str(g.productions[x[r]]), int((x != g.pad).sum()))] += 1
                elif o == Chem.MolToSmiles(Chem.MolFromSmiles(standardize(s))):
                    identical += 1
        print(f"{path.parent.name + '/' + path.name:28} {len(smiles):7d} {encoded:8d} "
              f"{allowed / max(encoded, 1):8.3%} {identical / max(encoded, 1):9.3%} {time.time() - t:5.0f}", flush=True)
    print("refused (set, symbol on top, production refused, derivation length): count")
    for key, n in reasons.most_common(30):
        print(f"  {key}: {n}")


if __name__ == "__main__":
    main()
