"""Options every command shares, and the command string a model card records, defined once.

Light on purpose: `fer-lens --help` must not wait for torch. Registries are read for their names only.
"""
from __future__ import annotations

import argparse
import shlex
from typing import Any

MODEL_HELP = "built-in model name, or path to a .safetensors / exported .onnx model (default: the built-in model)"
PROG = "fer-lens"


def add_model(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help=MODEL_HELP)


def add_json(p: argparse.ArgumentParser, help: str = "print the result as JSON") -> None:
    p.add_argument("--json", action="store_true", help=help)


def add_detector(p: argparse.ArgumentParser) -> None:
    from fer_core.detection.registry import DEFAULT_DETECTOR, DETECTORS

    p.add_argument("--detector", choices=sorted(DETECTORS), default=DEFAULT_DETECTOR,
                   help=f"face finder (default {DEFAULT_DETECTOR})")


def add_data(p: argparse.ArgumentParser, default: str | None = None) -> None:
    p.add_argument("--data", default=default, help="FER+ root (default: ../shared/data/ferplus)")


def add_threads(p: argparse.ArgumentParser, default: int | None, help: str = "torch threads") -> None:
    p.add_argument("--threads", type=int, default=default,
                   help=f"{help} (default {default if default is not None else 'torch’s choice'})")


def add_write_card(p: argparse.ArgumentParser, help: str = "record the result in the model's card") -> None:
    p.add_argument("--write-card", action="store_true", help=help)


def ferplus_root(args: argparse.Namespace) -> str:
    """`--data`, else the shared FER+ folder."""
    from fer_core.paths import shared_dir

    return args.data or str(shared_dir() / "data" / "ferplus")


def card_command(args: argparse.Namespace) -> str:
    """The command as given to `main` (not sys.argv, which may be a test runner's), for the model card."""
    return " ".join([PROG, *(shlex.quote(a) for a in args.argv)])


def record(args: argparse.Namespace, section: str, value: Any) -> None:
    """Write `value` into the model card's `section` when `--write-card` was given, with the command."""
    if getattr(args, "write_card", False):
        from fer_core.model.checkpoint import update_card

        update_card(args.model, section, value, card_command(args))
