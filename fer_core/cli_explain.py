"""`python -m fer_core explain ...` and `python -m fer_core explain-bench ...`."""
from __future__ import annotations

import argparse
import json
import shlex
import sys

from .labels import CLASSES


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from .explain_methods import METHODS

    p = sub.add_parser("explain", help="heatmaps showing which parts of each face drove a class score")
    p.add_argument("image")
    p.add_argument("--method", choices=sorted(METHODS), default="gradcam")
    p.add_argument("--target", choices=CLASSES, default=None, help="class to explain (default: the predicted one)")
    p.add_argument("--contrast", choices=CLASSES, default=None, help="explain target *rather than* this class")
    p.add_argument("--out", default=None, help="write the photo with heatmap overlays to this PNG")
    p.add_argument("--model", default=None)
    p.add_argument("--detector", default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_explain)

    p = sub.add_parser("explain-bench", help="faithfulness (deletion/insertion AUC) and ms per face, per method")
    p.add_argument("--faces", type=int, default=32, help="first N FER2013Test faces")
    p.add_argument("--data", default=None, help="FER+ root (default: ../shared/data/ferplus)")
    p.add_argument("--model", default=None)
    p.add_argument("--json", action="store_true")
    p.add_argument("--write-card", action="store_true", help="record the table in the model's card")
    p.set_defaults(func=run_explain_bench)


def run_explain(args: argparse.Namespace) -> int:
    from PIL import Image

    from .detect import DEFAULT_DETECTOR
    from .explain import explain
    from .imageio import ImageLoadError, load_image
    from .recognizer import Recognizer
    from .render import caption, overlay_on_photo

    rec = Recognizer(args.model, detector=args.detector or DEFAULT_DETECTOR)
    try:
        rgb = load_image(args.image)
    except ImageLoadError as exc:
        print(f"error: {args.image}: {exc}", file=sys.stderr)
        return 1
    faces = rec.analyze_rgb(rgb)
    pairs, records = [], []
    for face in faces:
        e = explain(rec.loaded, face.crop, args.method, target=args.target, contrast=args.contrast,
                    faithfulness="fast")
        pairs.append((face, e))
        records.append({"box": face.to_json()["box"], "label": face.label, "target": e.target,
                        "contrast": e.contrast, "method": e.method, "ms": round(e.ms, 1),
                        "deletion_auc": e.deletion_auc, "insertion_auc": e.insertion_auc,
                        "trust_hint": e.trust_hint, "caption": caption(e)})
    if args.out:
        Image.fromarray(overlay_on_photo(rgb, pairs)).save(args.out)
    if args.json:
        print(json.dumps(records, indent=2))
    else:
        if not faces:
            print("no face found")
        for i, r in enumerate(records, 1):
            print(f"face {i}: {r['label']}; {r['method']} for {r['target']} in {r['ms']:.0f} ms; "
                  f"deletion AUC {r['deletion_auc']:.3f}, insertion AUC {r['insertion_auc']:.3f}\n  {r['caption']}")
    return 0


def run_explain_bench(args: argparse.Namespace) -> int:
    from .explain import explain_bench
    from .models import load_model, update_card
    from .paths import shared_dir

    loaded = load_model(args.model)
    table = explain_bench(loaded, n_faces=args.faces, data_root=args.data or str(shared_dir() / "data" / "ferplus"))
    if args.write_card:
        import torch

        threads = torch.get_num_threads()
        update_card(args.model, "explain_bench", {k: dict(v, threads=threads) for k, v in table.items()},
                    "python -m fer_core " + " ".join(shlex.quote(a) for a in sys.argv[1:]))
    if args.json:
        print(json.dumps(table, indent=2))
    else:
        print(f"{'method':24s} {'ms/face':>8s} {'deletion AUC':>13s} {'insertion AUC':>14s} {'maps passed':>12s}")
        for name, row in table.items():
            print(f"{name:24s} {row['ms']:8.1f} {row['deletion_auc']:13.3f} {row['insertion_auc']:14.3f} "
                  f"{row['faithful_share']:12.0%}")
    return 0
