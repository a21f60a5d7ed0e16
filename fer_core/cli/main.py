"""The one command line: `fer-lens COMMAND ...` (or `python -m fer_core COMMAND ...`).

Every command lives in one group module (`analyse`, `batch`, `evaluate`, `train`, `bench`, `research`,
`serve`), which adds its sub-parsers with the shared options of `fer_core.cli.common`
and imports what it runs only when it runs.
"""
from __future__ import annotations

import argparse
import sys

from fer_core.cli import analyse, batch, bench, evaluate, research, serve, train

GROUPS = (analyse, batch, evaluate, train, bench, research, serve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fer-lens", description="FER Lens: facial-expression recognition and its explanations, on this "
        "computer. Every command is also `python -m fer_core COMMAND`.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands")
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse `argv` (default: the process arguments), run the command, and return its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    return args.func(args)
