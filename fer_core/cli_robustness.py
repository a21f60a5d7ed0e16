"""`python -m fer_core robustness ...`: accuracy on FER2013Test under each perturbation."""
from __future__ import annotations

import argparse
import json
import shlex
import sys


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("robustness", help="FER2013Test accuracy with eyes/mouth covered, darker, brighter, "
                                          "blurred, tilted and heavy-JPEG faces")
    p.add_argument("--model", default=None)
    p.add_argument("--data", default=None, help="FER+ root (default: ../shared/data/ferplus)")
    p.add_argument("--limit", type=int, default=0, help="only the first N test faces (0 = all)")
    p.add_argument("--write-card", action="store_true", help="record the table in the model's card")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_robustness)


def run_robustness(args: argparse.Namespace) -> int:
    from .robustness import run

    try:
        report = run(args.model, args.data, args.limit)
    except FileNotFoundError as exc:
        print(f"robustness: {exc}", file=sys.stderr)
        return 2
    if args.write_card:
        from .models import update_card

        update_card(args.model, "robustness", report,
                    "python -m fer_core " + " ".join(shlex.quote(a) for a in sys.argv[1:]))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"FER2013Test, {report['n']} faces: clean accuracy {report['clean']['accuracy']:.4f}")
    print(f"{'perturbation':<26s} {'accuracy':>9s} {'drop':>7s} {'macro-F1':>9s}")
    for name, m in report["perturbations"].items():
        print(f"{m['title']:<26s} {m['accuracy']:9.4f} {m['accuracy_drop']:+7.4f} {m['macro_f1']:9.4f}")
    return 0
