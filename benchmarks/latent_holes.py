"""Where in the latent space a GrammarVAE decodes realistic molecules: ring shares of greedy
decodes from latents drawn around held-out molecules and from the prior.

    python benchmarks/latent_holes.py [--model m.keras] [--data ../shared/data] [-n 400] [--seed 0]

For the first `-n` molecules of the MOSES held-out split (`evaluate_moses.moses_split`), with
mean m and standard deviation s of q(z|x), it decodes:

- the means m (the reconstructions) and draws m + k s eps for k = 1, 2, 3: how far from a
  molecule's posterior the decoder stays realistic;
- prior draws N(0, I), the model's own samples;
- the prior on the "active" dimensions only (mean posterior variance below 0.5, the ones that
  carry the molecule) with a posterior draw on the rest, and the other way round: which
  dimensions the unrealistic samples come from;
- a Gaussian fitted to the aggregate posterior (mean and covariance of m, plus the mean
  posterior variance): whether matching the first two moments is enough.

Each line prints the shares of molecules with a ring of 8+ atoms, of 3-4 atoms and with an
aromatic ring, beside the held-out molecules' own (the reference measured in the same run), and
the share of decodes that equal the molecule they were drawn around.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from common import add_data_argument, add_model_argument, load_model

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    import numpy as np

    from evaluate_moses import moses_split
    from grammarvae.chem import canonical
    from grammarvae.data import encode_smiles
    from grammarvae.realism import ring_shares

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_argument(ap)
    add_data_argument(ap)
    ap.add_argument("-n", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    model = load_model(args)
    _, heldout = moses_split(Path(args.data) / "moses" / "train.csv.gz")
    res = encode_smiles(heldout[: args.n], model.max_len, model.grammar)  # parsed once, as evaluate() does
    smiles = [s for s, ok in zip(heldout[: args.n], res.ok) if ok]
    mean, log_var = model.encode_ids(res.X[res.ok], return_log_var=True)
    sd = np.exp(0.5 * log_var)
    active = np.exp(log_var).mean(0) < 0.5
    rng = np.random.default_rng(args.seed)
    n, d = mean.shape
    same = [canonical(s) for s in smiles]

    def line(name, z, around=True):
        decoded = model.decode(z.astype("float32"))
        shares = ring_shares(decoded)
        back = f"{np.mean([canonical(s) == c for s, c in zip(decoded, same)]):9.1%}" if around else ""
        print(f"{name:<44} {shares['ring8_share']:7.1%} {shares['ring34_share']:7.1%} "
              f"{shares['aromatic_share']:9.1%} {back}", flush=True)

    print(f"model: {args.model or 'bundled'}; {n} held-out molecules; {int(active.sum())} of {d} dimensions "
          f"active (mean posterior variance < 0.5)")
    print(f"{'latents':<44} {'8+ ring':>7} {'3-4 ring':>7} {'aromatic':>9} {'given back':>9}")
    ref = ring_shares(smiles)
    print(f"{'(held-out molecules themselves)':<44} {ref['ring8_share']:7.1%} {ref['ring34_share']:7.1%} "
          f"{ref['aromatic_share']:9.1%}")
    line("posterior means m", mean)
    for k in (1, 2, 3):
        line(f"m + {k} s eps", mean + k * sd * rng.standard_normal((n, d)))
    line("prior N(0, I)", rng.standard_normal((n, d)), around=False)
    post = mean + sd * rng.standard_normal((n, d))
    z = post.copy()
    z[:, active] = rng.standard_normal((n, int(active.sum())))
    line("prior on active dimensions, posterior on rest", z, around=False)
    z = rng.standard_normal((n, d))
    z[:, active] = post[:, active]
    line("posterior on active dimensions, prior on rest", z)
    cov = np.cov(mean.T) + np.diag(np.exp(log_var).mean(0))
    line("Gaussian fitted to the aggregate posterior", rng.multivariate_normal(mean.mean(0), cov, n), around=False)


if __name__ == "__main__":
    main()
