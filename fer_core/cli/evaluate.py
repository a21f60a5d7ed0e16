"""Evaluation commands: `evaluate` (protocol metrics on a labelled set), `robustness` (FER2013Test accuracy
under each perturbation) and `uncertainty` (the "uncertain" rule, chosen on FER2013Valid)."""
from __future__ import annotations

import argparse
import json
import sys

from fer_core.cli import common


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="accuracy, macro-F1, per-class recall, confusion, ECE on a labelled set")
    p.add_argument("data", help="FER+ root (or one split folder) or a folder of class-named folders")
    p.add_argument("--layout", choices=["auto", "ferplus", "folders", "fer2013csv"], default="auto")
    p.add_argument("--split", choices=["test", "valid", "train"], default="test")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--crops", dest="detect", action="store_false", help="images already are face crops (default)")
    mode.add_argument("--detect", dest="detect", action="store_true", help="run the face detector first")
    common.add_detector(p)
    common.add_model(p)
    p.add_argument("--limit", type=int, default=0, help="evaluate only the first N images (0 = all)")
    common.add_write_card(p, "record the metrics in the model's card")
    common.add_json(p)
    p.set_defaults(func=run_evaluate, detect=False)

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
    common.add_model(p)
    common.add_data(p)
    common.add_write_card(p, card_help)
    common.add_json(p)


def _record_or_dump(args: argparse.Namespace, section: str, result: dict) -> bool:
    """Write the result into the model card when asked; print it as JSON when asked (then True: done)."""
    common.record(args, section, result)
    if args.json:
        print(json.dumps(result, indent=2))
    return args.json


def run_uncertainty(args: argparse.Namespace) -> int:
    from fer_core.evaluation.uncertainty import run

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
    from fer_core.evaluation.robustness import run

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


PHOTOS_SECTION = "metrics_photos_detect"  # fer_core.card.photo_scores reads it: photos through the face finder


def card_section(args: argparse.Namespace) -> str:
    """Where `--write-card` files the figures: FER+ splits by split; a folder of photos (muxspace valid, say)
    read through the face finder under PHOTOS_SECTION, with the folder's path beside them."""
    if args.layout == "folders" and args.detect:
        return PHOTOS_SECTION
    return f"metrics_{args.split}" + ("_detect" if args.detect else "")


def run_evaluate(args: argparse.Namespace) -> int:
    from fer_core.evaluation.dataset import evaluate_dataset

    metrics = evaluate_dataset(args.data, layout=args.layout, split=args.split, model=args.model,
                               detect=args.detect, detector=args.detector, limit=args.limit)
    common.record(args, card_section(args), dict(metrics, data=str(args.data)) if args.layout == "folders" else metrics)
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        print(f"{metrics['n']} faces  accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro_f1']:.4f}  "
              f"ECE {metrics['ece']:.4f}")
        if "accuracy_present_classes" in metrics:
            print(f"accuracy over the classes present ({', '.join(metrics['classes_present'])}): "
                  f"{metrics['accuracy_present_classes']:.4f}")
        print("per-class recall: " + ", ".join(f"{k} {v:.2f}" for k, v in metrics["per_class_recall"].items()))
        print("confusion (rows = true, columns = predicted, order " + ", ".join(metrics["classes"]) + "):")
        for row in metrics["confusion"]:
            print("  " + " ".join(f"{v:5d}" for v in row))
    return 0
