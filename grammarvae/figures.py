"""What each figure `evaluate` reports is, in words: plain data, imported by the command line
for `evaluate --help` without the heavy parts of the package.

    >>> explain("reconstruction_beam_8")
    'share of --test molecules that come back by a beam of 8'
"""

from __future__ import annotations

# What each figure of `evaluate` is, in the order printed ("K" and "N": the number in its name).
GLOSSARY = {
    "prior": "where prior samples' latent points are drawn from: aggregate (the model's fitted posteriors, widened) or normal, N(0, I)",
    "prior_decoding": "how prior samples were decoded: greedy, or sampled from p(x|z)",
    "avoid_rings": "ring sizes prior samples closed only where nothing else could be written (none: no preference)",
    "samples": "prior samples drawn (from the prior above)",
    "validity": "share of prior samples RDKit reads (1 by construction of the decoder)",
    "uniqueness": "share of distinct molecules among the valid samples",
    "internal_diversity": "MOSES IntDiv1: 1 - mean Tanimoto similarity over all pairs of samples (Morgan r2, 1,024 bits)",
    "internal_diversity_2": "MOSES IntDiv2: the same with similarities squared, then the root (lower when close pairs cluster)",
    "novelty": "share of distinct samples not in --train",
    "dropped_rings_per_sample": "ring labels the decoder dropped per sample (rings it could not close)",
    "uniqueness_N": "share of distinct molecules among N prior samples",
    "step_accuracy": "share of derivation steps the decoder gets right, teacher-forced, on --test",
    "all_steps_right": "share of --test molecules whose every step the decoder gets right",
    "reconstruction_accuracy": "share of --test molecules that come back exactly (greedy, from the latent mean)",
    "reconstruction_similarity": "mean Tanimoto similarity of a --test molecule to what came back (0 if none)",
    "kl_nats": "mean KL of q(z|x) from the prior, in nats: the information the latents carry",
    "reconstruction_shuffled_z": "reconstruction with the latents shuffled among molecules (about 0 if z matters)",
    "reconstruction_beam_K": "share of --test molecules that come back by a beam of K",
    "reconstruction_sampled_10x10": "the literature's sampled protocol: of 10 z x 10 decodes each, the share equal to the input",
    "sampled_protocol_molecules": "--test molecules in the sampled protocol",
    "ring8_share": "share of samples with a ring of 8 or more atoms",
    "ring34_share": "share of samples with a ring of 3 or 4 atoms",
    "aromatic_share": "share of samples with an aromatic ring",
    "wasserstein_logp": "Wasserstein-1 distance of the samples' logP distribution from --test's (0: the same)",
    "wasserstein_sa": "the same for the synthetic accessibility score",
    "wasserstein_qed": "the same for QED (drug-likeness)",
    "wasserstein_mw": "the same for molecular weight, in daltons",
    "snn": "mean Tanimoto similarity of each sample to its nearest --test neighbour (Morgan r2, 1,024 bits)",
    "fragment_similarity": "MOSES Frag: cosine similarity of BRICS fragment counts (with multiplicity), samples against --test",
    "scaffold_similarity": "MOSES Scaf: cosine similarity of Bemis-Murcko scaffold counts (2+ rings), samples against --test",
    "fcd": "MOSES FCD: Frechet ChemNet Distance of the samples from --test (0: the same distribution; with --fcd)",
    "test_molecules": "molecules in --test",
    "test_not_encodable": "of those, how many the model cannot read (counted as not reconstructed)",
}


def explain(name: str) -> str:
    """What figure `name` of `evaluate` is (its GLOSSARY entry; names ending in a number
    look up their "_K"/"_N" form, reference_ shares their sample share's)."""
    if name in GLOSSARY:
        return GLOSSARY[name]
    stem = name.rstrip("0123456789")
    for key in (stem + "K", stem + "N"):
        if key in GLOSSARY:
            return GLOSSARY[key].replace(" K", " " + name[len(stem):]).replace(" N ", f" {name[len(stem):]} ")
    if name.startswith("reference_") and name[len("reference_"):] in GLOSSARY:
        return GLOSSARY[name[len("reference_"):]].replace("share of samples", "share of --test molecules")
    return ""
