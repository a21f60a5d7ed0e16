"""Command line: `python -m fer_core {predict,evaluate,train,export,bench,live-bench,...} ...`."""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from . import cli_explain, cli_export, cli_robustness, cli_train, cli_video
from .detect import DEFAULT_DETECTOR, DETECTORS


def _command() -> str:
    return "python -m fer_core " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _predict(args: argparse.Namespace) -> int:
    from .imageio import ImageLoadError
    from .recognizer import Recognizer

    rec = Recognizer(args.model, detector=args.detector)
    results, failed = [], 0
    for path in args.paths:
        try:
            faces = rec.analyze(path)
            results.append({"file": path, "faces": [f.to_json() for f in faces]})
        except ImageLoadError as exc:
            failed += 1
            results.append({"file": path, "error": str(exc), "faces": []})
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            print(f"{r['file']}: " + (f"ERROR {r['error']}" if "error" in r else f"{len(r['faces'])} face(s)"))
            for i, f in enumerate(r["faces"], 1):
                top = sorted(f["probs"].items(), key=lambda kv: -kv[1])[:3]
                x, y, w, h = f["box"]
                print(f"  face {i} at ({x:.0f},{y:.0f}) {w:.0f}x{h:.0f}: {f['label']:<10s} "
                      + "  ".join(f"{k} {v:.0%}" for k, v in top))
    return 1 if failed == len(args.paths) else 0


def _evaluate(args: argparse.Namespace) -> int:
    from .evaluate_cli import evaluate_dataset

    metrics = evaluate_dataset(args.data, layout=args.layout, split=args.split, model=args.model,
                               detect=args.detect, detector=args.detector, limit=args.limit)
    if args.write_card:
        from .models import update_card

        update_card(args.model, f"metrics_{args.split}" + ("_detect" if args.detect else ""), metrics, _command())
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


def _bench(args: argparse.Namespace) -> int:
    from .bench import run_bench

    result = run_bench(args.model, threads=args.threads, repeats=args.repeats)
    if args.write_card:
        from .models import update_card

        update_card(args.model, "latency", result, _command())
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"torch threads: {result['threads']}   model: {result['model']} ({result['engine']})")
        print(f"classify: {result['classify_ms_b1']:.2f} ms at batch 1, "
              f"{result['classify_faces_per_s_b64']:.0f} faces/s at batch 64; one aligned face with its mirror "
              f"(as the app classifies): {result['classify_face_ms_with_tta']:.2f} ms")
        for name, ms in result["detect_ms_640x480"].items():
            if name != "default":
                star = " (default)" if name == result["default_detector"] else ""
                print(f"detect {name}{star}: {ms:.1f} ms per 640x480 frame")
        print(f"analyze 1280x720 photo ({result['analyze_faces']} faces): {result['analyze_ms_1280x720']:.1f} ms")
        if ref := result.get("reference"):
            print(f"reference {ref['model']} (torch fp32, same run): {ref['classify_ms_b1']:.2f} ms at batch 1, "
                  f"{ref['classify_faces_per_s_b64']:.0f} faces/s at batch 64 -> this model is "
                  f"{ref['speedup_b1']:.1f}x faster at batch 1 and {ref['speedup_b64']:.1f}x at batch 64")
    return 0


def _live_bench(args: argparse.Namespace) -> int:
    from .live_bench import format_report, run_live_bench

    try:
        result = run_live_bench(args.minutes, Path(args.video) if args.video else None, threads=args.threads,
                                detector=args.detector, detect_every=args.detect_every, model=args.model,
                                progress=not args.json)
    except FileNotFoundError as exc:
        print(f"live-bench: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2) if args.json else format_report(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fer_core", description="FER Lens facial-expression toolkit")
    sub = parser.add_subparsers(dest="command", required=True)
    model_help = "built-in model name or path to a .safetensors / exported .onnx model (default: the built-in model)"

    p = sub.add_parser("predict", help="facial expressions of every face in images")
    p.add_argument("paths", nargs="+")
    p.add_argument("--detector", choices=sorted(DETECTORS), default=DEFAULT_DETECTOR)
    p.add_argument("--model", default=None, help=model_help)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_predict)

    p = sub.add_parser("evaluate", help="accuracy, macro-F1, per-class recall, confusion, ECE on a labelled set")
    p.add_argument("data", help="FER+ root (or one split folder) or a folder of class-named folders")
    p.add_argument("--layout", choices=["auto", "ferplus", "folders", "fer2013csv"], default="auto")
    p.add_argument("--split", choices=["test", "valid", "train"], default="test")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--crops", dest="detect", action="store_false", help="images already are face crops (default)")
    mode.add_argument("--detect", dest="detect", action="store_true", help="run the face detector first")
    p.add_argument("--detector", choices=sorted(DETECTORS), default=DEFAULT_DETECTOR)
    p.add_argument("--model", default=None, help=model_help)
    p.add_argument("--limit", type=int, default=0, help="evaluate only the first N images (0 = all)")
    p.add_argument("--write-card", action="store_true", help="record the metrics in the model's card")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_evaluate, detect=False)

    cli_train.add_parser(sub)
    cli_export.add_parser(sub)
    cli_explain.add_parsers(sub)
    cli_video.add_parsers(sub)
    cli_robustness.add_parsers(sub)

    p = sub.add_parser("bench", help="latency and throughput on this CPU")
    p.add_argument("--model", default=None, help=model_help)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--write-card", action="store_true", help="record the figures in the model's card")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_bench)

    p = sub.add_parser("live-bench", help="the Webcam page's frame callback on a real clip: fps, delay, memory")
    p.add_argument("--minutes", type=float, default=10.0, help="stream minutes to feed at 30 fps (default 10)")
    p.add_argument("--video", default=None, help="clip to loop (default ../shared/media/videos/liveportrait_d3.mp4)")
    p.add_argument("--detector", choices=sorted(DETECTORS), default=DEFAULT_DETECTOR)
    p.add_argument("--detect-every", type=int, default=2, help="run the face detector on every k-th frame")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as in the app)")
    p.add_argument("--model", default=None, help=model_help)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_live_bench)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
