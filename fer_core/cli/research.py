"""Research commands: one-off studies whose answers are recorded in MODELS.md (`compare`, `crop-jitter`,
`tta-views`, `weight-average`, `media-check`), and `showcase`, whose answer `fer_core/samples.py` records. None
of them is part of the product."""
from __future__ import annotations

import argparse
import json

from fer_core.cli import common


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="two saved models face by face on one FER+ split (exact McNemar test)")
    p.add_argument("first", help="the reference (built-in name or path)")
    p.add_argument("second", help="the candidate")
    common.add_data(p)
    p.add_argument("--split", default="valid", help="valid (for choosing); test only to report a choice")
    p.add_argument("--limit", type=int, default=0, help="only the first N faces (0 = all)")
    common.add_threads(p, 2)
    common.add_json(p)
    p.set_defaults(func=run_compare)

    p = sub.add_parser("crop-jitter", help="our detector's framing vs FER2013's own crops vs the training jitter")
    p.add_argument("--faces", type=int, default=600)
    p.add_argument("--split", default="valid", choices=["train", "valid", "test"])
    p.add_argument("--detector", default="mtcnn", help="face finder whose landmarks frame the faces")
    p.add_argument("--aug-scale", type=float, default=None, help="training zoom range, as in `train`")
    p.add_argument("--aug-shift", type=float, default=None)
    p.add_argument("--aug-degrees", type=float, default=None)
    common.add_json(p)
    p.set_defaults(func=run_crop_jitter)

    p = sub.add_parser("tta-views", help="more test-time views than the mirror: a gain on FER2013Valid?")
    common.add_model(p)
    common.add_data(p)
    p.add_argument("--split", default="valid", help="valid (for choosing); test only to report a choice")
    common.add_threads(p, 2)
    common.add_json(p)
    p.set_defaults(func=run_tta_views)

    p = sub.add_parser("weight-average", help="the average of two models' weights ('model soup'), on valid")
    p.add_argument("first")
    p.add_argument("second")
    p.add_argument("--weights", default="0.3,0.5,0.7", help="shares of the second model to try")
    p.add_argument("--recalibrate-bn", action="store_true", help="recompute batch norm on 8192 training faces")
    common.add_data(p)
    common.add_threads(p, 2)
    p.set_defaults(func=run_weight_average)

    p = sub.add_parser("media-check", help="the model on the shared posed photos and LivePortrait clips")
    common.add_model(p)
    common.add_json(p)
    common.add_write_card(p)
    p.set_defaults(func=run_media_check)

    p = sub.add_parser("showcase", help="which packaged sample photo, face and change the app shows first, measured")
    common.add_model(p)
    p.add_argument("--detector", default=None, help="face finder (default: the app's)")
    p.add_argument("--method", default=None, help="heatmap method (default: the app's)")
    common.add_json(p)
    p.set_defaults(func=run_showcase)


def run_compare(args: argparse.Namespace) -> int:
    import torch

    from fer_core.research.compare import compare_models

    torch.set_num_threads(args.threads)
    out = compare_models(args.first, args.second, common.ferplus_root(args), args.split, args.limit)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"FER2013{args.split.capitalize()}, {out['faces']} faces, each model as the app reads it")
    for r in out["models"]:
        low = r["lowest_recall"]
        print(f"  {r['model']:<28} accuracy {r['accuracy']:.2%}  macro-F1 {r['macro_f1']:.3f}  "
              f"lowest recall {low['class']} {low['recall']:.2f}")
    c = out["second_vs_first"]
    print(f"  the second gets {c['gained']} faces right that the first misses, and misses {c['lost']} that the "
          f"first gets right (exact McNemar p = {c['mcnemar_exact_p']:.2f})")
    return 0


def run_crop_jitter(args: argparse.Namespace) -> int:
    from fer_core.research.crop_jitter import jitter_report
    from fer_core.training.augment import FaceAugment

    default = FaceAugment(64)
    augment = FaceAugment(64, scale=default.scale if args.aug_scale is None else args.aug_scale,
                          shift=default.shift if args.aug_shift is None else args.aug_shift,
                          degrees=default.degrees if args.aug_degrees is None else args.aug_degrees)
    report = jitter_report(args.faces, args.split, args.detector, augment=augment)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{report['with_landmarks']} of {report['faces']} FER2013{args.split.capitalize()} faces with "
          f"{args.detector} landmarks; our framing vs FER's own crop:")
    for axis, r in report["per_axis"].items():
        print(f"  {axis:5s} p5 {r['p5']:+.3f}  median {r['median']:+.3f}  p95 {r['p95']:+.3f}   "
              f"training range {r['training_range']}  inside {r['share_inside_training_range']:.1%}")
    print(f"inside the training jitter on every axis: {report['share_inside_on_every_axis']:.1%}")
    return 0


def run_tta_views(args: argparse.Namespace) -> int:
    import torch

    from fer_core.model.checkpoint import load_model
    from fer_core.research.tta_views import candidate_views, compare, view_probabilities
    from fer_core.training.data import load_dataset

    torch.set_num_threads(args.threads)
    loaded = load_model(args.model)
    ds = load_dataset(common.ferplus_root(args), "auto", args.split, loaded.spec.source_size)
    rows = compare(view_probabilities(loaded.fast, ds.images, loaded.spec, candidate_views()), ds.labels)
    if args.json:
        print(json.dumps({"model": loaded.name, "split": args.split, "faces": len(ds), "rows": rows}, indent=2))
        return 0
    print(f"{loaded.name} on FER2013{args.split.capitalize()} ({len(ds)} faces); every view also with its mirror")
    for r in rows:
        print(f"  {r['views']:<24} {r['passes_per_face']:>2} passes  {r['accuracy']:.2%}  "
              f"+{r['gained']} / -{r['lost']} faces vs mirror only  (exact McNemar p = {r['mcnemar_exact_p']:.2f})")
    return 0


def run_weight_average(args: argparse.Namespace) -> int:
    import torch

    from fer_core.research.weight_average import study

    torch.set_num_threads(args.threads)
    weights = [float(v) for v in args.weights.split(",")]
    try:
        for line in study(args.first, args.second, weights, args.recalibrate_bn, common.ferplus_root(args)):
            print(line, flush=True)
    except ValueError as exc:
        print(f"weight-average: {exc}")
        return 2
    return 0


def run_media_check(args: argparse.Namespace) -> int:
    from fer_core.recognizer import Recognizer
    from fer_core.research.media_check import check_media

    result = check_media(Recognizer(args.model))
    common.record(args, "generalisation", result)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"posed photos read as intended (and not unsure): {result['posed_photos_correct']}")
    for stem, r in result["posed_photos"].items():
        print(f"  {stem:10s} expected {r['expected']:10s} predicted {r['predicted']} ({r['confidence']})"
              + (" unsure" if r.get("uncertain") else ""))
    for name, v in result["videos"].items():
        print(f"  {name}: {v['frames']} frames -> {v['labels']}")
    return 0


def run_showcase(args: argparse.Namespace) -> int:
    import torch

    from fer_core.research.showcase import choose, measure, table

    torch.set_num_threads(1)  # as in the app
    faces = measure(args.model, args.detector, args.method)
    choice = choose(faces)
    if args.json:
        print(json.dumps({"faces": [vars(f) for f in faces], "choice": choice}, indent=2))
        return 0
    print("\n".join(table(faces)))
    print(choice["why"])
    return 0
