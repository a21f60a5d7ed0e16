"""Analysis commands: `predict` (photos), `explain` (heatmaps on photos) and `video` (a clip's timeline)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fer_core.cli import common
from fer_core.labels import CLASSES


def register(sub: argparse._SubParsersAction) -> None:
    from fer_core.explain.registry import DEFAULT_METHOD, METHODS
    from fer_core.video.defaults import DEFAULT_FPS, SMOOTH_HALF_LIFE_S

    p = sub.add_parser("predict", help="facial expressions of every face in images")
    p.add_argument("paths", nargs="+")
    common.add_detector(p)
    common.add_model(p)
    common.add_json(p)
    p.set_defaults(func=run_predict)

    p = sub.add_parser("explain", help="heatmaps showing which parts of each face drove a class score")
    p.add_argument("image")
    p.add_argument("--method", choices=sorted(METHODS), default=DEFAULT_METHOD,
                   help=f"heatmap method (default {DEFAULT_METHOD})")
    p.add_argument("--target", choices=CLASSES, default=None, help="class to explain (default: the predicted one)")
    p.add_argument("--contrast", choices=CLASSES, default=None, help="explain target *rather than* this class")
    p.add_argument("--out", default=None, help="write the photo with heatmap overlays to this PNG")
    common.add_model(p)
    common.add_detector(p)
    common.add_json(p)
    p.set_defaults(func=run_explain)

    p = sub.add_parser("video", help="facial expressions of every face over time in a video clip")
    p.add_argument("clip", help="a video file (MP4, WebM, MOV, AVI, ...)")
    p.add_argument("--fps", type=float, default=DEFAULT_FPS,
                   help=f"frames analysed per second (default {DEFAULT_FPS:g})")
    p.add_argument("--out", type=Path, default=None,
                   help="write the timeline: one row per sampled frame and face (.csv or .json)")
    common.add_detector(p)
    common.add_model(p)
    p.add_argument("--smooth", type=float, default=SMOOTH_HALF_LIFE_S,
                   help=f"half-life in seconds of the score smoothing per face (0 = none; "
                        f"default {SMOOTH_HALF_LIFE_S})")
    common.add_threads(p, 2, "frames analysed at once, one CPU core each")
    common.add_json(p, "print the summaries and key moments as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_video)


def run_predict(args: argparse.Namespace) -> int:
    from fer_core.imageio import ImageLoadError
    from fer_core.recognizer import Recognizer

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


def run_explain(args: argparse.Namespace) -> int:
    from PIL import Image

    from fer_core.explain.attribution import explain
    from fer_core.explain.render import caption, overlay_on_photo
    from fer_core.imageio import ImageLoadError, load_image
    from fer_core.recognizer import Recognizer

    rec = Recognizer(args.model, detector=args.detector)
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
                        "trust_hint": e.trust_hint, "caption": caption(e, face.movements)})
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


def run_video(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from fer_core.recognizer import Recognizer
    from fer_core.video.analysis import VideoError, analyze_video
    from fer_core.video.export import timeline_document, write_timeline

    if args.out is not None and args.out.suffix.lower() not in (".csv", ".json"):
        print(f"error: --out must end in .csv or .json (got {args.out})", file=sys.stderr)
        return 2
    torch.set_num_threads(1)  # parallel over frames (--threads workers), one torch thread each
    rec = Recognizer(args.model, detector=args.detector)
    bar = None

    def progress(t: float, total: float) -> None:  # the bar appears once the clip has proved readable
        nonlocal bar
        if args.quiet:
            return
        if bar is None:
            bar = tqdm(total=round(total, 1), unit="s", desc=Path(args.clip).name, file=sys.stderr,
                       bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} s of clip [{elapsed}<{remaining}]")
        bar.total = max(bar.total, round(t, 1))
        bar.update(round(t - bar.n, 3))

    try:
        result = analyze_video(args.clip, rec, fps=args.fps, progress=progress, smooth_half_life_s=args.smooth,
                               workers=max(1, args.threads))
    except (VideoError, ValueError) as exc:
        if bar is not None:
            bar.close()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if bar is not None:
        bar.close()
    if args.out is not None:
        write_timeline(result, args.out, Path(args.clip).name)
    doc = timeline_document(result, Path(args.clip).name)
    if args.json:
        doc.pop("timeline")
        doc.pop("sampled_times_s")
        print(json.dumps(doc, indent=2))
        return 0
    print(f"{Path(args.clip).name}: {result.duration_s:.1f} s analysed at {result.fps:g} fps "
          f"({len(result.frame_times)} frames) in {result.elapsed_s:.1f} s ({result.realtime_factor:.1f}x realtime); "
          f"{len(result.tracks)} face(s)")
    for tid in result.tracks:
        s = result.summaries[tid]
        shares = sorted(s.expression_share.items(), key=lambda kv: -kv[1])
        mix = ", ".join(f"{k} {v:.0%}" for k, v in shares if v >= 0.05)
        facing = "n/a" if s.facing_share is None else f"{s.facing_share:.0%}"
        print(f"  {s.name}: seen {s.first_s:.1f}-{s.last_s:.1f} s ({s.visible_share:.0%} of the clip), facing the "
              f"camera {facing} of that time; mostly {s.dominant}; mix: {mix}; {s.changes} change(s); "
              f"uncertain {s.uncertain_share:.0%}")
        for m in [m for m in result.moments if m.track == tid]:
            print(f"    {m.t:7.1f} s  {m.title}")
    if result.dropped_tracks:
        print(f"  ({result.dropped_tracks} brief detection(s) shorter than half a second left out)")
    if args.out is not None:
        print(f"timeline written to {args.out}")
    return 0
