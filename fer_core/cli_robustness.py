"""`python -m fer_core robustness ...` (accuracy on FER2013Test under each perturbation) and
`python -m fer_core uncertainty ...` (the "uncertain" rule, chosen on FER2013Valid)."""
from __future__ import annotations

import argparse
import json
import shlex
import sys


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("robustness", help="FER2013Test accuracy with eyes/mouth covered, darker, brighter, "
                                          "blurred, tilted and heavy-JPEG faces")
    _model_data_card_json(p, "record the table in the model's card")
    p.add_argument("--limit", type=int, default=0, help="only the first N test faces (0 = all)")
    p.set_defaults(func=run_robustness)

    p = sub.add_parser("uncertainty", help="choose the 'uncertain' thresholds on FER2013Valid; report on test")
    _model_data_card_json(p, "record the rule in the model's card")
    p.add_argument("--target", type=float, default=0.9, help="accuracy the unflagged valid faces must reach")
    p.set_defaults(func=run_uncertainty)


def _model_data_card_json(p: argparse.ArgumentParser, card_help: str) -> None:
    """The options both commands share: which model and data, record in the card, print JSON."""
    p.add_argument("--model", default=None)
    p.add_argument("--data", default=None, help="FER+ root (default: ../shared/data/ferplus)")
    p.add_argument("--write-card", action="store_true", help=card_help)
    p.add_argument("--json", action="store_true")


def _command() -> str:
    return "python -m fer_core " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _record_or_dump(args: argparse.Namespace, section: str, result: dict) -> bool:
    """Write the result into the model card when asked; print it as JSON when asked (then True: done)."""
    if args.write_card:
        from .models import update_card

        update_card(args.model, section, result, _command())
    if args.json:
        print(json.dumps(result, indent=2))
    return args.json


def run_uncertainty(args: argparse.Namespace) -> int:
    from .uncertainty import run

    try:
        rule = run(args.model, args.data, args.target)
    except (FileNotFoundError, ValueError) as exc:
        print(f"uncertainty: {exc}", file=sys.stderr)
        return 2
    if _record_or_dump(args, "uncertainty", rule):
        return 0
    print(f"uncertain when the top score < {rule['top_below']:.2f} or the runner-up is within "
          f"{rule['margin_below']:.2f} (chosen on FER2013Valid for >= {rule['target_accuracy']:.0%} accuracy "
          "on the rest)")
    for split in ("valid", "test"):
        f = rule[split]
        print(f"{split:5s}: {f['flagged_share']:.1%} flagged; accuracy {f['accuracy_unflagged']:.1%} unflagged, "
              f"{f['accuracy_flagged']:.1%} flagged")
    return 0


def run_robustness(args: argparse.Namespace) -> int:
    from .robustness import run

    try:
        report = run(args.model, args.data, args.limit)
    except FileNotFoundError as exc:
        print(f"robustness: {exc}", file=sys.stderr)
        return 2
    if _record_or_dump(args, "robustness", report):
        return 0
    print(f"FER2013Test, {report['n']} faces: clean accuracy {report['clean']['accuracy']:.4f}")
    print(f"{'perturbation':<26s} {'accuracy':>9s} {'drop':>7s} {'macro-F1':>9s}")
    for name, m in report["perturbations"].items():
        print(f"{m['title']:<26s} {m['accuracy']:9.4f} {m['accuracy_drop']:+7.4f} {m['macro_f1']:9.4f}")
    return 0
