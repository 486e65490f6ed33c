"""`grammarvae` command line entry point: parses arguments, calls the library, prints.

Exit codes: 0 success, 1 some inputs failed, 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys

from grammarvae.errors import GrammarError


class UsageError(Exception):
    """A user error: printed as one line, exit code 2."""


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="grammarvae",
        description="The Grammar VAE for molecules.",
        epilog="example: grammarvae parse 'c1ccccc1O'",
    )
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("parse", help="print the production rules of a SMILES and the round trip",
                       epilog="example: grammarvae parse CCO --grammar zinc")
    p.add_argument("smiles")
    p.add_argument("--grammar", default="zinc", help="grammar name or .cfg path (default: zinc)")
    p.set_defaults(func=cmd_parse)
    return ap


def cmd_parse(args: argparse.Namespace) -> int:
    from grammarvae.grammar import Grammar

    g = Grammar.load(args.grammar)
    ids = g.parse(args.smiles)
    width = len(str(g.n_productions))
    for step, i in enumerate(ids):
        print(f"{step:4d}  {i:{width}d}  {g.productions[i]}")
    back = g.unparse(ids)
    print(f"{len(ids)} productions; round trip: {back} ({'identical' if back == args.smiles else 'DIFFERENT'})")
    return 0 if back == args.smiles else 1


def main(argv: list[str] | None = None) -> int:
    ap = _parser()
    args = ap.parse_args(argv)
    try:
        return args.func(args)
    except (UsageError, GrammarError, FileNotFoundError) as e:
        print(f"grammarvae {args.command}: error: {e}", file=sys.stderr)
        return 2 if isinstance(e, UsageError) else 1


if __name__ == "__main__":
    sys.exit(main())
