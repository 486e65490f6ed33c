"""`grammarvae` command line: parses arguments, calls the library, prints.

Exit codes: 0 success, 1 some inputs failed, 2 bad usage, unreadable input or an output that
cannot be written, 3 a defect (one line; GRAMMARVAE_DEBUG=1 shows its traceback), 130 Ctrl-C,
143 SIGTERM (temporary files removed either way).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import sys
import threading
import warnings
from pathlib import Path

from grammarvae.cli.checks import (BEAM_BYTES_PER_STEP, MOLECULE_BYTES, UsageError, check_memory, check_output, count,
                                   devices, fraction, number, text)
from grammarvae.cli.progress import Bar
from grammarvae.errors import GrammarError, shown
from grammarvae.files import OutputBusy, check_distinct, write_text, writing
from grammarvae.quiet import import_tensorflow_quietly

IMAGE = (".png", ".svg")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, no traceback
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _add_common(p: argparse.ArgumentParser, model: bool = True) -> None:
    if model:
        p.add_argument("--model", help="a bundled model, zinc or moses, or a .keras GrammarVAE file "
                                       "(default: the bundled zinc model)")
    p.add_argument("--seed", type=count(0), default=0, help="random seed, >= 0 (default: 0)")


def _add_beam_width(p) -> None:
    p.add_argument("--beam-width", type=count(1), metavar="K",
                   help="decode each point by a beam of K, its most likely valid molecule (default: greedy)")


def _add_avoid_rings(p, default: str) -> None:
    p.add_argument("--avoid-rings", metavar="SIZES", type=_ring_sizes,
                   help="close rings of these sizes only where nothing else may be written: e.g. 4,8+ (4-rings, "
                        f"and rings of 8 or more atoms), or none (default: {default})")


def _ring_sizes(text: str) -> str:
    """--avoid-rings, checked (argparse words the ValueError as a usage error)."""
    from grammarvae.decoding.decoder import ring_sizes

    try:
        ring_sizes(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text.strip()


def _add_preparation(p: argparse.ArgumentParser) -> None:
    """--neutralize and --strip-stereo, each with its --no- form; neither given: the model's
    default (removed where the model saw none in training: GrammarVAE.preparation)."""
    default = "default: yes if the model saw none in training (the moses model), else no"
    p.add_argument("--neutralize", action=argparse.BooleanOptionalAction, default=None,
                   help=f"neutralise charges a proton can take or give before encoding ({default})")
    p.add_argument("--strip-stereo", action=argparse.BooleanOptionalAction, default=None,
                   help=f"remove tetrahedral and double-bond stereo marks before encoding ({default})")


def _parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="grammarvae", description="The Grammar VAE for molecules.",
                 formatter_class=argparse.RawDescriptionHelpFormatter,
                 epilog="examples:\n  grammarvae sample --around CCO -n 20 --image grid.png\n"
                        "  grammarvae encode smiles.txt -o latents.npy")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    def cmd(name, help, example):
        return sub.add_parser(name, help=help, description=help, epilog=f"example: {example}")

    p = cmd("parse", "print the production rules of a SMILES and the round trip", "grammarvae parse CCO")
    p.add_argument("smiles", type=text)
    p.add_argument("--grammar", default="zinc", help="grammar name or .cfg path (default: zinc)")
    p.add_argument("--model", help="also say whether the molecule fits this model's steps (zinc, moses or a "
                                   ".keras file), and whether its decoder can write it back")
    p.set_defaults(func=cmd_parse)

    p = cmd("encode", "encode SMILES (one per line, or a CSV column) to latent means",
            "grammarvae encode smiles.txt -o latents.npy --errors failed.csv")
    p.add_argument("input", help="a .smi/.txt file (one SMILES per line), .csv or .tsv (gzip ok), or - for standard input")
    p.add_argument("-o", "--output", help="latents.npy or latents.csv (default: INPUT.latents.npy)")
    p.add_argument("--column", help="SMILES column of a CSV or TSV (default: smiles/SMILES)")
    p.add_argument("--errors", help="write failures and notes (salts, what was removed, what the model never saw) "
                                    "as CSV: line, input, reason")
    _add_preparation(p)
    _add_common(p)
    p.set_defaults(func=cmd_encode)

    p = cmd("decode", "decode latent points (.npy or .csv) to SMILES", "grammarvae decode latents.npy -o out.smi")
    p.add_argument("input")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--greedy", action="store_true", help="most likely production at each step (default)")
    g.add_argument("--samples", type=count(1), metavar="K",
                   help="K sampled decodes per point, written as a CSV: row (of the input, from 1), smiles")
    _add_beam_width(g)
    p.add_argument("--temperature", type=number(0, strict=True), default=1.0,
                   help="sampling temperature, > 0 (default: 1)")
    p.add_argument("-o", "--output", help="write SMILES here (default: stdout)")
    _add_common(p)
    p.set_defaults(func=cmd_decode)

    p = cmd("sample", "sample molecules from the prior or around a molecule",
            "grammarvae sample --around CCO -n 20 --scale 2 --image grid.png")
    p.add_argument("-n", type=count(1), default=20, help="how many (default: 20)")
    p.add_argument("--around", type=text, metavar="SMILES", help="sample in the latent neighbourhood of this molecule")
    p.add_argument("--scale", type=number(0), default=2.0,
                   help="neighbourhood radius in the molecule's posterior standard deviations "
                        "(1: the encoder's own spread), >= 0 (default: 2)")
    p.add_argument("--filter", metavar="NAMES", type=lambda text: text.split(","),
                   help="only molecules that pass these filters, comma-separated: pains, brenk (structural "
                        "alerts), ring34, ring8 (rings of 3-4, of 8+ atoms), antiaromatic, or all; drawn until "
                        "-n are found (or say how many were)")
    p.add_argument("--distinct", action="store_true",
                   help="with --around: only molecules other than it and each other (drawn until -n are found, "
                        "or say how many were)")
    _add_prior(p)
    _add_avoid_rings(p, "4,8+ for prior samples of a molecule model, none with --around")
    _add_beam_width(p)
    p.add_argument("--image", help="also write an RDKit grid picture (.png or .svg)")
    p.add_argument("-o", "--output", help="write SMILES here (default: stdout)")
    _add_common(p)
    p.set_defaults(func=cmd_sample)

    p = cmd("interpolate", "decode the straight line between two molecules in latent space",
            "grammarvae interpolate 'COc1ccc2[nH]cc(CCNC(C)=O)c2c1' 'CN1C(=O)CN=C(c2ccccc2)c2cc(Cl)ccc21' --steps 8 --image path.png")
    p.add_argument("start", type=text)
    p.add_argument("end", type=text)
    p.add_argument("--steps", type=count(2), default=8,
                   help="points on the line, the two molecules' own points included (default: 8)")
    _add_beam_width(p)
    p.add_argument("-o", "--output", help="write the SMILES here (default: standard output)")
    p.add_argument("--image", help="also write an RDKit grid picture (.png or .svg)")
    _add_common(p)
    p.set_defaults(func=cmd_interpolate)

    p = cmd("reconstruct", "which of your molecules come back: each encoded and decoded, compared",
            "grammarvae reconstruct drugs.smi -o back.csv --image back.png")
    p.add_argument("input", help="molecules (.smi/.txt or .csv/.tsv, gzip ok)")
    p.add_argument("-o", "--output", help="a CSV, one row per input: line, input, encoded, decoded, same, "
                                          "similarity, reason, note (default: standard output)")
    p.add_argument("--column", help="SMILES column of a CSV")
    _add_beam_width(p)
    p.add_argument("--image", help="also a picture of the pairs, each molecule beside what came back "
                                   "(.png or .svg; the first 50)")
    _add_preparation(p)
    _add_common(p)
    p.set_defaults(func=cmd_reconstruct)

    p = cmd("train", "train a GrammarVAE with Keras fit (checkpointed, resumable)",
            "grammarvae train train.smi --preset small --epochs 10 -o model.keras")
    p.add_argument("input", help="training SMILES (.smi/.txt or .csv, gzip ok)")
    p.add_argument("-o", "--output", required=True, help="model file (.keras)")
    p.add_argument("--preset", default="small", choices=["small", "paper", "tiny", "equations"],
                   help="a new model's network (default: small; equations: the bundled expression model's)")
    p.add_argument("--decoder", default="one-shot", choices=["one-shot", "autoregressive"],
                   help="one-shot (the paper's, sees z only) or autoregressive (also sees the "
                        "productions chosen so far); default: one-shot")
    p.add_argument("--max-len", type=count(1), metavar="STEPS",
                   help="derivation steps the model reads (default: the preset's; with --init-from, "
                        "a longer one grows that model)")
    p.add_argument("--epochs", type=count(1), default=10, help="default: 10")
    p.add_argument("--steps-per-epoch", type=count(1), help="batches per epoch (default: one pass over the data)")
    p.add_argument("--batch-size", type=count(1), default=256, help="default: 256")
    p.add_argument("--learning-rate", type=number(0, strict=True), default=1e-3, help="default: 0.001")
    p.add_argument("--val-split", type=fraction, default=0.01, help="held-out fraction, in [0, 1) (default: 0.01)")
    p.add_argument("--val-data", metavar="FILE", help="validate on this file instead, training on all of INPUT "
                                                      "(ZINC-250k: zinc250k_part_a.smi.gz, the published split)")
    p.add_argument("--beta", type=number(0), help="KL weight (default: the starting model's with --init-from "
                                              "or --resume, else 1)")
    p.add_argument("--kl-warmup", type=count(0), default=0, metavar="STEPS",
                   help="raise the KL weight from 0 to --beta over this many batches (default: 0)")
    p.add_argument("--mmd-weight", type=number(0), metavar="W",
                   help="add InfoVAE's MMD of the latents from N(0, I), weighted W; 0 switches it off "
                        "(default: the starting model's with --init-from or --resume, else none)")
    p.add_argument("--mmd-kernel", choices=["imq", "gaussian"],
                   help="the MMD's kernel (default: the starting model's, else imq)")
    p.add_argument("--column", help="SMILES column of a CSV")
    p.add_argument("--resume", action="store_true", help="carry on from the last checkpoint")
    p.add_argument("--init-from", metavar="MODEL",
                   help="start from the weights and network of a bundled model (zinc, moses) or a "
                        ".keras file (fine-tuning; --preset and --decoder are then not used, "
                        "--max-len may grow it)")
    p.add_argument("--devices", type=devices, metavar="N|all",
                   help="train data parallel over N local devices (GPUs), or all of them: the JAX backend "
                        "(KERAS_BACKEND=jax; README, \"Training on GPUs\"); the batch is split over them")
    p.add_argument("--coordinator", metavar="HOST:PORT",
                   help="train as one of --num-processes processes (machines) together, data parallel over "
                        "all their devices: the address of process 0, which each reaches (JAX backend); "
                        "process 0 writes the files")
    p.add_argument("--num-processes", type=count(1), metavar="K", help="processes in the run (with --coordinator)")
    p.add_argument("--process-id", type=count(0), metavar="I", help="this process, 0 to K-1 (with --coordinator)")
    p.add_argument("--grammar", help="a new model's grammar: a name (zinc, equations) or a .cfg path (default: zinc)")
    p.add_argument("--language", choices=["smiles", "plain"],
                   help="how a new model reads and writes its text: smiles (molecules, through RDKit) or "
                        "plain (any grammar's strings as they are; the paper's expressions) (default: smiles)")
    _add_common(p, model=False)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="measure validity, uniqueness, novelty, diversity and reconstruction",
                       description="measure validity, uniqueness, novelty, diversity and reconstruction",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="example: grammarvae evaluate --test held_out.smi --train train.smi --json metrics.json\n\n"
                              "the figures printed, each with what it is:\n" + _glossary())
    p.add_argument("--test", required=True, help="held-out SMILES for reconstruction accuracy")
    p.add_argument("--train", help="training SMILES, for novelty")
    p.add_argument("--column", help="SMILES column of CSV inputs")
    p.add_argument("-n", type=count(2), default=1000, help="prior samples (default: 1000)")
    p.add_argument("--limit", type=count(1), help="use at most this many test molecules, a random draw (--seed) in file order")
    p.add_argument("--fcd", action="store_true",
                   help="also the Frechet ChemNet Distance to --test (needs: pip install 'grammarvae[fcd]')")
    p.add_argument("--beam-width", type=count(1), metavar="K", help="also reconstruct by beam search of width K")
    p.add_argument("--unique-n", type=count(2), metavar="N", help="also the uniqueness of N prior samples (e.g. 10000)")
    p.add_argument("--sampled-protocol", type=count(0), default=0, metavar="K",
                   help="also the sampled 10 x 10 reconstruction protocol on the first K test molecules")
    p.add_argument("--prior-decoding", default="greedy", choices=["greedy", "sampled"],
                   help="decode prior samples greedily or draw them from p(x|z) (default: greedy)")
    _add_prior(p)
    _add_avoid_rings(p, "4,8+ for a molecule model: prior samples as sample writes them")
    p.add_argument("--json", help="also write the figures here")
    _add_common(p)
    p.set_defaults(func=cmd_evaluate)

    from grammarvae.properties import PROPERTIES

    p = cmd("fit-prior", "fit the prior that sample draws from: the posteriors of training molecules, widened",
            "grammarvae fit-prior train.smi --model model.keras -o model_with_prior.keras")
    p.add_argument("input", help="training SMILES (.smi/.txt or .csv, gzip ok) to draw the bank from")
    p.add_argument("-o", "--output", required=True, help="the model with its prior (.keras)")
    p.add_argument("--column", help="SMILES column of a CSV input")
    p.add_argument("--size", type=count(1), default=5000, help="molecules whose posteriors it holds (default: 5000)")
    p.add_argument("--scale", type=number(0, strict=True), default=3.0,
                   help="how far each posterior is widened, in its standard deviations (default: 3)")
    _add_common(p)
    p.set_defaults(func=cmd_fit_prior)

    p = cmd("optimize", "Bayesian optimisation of a property in the latent space (the Grammar VAE paper's loop)",
            "grammarvae optimize data.smi --property penalized_logp --iterations 5 --batch 50 -o results.csv")
    p.add_argument("input", help="starting molecules (.smi/.txt or .csv, gzip ok): encoded and scored")
    p.add_argument("--property", choices=list(PROPERTIES),
                   help="the property to optimise (default: penalized_logp)")
    p.add_argument("--target", type=text, metavar="EXPRESSION",
                   help="an expression model (grammar equations): the function to fit, each proposal scored "
                        "log(1 + MSE) on the paper's 1,000 points in [-10, 10], lowest best (default: 1/3+x+sin(x*x))")
    p.add_argument("--minimize", action="store_true",
                   help="seek the lowest value (SA score, molecular weight); default: the highest")
    p.add_argument("--iterations", type=count(1), default=5, help="rounds of fit, propose, decode, score (default: 5)")
    p.add_argument("--batch", type=count(1), default=50, help="new molecules proposed per round, at most (default: 50)")
    p.add_argument("--inducing", type=count(1), default=500, help="the sparse GP's inducing points (default: 500)")
    p.add_argument("--top", type=count(1), default=9, help="best molecules printed and drawn (default: 9)")
    p.add_argument("-o", "--output", required=True, help="CSV, one row per proposed molecule")
    p.add_argument("--image", help="also a grid picture of the best molecules (.png or .svg)")
    p.add_argument("--plot", help="also a plot of the best score per iteration (.png or .svg)")
    p.add_argument("--column", help="SMILES column of a CSV")
    _add_common(p)
    p.set_defaults(func=cmd_optimize)

    p = cmd("improve", "improve molecules' property while keeping them similar (JT-VAE's constrained task)",
            "grammarvae improve 'CC(=O)Nc1ccc(O)cc1' --property penalized_logp_raw --similarity 0.4 --model zinc")
    p.add_argument("smiles", nargs="+", type=text, help="the molecules to improve")
    p.add_argument("--property", default="penalized_logp_raw", choices=list(PROPERTIES),
                   help="the property to raise (default: penalized_logp_raw, JT-VAE's scale)")
    p.add_argument("--similarity", type=fraction, default=0.4,
                   help="Tanimoto similarity to the start a result must keep, in [0, 1) (default: 0.4)")
    p.add_argument("--steps", type=count(1), default=80, help="gradient steps per path (default: 80)")
    p.add_argument("--samples", type=count(0), default=1,
                   help="sampled decodes per point besides the greedy one (default: 1)")
    p.add_argument("--data", help="molecules to fit the property model to (default: 2,000 of the model's prior samples)")
    p.add_argument("--column", help="SMILES column of a CSV --data")
    p.add_argument("--inducing", type=count(1), default=500, help="the sparse GP's inducing points (default: 500)")
    p.add_argument("--top", type=count(1), default=3, help="results printed per molecule (default: 3)")
    p.add_argument("-o", "--output", help="CSV, one row per molecule decoded (start, smiles, score, similarity, step)")
    p.add_argument("--image", help="also a picture of each molecule beside its best result (.png or .svg)")
    _add_common(p)
    p.set_defaults(func=cmd_improve)

    p = cmd("shift", "move a molecule along a property's direction in the latent space",
            "grammarvae shift 'CC(=O)Nc1ccc(O)cc1' --property logp --steps 6 --image shift.png")
    p.add_argument("smiles", type=text)
    p.add_argument("--property", default="logp", choices=list(PROPERTIES), help="default: logp")
    p.add_argument("--steps", type=count(2), default=6, help="points along the direction, start included (default: 6)")
    p.add_argument("--scale", type=number(-math.inf), default=2.0,
                   help="how far, in lengths of the direction; negative lowers the property (default: 2)")
    p.add_argument("--data", help="molecules to take the direction from (default: 2,000 of the model's own prior samples)")
    p.add_argument("--column", help="SMILES column of a CSV --data")
    p.add_argument("--image", help="also a grid picture of the steps (.png or .svg)")
    _add_common(p)
    p.set_defaults(func=cmd_shift)
    return ap


# ---------------------------------------------------------------------------- helpers
def _glossary() -> str:
    from grammarvae.figures import GLOSSARY

    return "\n".join(f"  {name:28s} {text}" for name, text in GLOSSARY.items())


def _add_prior(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prior", choices=["aggregate", "normal"],
                   help="draw latent points from the model's fitted aggregate posterior (grammarvae fit-prior) or "
                        "N(0, I) (default: aggregate where the model has one, else normal)")


def _prior(model, args) -> str:
    """The prior --prior names, checked against the model."""
    if args.prior == "aggregate" and model.prior is None:
        raise UsageError("--prior aggregate: this model has no fitted prior (make one with grammarvae fit-prior)")
    return args.prior or model.default_prior


def _model(args):
    import_tensorflow_quietly()
    from grammarvae.models.gvae import GrammarVAE

    try:
        model = GrammarVAE.named(args.model)
    except (FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from None
    if getattr(args, "beam_width", None):  # one molecule's beams are decoded together, whatever the width
        check_memory(args.beam_width, "--beam-width", bytes_each=BEAM_BYTES_PER_STEP * model.max_len)
    if not model.language.prepares:
        _refuse_molecule_work(args, model)
    return model


MOLECULE_COMMANDS = ("parse", "evaluate", "reconstruct", "improve", "shift")
MOLECULE_OPTIONS = ("image", "filter", "neutralize", "strip_stereo", "avoid_rings")


def _refuse_molecule_work(args, model) -> None:
    """UsageError for what only molecules mean, asked of a model of another language."""
    what = (f"{args.command}" if args.command in MOLECULE_COMMANDS else
            next((f"--{o.replace('_', '-')}" for o in MOLECULE_OPTIONS if getattr(args, o, None)), None))
    if what:
        raise UsageError(f"{what} is for molecule models; {args.model} writes {model.language.name} text "
                         f"of the grammar {model.grammar_name}")


def _rows(path: str, column: str | None):
    from grammarvae.io import read_smiles

    try:
        rows = read_smiles(path, column)
    except (FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from None
    if not rows:
        raise UsageError(f"{path}: no SMILES in the file")
    return rows


def _write_lines(lines, output: str | None) -> None:
    text = "".join(f"{s}\n" for s in lines)
    if not output and sys.stdout is None:
        raise UsageError("standard output is closed: name a file to write with -o")
    if output:
        write_text(output, text)
        print(f"wrote {len(lines)} lines to {output}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def _image(model, smiles, path, legends=None, per_row=None) -> None:
    if path and not smiles:  # an optimisation that found no new molecule, say
        print(f"no molecule to draw, so no picture was written to {path}", file=sys.stderr)
    elif path:
        try:
            model.draw(smiles, path, legends=legends, mols_per_row=per_row)
        except ValueError as e:
            raise UsageError(str(e)) from None
        print(f"wrote picture {path}", file=sys.stderr)


@contextlib.contextmanager
def _named_inputs(**named: str):
    """SMILES arguments (name=smiles): one the model cannot read is bad usage (exit 2), named
    as it was typed; a salt or mixture, encoded as its largest fragment, is said so in a note."""
    from grammarvae.chem import FragmentWarning

    name_of = {smiles: name.replace("_", "-") for name, smiles in named.items()}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", FragmentWarning)
            yield
    except GrammarError as e:
        if e.smiles in name_of:
            raise UsageError(f"{name_of[e.smiles]} {shown(e.smiles)}: {e.reason}") from None
        raise
    for w in caught:
        if issubclass(w.category, FragmentWarning):
            name = next((n for s, n in name_of.items() if str(w.message).startswith(repr(s))), "input")
            print(f"note: {name} {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


# ---------------------------------------------------------------------------- commands
def cmd_parse(args) -> int:
    from grammarvae.grammar import Grammar

    try:
        g = Grammar.load(args.grammar)
    except (FileNotFoundError, OSError) as e:
        raise UsageError(f"--grammar {args.grammar}: {e}") from None
    ids = g.parse(args.smiles)
    width = len(str(g.n_productions))
    for step, i in enumerate(ids):
        print(f"{step:4d}  {i:{width}d}  {g.productions[i]}")
    back = g.unparse(ids)
    print(f"{len(ids)} productions; round trip: {back} ({'identical' if back == args.smiles else 'DIFFERENT'})")
    from grammarvae.chem import standardize_reporting

    kekule, _ = standardize_reporting(args.smiles, kekule=True)
    steps = len(g.parse(kekule))
    fits = ""
    if args.model:
        model = _model(args)
        fits = f"; {'fits' if steps <= model.max_len else 'does NOT fit'} the model's {model.max_len} steps"
    print(f"the model reads its Kekule form {kekule}: {steps} productions{fits}")
    if args.model and steps <= model.max_len:
        from grammarvae.data import encode_smiles

        X = encode_smiles([kekule], model.max_len, model.grammar).X
        refused, written = model.decoder_engine.replay(X)
        print(f"its decoder can write it: {written[0]}" if refused[0] < 0 else
              f"its decoder cannot write it: step {refused[0]}, {g.productions[X[0, refused[0]]]}, is refused")
        if model.trained_productions is not None:
            from grammarvae.scope import describe, unseen

            missing = unseen(X[0], model.trained_productions)
            print(f"the model never saw in training: {describe(g, missing)} (it may not come back as written)"
                  if missing else "the model saw every production of it in training")
    return 0 if back == args.smiles else 1


def cmd_encode(args) -> int:
    from grammarvae.latent_files import encode_to_file

    if args.input == "-" and not args.output:
        raise UsageError("reading standard input (-): name the output with -o")
    if args.input != "-" and not Path(args.input).is_file():
        raise UsageError(f"{args.input}: no such file")
    out = args.output or f"{args.input}.latents.npy"
    check_output(out, (".npy", ".csv"), "-o")
    check_output(args.errors, (".csv",), "--errors")
    model = _model(args)

    with Bar("encoding") as bar:
        try:
            s = encode_to_file(model, args.input, out, column=args.column, errors=args.errors,
                               report=lambda line, smiles, why: bar.write(f"{args.input}:{line}: {shown(smiles)}: {why}"),
                               progress=bar.update, neutralize=args.neutralize, strip_stereo=args.strip_stereo)
        except (FileNotFoundError, ValueError) as e:
            raise UsageError(str(e)) from None
    mixtures = (f"; {s.mixtures} {'salt or mixture' if s.mixtures == 1 else 'salts or mixtures'} encoded as "
                f"the largest fragment" if s.mixtures else "")
    if s.prepared:
        mixtures += f"; {s.prepared} encoded without their charges or stereo marks (--neutralize, --strip-stereo)"
    if s.unseen:
        mixtures += f"; {s.unseen} hold what the model never saw in training"
    print(f"encoded {s.encoded} of {s.rows}, failed {s.failed}{mixtures}; "
          f"latents ({s.rows} x {s.latent_dim}, NaN rows for failures) in {out}", file=sys.stderr)
    return 1 if s.failed else 0


def _load_latents(path: str, width: int):
    import numpy as np

    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy warns on an empty text file; we say it below
            Z = np.load(p, allow_pickle=False) if p.suffix == ".npy" else np.loadtxt(p, delimiter=",", ndmin=2)
    except (ValueError, OSError) as e:
        raise UsageError(f"{path}: not a latent array ({e})") from None
    if not isinstance(Z, np.ndarray):  # an .npz archive under another name
        raise UsageError(f"{path}: an archive of arrays ({', '.join(Z.files)}), not one array of latents")
    if Z.size == 0:
        raise UsageError(f"{path}: no latent rows in the file")
    if Z.dtype.kind not in "fiu":
        raise UsageError(f"{path}: holds {Z.dtype} values, not numbers")
    Z = np.atleast_2d(np.asarray(Z, dtype="float32"))
    if Z.ndim != 2 or Z.shape[1] != width:
        raise UsageError(f"{path}: latents must be (n, {width}) for this model, got {Z.shape}")
    return Z


def cmd_decode(args) -> int:
    import numpy as np

    check_output(args.output, None, "-o")
    model = _model(args)
    Z = _load_latents(args.input, model.latent_dim)
    check_memory(len(Z) * (args.samples or 1), f"{len(Z)} points x --samples {args.samples} =" if args.samples
                 else "latent rows")
    failed = np.isnan(Z).all(1)  # the rows `encode` writes for inputs it could not read
    bad = ~np.isfinite(Z).all(1) & ~failed
    keep = np.nonzero(~failed & ~bad)[0]
    decoded: list[list[str]] = [[""] for _ in range(len(Z))]
    with Bar("decoding") as bar:
        if args.samples:
            reps = np.repeat(Z[keep], args.samples, axis=0)
            dec = model.decode(reps, greedy=False, temperature=args.temperature, seed=args.seed, progress=bar.update)
            for j, i in enumerate(keep):
                decoded[i] = dec[j * args.samples:(j + 1) * args.samples]
        else:
            for i, s in zip(keep, model.decode(Z[keep], beam_width=args.beam_width, progress=bar.update)):
                decoded[i] = [s]
    for i in np.nonzero(bad)[0]:
        print(f"{args.input}: row {i + 1}: latent not finite (inf, or NaN in part of it), left empty", file=sys.stderr)
    if args.samples:  # one molecule a line, with the row it was decoded from: a CSV the package reads back
        lines = ["row,smiles"] + [f"{i + 1},{s}" for i, row in enumerate(decoded) for s in row]
    else:
        lines = [row[0] for row in decoded]
    _write_lines(lines, args.output)
    if failed.any():
        print(f"{int(failed.sum())} of {len(Z)} rows are NaN (inputs encode could not read): left empty",
              file=sys.stderr)
    return 1 if bad.any() else 0


def cmd_sample(args) -> int:
    check_output(args.output, None, "-o")
    check_output(args.image, IMAGE, "--image")
    streamed = not (args.around or args.filter or args.image)  # written as decoded: any -n
    if not streamed:
        check_memory(args.n, "-n")
    if args.distinct and not args.around:
        raise UsageError("--distinct is for --around (prior samples are not drawn around a molecule)")
    if args.filter:
        from grammarvae.filters import check_names

        try:
            check_names(args.filter)
        except ValueError as e:
            raise UsageError(f"--filter: {e}") from None
    model = _model(args)
    if streamed:
        return _sample_streamed(model, args)
    if args.around:
        with _named_inputs(__around=args.around):
            smiles = model.sample_around(args.around, n=args.n, scale=args.scale, seed=args.seed,
                                         beam_width=args.beam_width, distinct=args.distinct, filters=args.filter,
                                         avoid_rings=args.avoid_rings)
        lines = [model.language.canonical(args.around)] + smiles
        legends = ["seed: " + lines[0]] + smiles
    else:
        smiles = lines = model.sample(args.n, seed=args.seed, beam_width=args.beam_width, filters=args.filter,
                                      prior=_prior(model, args), avoid_rings=args.avoid_rings)
        legends = None
    if len(smiles) < args.n:
        wanted = " and ".join(w for w, on in (("distinct, other than the seed", args.distinct),
                                                (f"passing {','.join(args.filter or [])}", args.filter)) if on)
        from grammarvae.models.gvae import DRAW_ROUNDS

        print(f"note: {len(smiles)} molecules {wanted} found in {DRAW_ROUNDS * args.n} draws, not {args.n}",
              file=sys.stderr)
    _write_lines(lines, args.output)
    _image(model, lines, args.image, legends)
    return 0


def _sample_streamed(model, args) -> int:
    """Prior samples written as they are decoded, a chunk at a time (memory flat in -n)."""
    if not args.output and sys.stdout is None:
        raise UsageError("standard output is closed: name a file to write with -o")
    done = 0
    with (writing(args.output) if args.output else contextlib.nullcontext(sys.stdout)) as fh, \
            Bar("sampling") as bar:
        for part in model.sample_chunks(args.n, seed=args.seed, beam_width=args.beam_width, prior=_prior(model, args),
                                        avoid_rings=args.avoid_rings):
            fh.write("".join(f"{s}\n" for s in part))
            done += len(part)
            bar.update(done, args.n)
    if args.output:
        print(f"wrote {done} lines to {args.output}", file=sys.stderr)
    return 0


def cmd_interpolate(args) -> int:
    check_output(args.output, None, "-o")
    check_output(args.image, IMAGE, "--image")
    check_memory(args.steps, "--steps")
    model = _model(args)
    with _named_inputs(start=args.start, end=args.end):
        path = model.interpolate(args.start, args.end, steps=args.steps, beam_width=args.beam_width)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a salt's note was given above
        ends = [(name, model.language.canonical(s), got) for name, s, got in (("start", args.start, path[0]), ("end", args.end, path[-1]))]
    for name, want, got in ends:
        if want != got:
            print(f"note: the {name} does not come back from this model: its point decodes to {got}"
                  + ("" if args.beam_width else " (--beam-width 4 gives more molecules back)"), file=sys.stderr)
    _write_lines(path, args.output)
    _image(model, path, args.image, [f"{i}: {s}" for i, s in enumerate(path)])
    return 0


def cmd_reconstruct(args) -> int:
    import csv
    import io

    from grammarvae.reconstruct import MAX_PAIRS_DRAWN, reconstruct, summary

    check_output(args.output, (".csv",), "-o")
    check_output(args.image, IMAGE, "--image")
    rows = _rows(args.input, args.column)
    check_memory(len(rows), "molecules in the input")
    model = _model(args)
    with Bar("reconstructing") as bar, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # salts: the encoded column says what was encoded
        result = reconstruct(model, [r.smiles for r in rows], beam_width=args.beam_width, progress=bar.update,
                             neutralize=args.neutralize, strip_stereo=args.strip_stereo)
    text = io.StringIO()
    w = csv.writer(text, lineterminator="\n")
    w.writerow(["line", "input", "encoded", "decoded", "same", "similarity", "reason", "note"])
    for row, r in zip(rows, result):
        w.writerow([row.line, r.input, r.encoded or "", r.decoded or "", "yes" if r.same else "no",
                    "" if r.encoded is None else f"{r.similarity:.3f}", r.reason or "", r.note or ""])
    _write_lines(text.getvalue().splitlines(), args.output)
    for row, r in zip(rows, result):
        if r.reason:
            print(f"{args.input}:{row.line}: {shown(r.input)}: {r.reason}", file=sys.stderr)
    print(summary(result), file=sys.stderr)
    if args.image:
        drawn = [r for r in result if r.encoded is not None][:MAX_PAIRS_DRAWN]
        smiles = [s for r in drawn for s in (r.encoded, r.decoded)]
        legends = [t for r in drawn for t in (r.input, "same" if r.same else f"similarity {r.similarity:.2f}")]
        _image(model, smiles, args.image, legends, per_row=min(6, len(smiles)))  # three pairs a row
    return 1 if any(r.encoded is None for r in result) else 0


def cmd_train(args) -> int:
    if not Path(args.input).is_file():
        raise UsageError(f"{args.input}: no such file")
    check_output(args.output, (".keras",), "-o")
    several = [args.coordinator, args.num_processes, args.process_id]
    if any(x is not None for x in several) and any(x is None for x in several):
        raise UsageError("a run of several processes takes --coordinator, --num-processes and --process-id together")
    import_tensorflow_quietly()  # only now: the checks above answer at once
    from grammarvae.train import TrainingDiverged, initialize_processes, train

    if args.coordinator is not None:
        initialize_processes(args.coordinator, args.num_processes, args.process_id)

    try:
        hist = train(args.input, args.output, preset=args.preset, epochs=args.epochs,
                     steps_per_epoch=args.steps_per_epoch, batch_size=args.batch_size, val_split=args.val_split,
                     learning_rate=args.learning_rate, seed=args.seed, resume=args.resume, column=args.column,
                     beta=args.beta, kl_warmup_steps=args.kl_warmup, decoder=args.decoder,
                     mmd_weight=args.mmd_weight, mmd_kernel=args.mmd_kernel, init_from=args.init_from,
                     val_data=args.val_data, devices=args.devices, **_new_model_reading(args),
                     **({"max_len": args.max_len} if args.max_len else {}))
    except TrainingDiverged as e:
        print(f"grammarvae train: {e}", file=sys.stderr)
        return 1
    last = {k: round(float(v[-1]), 4) for k, v in hist.items() if v}
    print(f"saved {args.output}; last epoch: {json.dumps(last)}", file=sys.stderr)
    return 0


def _new_model_reading(args) -> dict:
    """The grammar and language of a new run's model; refused where the run's network is another's."""
    given = {k: v for k, v in (("grammar", args.grammar), ("language", args.language)) if v}
    if given and (args.resume or args.init_from):
        flags = " and ".join(f"--{k}" for k in given)
        raise UsageError(f"{flags}: a run started from {'its checkpoint' if args.resume else args.init_from} "
                         f"keeps that model's grammar and language")
    if args.language == "plain" and not args.grammar:
        raise UsageError("--language plain: name the grammar its texts are of (--grammar equations, say)")
    return given


def cmd_evaluate(args) -> int:
    from grammarvae.evaluate import draw, evaluate
    from grammarvae.figures import explain

    check_output(args.json, (".json",), "--json")
    check_memory(max(args.n, args.unique_n or 0), "-n" if args.n >= (args.unique_n or 0) else "--unique-n")
    if args.fcd:
        from grammarvae.realism import require_fcd

        try:
            require_fcd()
        except ImportError as e:
            raise UsageError(f"--fcd: {e}") from None
    model = _model(args)
    test_rows = draw([r for r in _rows(args.test, args.column) if r.smiles], args.limit, seed=args.seed)
    test = [r.smiles for r in test_rows]
    train = [r.smiles for r in _rows(args.train, args.column)] if args.train else None
    with Bar("reconstructing") as bar:
        figures = evaluate(model, test, train=train, n_prior=args.n, seed=args.seed, progress=bar.update,
                           beam_width=args.beam_width, n_unique=args.unique_n, sampled_protocol=args.sampled_protocol,
                           prior_decoding=args.prior_decoding, with_fcd=args.fcd, prior=_prior(model, args),
                           avoid_rings=args.avoid_rings)
    for i, smiles, why in figures.pop("not_encodable"):
        print(f"{args.test}:{test_rows[i].line}: {shown(smiles)}: {why} (counted as not reconstructed)", file=sys.stderr)
    for k, v in figures.items():
        shown_value = f"{v:.4f}" if isinstance(v, float) else str(v)
        print(f"{k:28s} {shown_value:>8s}  {explain(k)}")
    if args.json:
        write_text(args.json, json.dumps(figures, indent=1))
    return 0


def cmd_fit_prior(args) -> int:
    from grammarvae.train import save_atomically

    check_output(args.output, (".keras",), "-o")
    model = _model(args)
    smiles = [r.smiles for r in _rows(args.input, args.column) if r.smiles]
    with Bar("encoding") as bar:
        fitted = model.with_prior(smiles, size=args.size, scale=args.scale, seed=args.seed, progress=bar.update)
    save_atomically(fitted, Path(args.output))
    print(f"wrote {args.output}: a prior of {fitted.prior.size} molecules' posteriors, widened {args.scale:g} times",
          file=sys.stderr)
    return 0


def cmd_optimize(args) -> int:
    from grammarvae.design import optimize
    from grammarvae.plots import curve

    check_output(args.output, (".csv",), "-o")
    check_output(args.image, IMAGE, "--image")
    check_output(args.plot, IMAGE, "--plot")
    check_memory(args.batch, "--batch", bytes_each=3 * (8 * args.inducing + MOLECULE_BYTES))
    model = _model(args)
    target, minimize, what = _optimization_target(args, model)
    smiles = [r.smiles for r in _rows(args.input, args.column) if r.smiles]
    with Bar(f"optimizing {what}") as bar:
        run = optimize(model, smiles, target, iterations=args.iterations, batch=args.batch,
                       seed=args.seed, num_inducing=args.inducing, minimize=minimize, progress=bar.update)
    run.write_csv(args.output, text="smiles" if model.language.prepares else "text")
    things = "molecules" if model.language.prepares else "texts"
    for it, (decoded, new) in enumerate(run.rounds, 1):
        if new < args.batch:
            print(f"iteration {it}: {new} new {things}, not {args.batch}: its {decoded} best points decoded to "
                  f"only {new} {things} not seen before", file=sys.stderr)
    shares = run.shares()
    print(f"wrote {shares['proposals']} proposals to {args.output}: valid {shares['valid']:.0%}, "
          f"distinct {shares['unique']:.0%}, not in the data {shares['novel']:.0%}", file=sys.stderr)
    print(f"best {what} in the data: {run.data_best:.3f}")
    best = run.best(args.top)
    for rank, p in enumerate(best, 1):
        print(f"{rank:3d}  {p.score:8.3f}  iteration {p.iteration}  {p.smiles}")
    _image(model, [p.smiles for p in best], args.image, [f"{p.score:.2f} (iteration {p.iteration})" for p in best])
    if args.plot:
        curve(args.plot, range(args.iterations + 1), {"best so far": run.best_per_iteration()},
              xlabel="iteration (0: the data set)", ylabel=what, title=f"Bayesian optimisation of {what}")
        print(f"wrote plot {args.plot}", file=sys.stderr)
    return 0


def _optimization_target(args, model):
    """(target, minimize, its name) of `optimize`: a property of molecules, or for an expression
    model the fit to --target."""
    if model.language.prepares:
        if args.target:
            raise UsageError(f"--target is for expression models; {args.model} writes molecules (use --property)")
        return args.property or "penalized_logp", args.minimize, args.property or "penalized_logp"
    if args.property:
        raise UsageError(f"--property is for molecule models; {args.model} writes {model.language.name} text "
                         f"of the grammar {model.grammar_name}")
    from grammarvae.equations import TARGET, fit

    try:
        score = fit(model.grammar, args.target or TARGET)
    except ValueError as e:
        raise UsageError(f"--target: {e} (an expression model is scored by its fit to --target; for another "
                         f"grammar, call grammarvae.design.optimize with a score function)") from None
    return score, True, score.__name__


def cmd_improve(args) -> int:
    from grammarvae.design import improve, property_model, write_improvements

    check_output(args.output, (".csv",), "-o")
    check_output(args.image, IMAGE, "--image")
    check_memory(args.steps * 3 * (1 + args.samples), "--steps x --samples", bytes_each=MOLECULE_BYTES)
    model = _model(args)
    data = [r.smiles for r in _rows(args.data, args.column) if r.smiles] if args.data else None
    with _named_inputs(**{f"molecule {i + 1}": s for i, s in enumerate(args.smiles)}):
        model.encode(args.smiles)  # a molecule the model cannot read is refused before the work
    with Bar(f"fitting the {args.property} model") as bar:
        try:
            gp = property_model(model, args.property, data, num_inducing=args.inducing, seed=args.seed,
                                progress=bar.update)
        except ValueError as e:
            raise UsageError(str(e)) from None
    with Bar("improving") as bar, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a salt's note was given above
        runs = improve(model, args.smiles, gp, args.property, steps=args.steps, samples=args.samples,
                       seed=args.seed, progress=bar.update)
    if args.output:
        write_improvements(runs, args.output)
        print(f"wrote {sum(len(r.path) for r in runs)} decoded molecules to {args.output}", file=sys.stderr)
    pairs = []
    for r in runs:
        print(f"{r.start}  {args.property} {r.start_score:.3f}")
        best = r.ranked(args.similarity)[:args.top]
        if not best:
            print(f"  none better at similarity >= {args.similarity:g} "
                  f"(of {len(r.path)} molecules decoded; try more --steps or --samples, or a lower --similarity)")
        for s in best:
            print(f"  {s.score:8.3f}  {s.score - r.start_score:+7.3f}  similarity {s.similarity:.2f}  step {s.step:3d}  {s.smiles}")
        if best:
            pairs += [(r.start, f"start: {r.start_score:.2f}"),
                      (best[0].smiles, f"{best[0].score:.2f} ({best[0].score - r.start_score:+.2f}), "
                                       f"similarity {best[0].similarity:.2f}")]
    _image(model, [s for s, _ in pairs], args.image, [t for _, t in pairs], per_row=2)
    return 0


def cmd_shift(args) -> int:
    from grammarvae.design import direction_of, shift
    from grammarvae.properties import score

    check_output(args.image, IMAGE, "--image")
    check_memory(args.steps, "--steps")
    model = _model(args)
    data = [r.smiles for r in _rows(args.data, args.column) if r.smiles] if args.data else None
    with _named_inputs(smiles=args.smiles):
        model.encode([args.smiles])  # a molecule the model cannot read is refused before the work
    with Bar(f"finding the {args.property} direction") as bar:
        direction = direction_of(model, args.property, data, seed=args.seed, progress=bar.update)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a salt's note was given above
        path = shift(model, args.smiles, direction, steps=args.steps, scale=args.scale)
    values = score([s for _, s in path], args.property).values
    for (t, s), v in zip(path, values):
        print(f"{t:6.2f}  {args.property} {v:8.3f}  {s}")
    _image(model, [s for _, s in path], args.image, [f"{t:.1f}: {args.property} {v:.2f}" for (t, _), v in zip(path, values)])
    return 0


class Terminated(BaseException):
    """SIGTERM, raised where the program is, so that its temporary files are cleaned up."""


def _terminate(signum, frame):
    raise Terminated


# The arguments that name files the command reads, and those it writes (as the user writes them).
INPUTS = {"input": "the input", "test": "--test", "train": "--train", "data": "--data", "val_data": "--val-data"}
OUTPUTS = {"output": "-o", "errors": "--errors", "image": "--image", "plot": "--plot", "json": "--json"}


def _check_files(args) -> None:
    """Outputs that name an input, or each other, are refused before any work."""
    inputs = {flag: getattr(args, name, None) for name, flag in INPUTS.items()}
    inputs.update({flag: path for flag, path in (("--model", getattr(args, "model", None)),
                                                 ("--init-from", getattr(args, "init_from", None)))
                   if path and Path(path).is_file()})
    try:
        check_distinct(inputs, {flag: getattr(args, name, None) for name, flag in OUTPUTS.items()})
    except ValueError as e:
        raise UsageError(str(e)) from None


# Commands that print their results, and the option that writes them to a file instead (None: none does).
RESULTS = {"parse": None, "decode": "output", "sample": "output", "interpolate": "output", "reconstruct": "output",
           "evaluate": "json", "improve": "output", "shift": "image"}


def _check_stdout(args) -> None:
    """With standard output closed, a command whose results would go there is refused before
    any work, rather than run with its results lost."""
    if sys.stdout is not None or args.command not in RESULTS:
        return
    option = RESULTS[args.command]
    if option is None:
        raise UsageError("standard output is closed, and this command's results go there")
    if not getattr(args, option, None):
        raise UsageError(f"standard output is closed: name a file to write with {OUTPUTS[option]}")


def main(argv: list[str] | None = None) -> int:
    in_main_thread = threading.current_thread() is threading.main_thread()  # where signals can be handled
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        return _run(argv)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _run(argv: list[str] | None) -> int:
    command = "grammarvae"
    try:
        args = _parser().parse_args(argv)
        command = f"grammarvae {args.command}"
        _check_files(args)
        _check_stdout(args)
        return args.func(args)
    except (UsageError, OutputBusy) as e:
        print(f"{command}: error: {e}", file=sys.stderr)
        return 2
    except GrammarError as e:
        print(f"{command}: error: {e}", file=sys.stderr)
        return 1
    except ValueError as e:  # a value the library refuses (a non-finite scale, a model with NaN weights)
        print(f"{command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print(f"{command}: terminated", file=sys.stderr)
        return 143
    except BrokenPipeError:  # the reader went away (`| head`): nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except MemoryError:
        print(f"{command}: error: not enough memory for this; ask for fewer molecules or points at once",
              file=sys.stderr)
        return 2
    except OSError as e:  # a full disk, a folder that went away, a file that cannot be read
        where = f": {e.filename}" if e.filename else ""
        print(f"{command}: error: {e.strerror or e}{where}", file=sys.stderr)
        return 2
    except Exception as e:  # a defect: one line, and the way to see the rest
        if os.environ.get("GRAMMARVAE_DEBUG"):
            raise
        print(f"{command}: internal error: {e.__class__.__name__}: {e} (please report it; "
              "GRAMMARVAE_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
