"""`python -m fer_core train ...`: argument parsing for the training loop."""
from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import fields

from .train import TrainConfig, train


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a classifier on FER+ / class folders / fer2013.csv (resumable)")
    p.add_argument("data", help="dataset root (FER+ layout, class folders, or fer2013.csv)")
    defaults = TrainConfig(data="")
    for f in fields(TrainConfig):
        if f.name == "data":
            continue
        default = getattr(defaults, f.name)
        flag = "--" + f.name.replace("_", "-")
        if isinstance(default, bool):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
        else:
            p.add_argument(flag, type=type(default), default=default)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})
    command = "python -m fer_core " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    train(cfg, command)
    return 0
