"""Benchmark commands: `bench` (latency), `live-bench` (the Webcam page's callback), `video-bench` (clip
analysis), `explain-bench` (heatmap faithfulness and speed) and `detect-bench` (face finders on real media)."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from fer_core.cli import common


def register(sub: argparse._SubParsersAction) -> None:
    from fer_core.detection.registry import DETECTORS
    from fer_core.video.defaults import DEFAULT_FPS

    p = sub.add_parser("bench", help="latency and throughput on this CPU")
    common.add_model(p)
    common.add_threads(p, None)
    p.add_argument("--repeats", type=int, default=30)
    common.add_write_card(p, "record the figures in the model's card")
    common.add_json(p)
    p.set_defaults(func=run_bench)

    p = sub.add_parser("live-bench", help="the Webcam page's frame callback on a real clip: fps, delay, memory")
    p.add_argument("--minutes", type=float, default=10.0, help="stream minutes to feed at 30 fps (default 10)")
    p.add_argument("--video", default=None, help="clip to loop (default ../shared/media/videos/liveportrait_d3.mp4)")
    common.add_detector(p)
    p.add_argument("--detect-every", type=int, default=2, help="run the face detector on every k-th frame")
    common.add_threads(p, 1, "torch threads, as in the app")
    common.add_model(p)
    common.add_json(p)
    p.set_defaults(func=run_live_bench)

    p = sub.add_parser("video-bench", help="clip analysis speed (x realtime) and peak memory on this machine")
    p.add_argument("--clip", default=None, help="default: ../shared/media/videos/liveportrait_d6.mp4")
    p.add_argument("--minutes", type=float, default=10.0, help="loop the clip to this length (default 10)")
    p.add_argument("--fps", type=float, default=DEFAULT_FPS,
                   help=f"frames analysed per second (default {DEFAULT_FPS:g})")
    common.add_threads(p, 2, "frames analysed at once, one CPU core each")
    common.add_detector(p)
    common.add_model(p)
    common.add_json(p)
    p.set_defaults(func=run_video_bench)

    p = sub.add_parser("explain-bench", help="faithfulness (deletion/insertion AUC) and ms per face, per method")
    p.add_argument("--faces", type=int, default=32, help="first N FER2013Test faces")
    common.add_data(p)
    common.add_model(p)
    common.add_json(p)
    common.add_write_card(p, "record the table in the model's card")
    p.set_defaults(func=run_explain_bench)

    p = sub.add_parser("detect-bench", help="face finders on ../shared/media: faces found, false, missed, ms/frame")
    p.add_argument("--detectors", nargs="+", choices=sorted(DETECTORS), help="default: all")
    p.add_argument("--frames", type=int, default=20, help="frames sampled per video")
    common.add_threads(p, 2)
    common.add_json(p)
    p.set_defaults(func=run_detect_bench)


def run_bench(args: argparse.Namespace) -> int:
    from fer_core.bench.latency import run_bench as measure

    result = measure(args.model, threads=args.threads, repeats=args.repeats)
    common.record(args, "latency", result)
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
        print(f"analyze 1280x720 photo ({result['analyze_faces']} faces): {result['analyze_ms_1280x720']:.1f} ms"
              + (" with Face Mesh landmarks" if result.get("analyze_with_mesh") else ""))
        if "mesh_ms_per_face" in result:
            print(f"face mesh: {result['mesh_ms_per_face']:.2f} ms for one face, {result['mesh_ms_3_faces']:.2f} ms "
                  f"for the photo's 3; the photo without meshes: {result['analyze_ms_1280x720_without_mesh']:.1f} ms")
        if ref := result.get("reference"):
            print(f"reference {ref['model']} (torch fp32, same run): {ref['classify_ms_b1']:.2f} ms at batch 1, "
                  f"{ref['classify_faces_per_s_b64']:.0f} faces/s at batch 64 -> this model is "
                  f"{ref['speedup_b1']:.1f}x faster at batch 1 and {ref['speedup_b64']:.1f}x at batch 64")
    return 0


def run_live_bench(args: argparse.Namespace) -> int:
    from fer_core.bench.live import format_report
    from fer_core.bench.live import run_live_bench as measure

    try:
        result = measure(args.minutes, Path(args.video) if args.video else None, threads=args.threads,
                                detector=args.detector, detect_every=args.detect_every, model=args.model,
                                progress=not args.json)
    except FileNotFoundError as exc:
        print(f"live-bench: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2) if args.json else format_report(result))
    return 0


def run_video_bench(args: argparse.Namespace) -> int:
    from fer_core.bench.video import run_video_bench as measure
    from fer_core.video.decode import VideoError

    try:
        r = measure(args.clip, minutes=args.minutes, fps=args.fps, threads=args.threads,
                            detector=args.detector, model=args.model, show_progress=not args.json)
    except VideoError as exc:
        print(f"error: {exc} (the benchmark needs ../shared/media/videos/liveportrait_d6.mp4 or --clip)",
              file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    ok = lambda good: "meets target" if good else "MISSES target"  # noqa: E731
    print(f"{r['clip']} ({r['clip_size']}, {r['clip_fps']:g} fps) looped to {r['analysed_s']:.0f} s, sampled at "
          f"{r['sample_fps']:g} fps, {r['threads']} worker thread(s), detector {r['detector']}")
    print(f"  {r['realtime_factor']:.1f}x realtime ({r['wall_s']:.1f} s wall; {r['ms_per_sampled_frame']:.1f} ms per "
          f"sampled frame: detect {r['detect_ms_per_frame']:.1f} ms, classify {r['classify_ms_per_face']:.1f} ms "
          f"per face) - {ok(r['realtime_factor'] >= r['targets']['realtime_factor'])} "
          f">= {r['targets']['realtime_factor']:g}x")
    print(f"  peak memory {r['peak_rss_mb']:.0f} MB (after loading the models {r['rss_after_load_mb']:.0f} MB, "
          f"at the end {r['rss_end_mb']:.0f} MB) - {ok(r['peak_rss_mb'] < r['targets']['peak_rss_mb'])} "
          f"< {r['targets']['peak_rss_mb']:.0f} MB")
    return 0


def run_explain_bench(args: argparse.Namespace) -> int:
    from fer_core.bench.explain import explain_bench, faithful_within_noise
    from fer_core.model.checkpoint import load_model
    from fer_core.paths import shared_dir

    loaded = load_model(args.model)
    table = explain_bench(loaded, n_faces=args.faces, data_root=args.data or str(shared_dir() / "data" / "ferplus"))
    if args.write_card:
        import torch

        threads = torch.get_num_threads()
        common.record(args, "explain_bench", {k: dict(v, threads=threads) for k, v in table.items()})
    if args.json:
        print(json.dumps(table, indent=2))
    else:
        print(f"{'method':24s} {'ms/face':>8s} {'deletion AUC':>13s} {'insertion AUC':>14s} {'maps passed':>12s}")
        for name, row in table.items():
            print(f"{name:24s} {row['ms']:8.1f} {row['deletion_auc']:13.3f} {row['insertion_auc']:14.3f} "
                  f"{row['faithful_share']:12.0%}")
        tied = faithful_within_noise(table)
        print(f"most often faithful, within the noise of {next(iter(table.values()))['n']} faces (fastest first): "
              + ", ".join(tied))
    return 0


def run_detect_bench(args: argparse.Namespace) -> int:
    import torch

    from fer_core.bench.detectors import evaluate_detectors, format_table

    load_before = os.getloadavg()[0]
    torch.set_num_threads(args.threads)
    results = evaluate_detectors(args.detectors, args.frames)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(format_table(results))
        print(f"(torch threads {args.threads}, {os.cpu_count()} CPUs, load average before the run "
              f"{load_before:.1f}: timings on a busy machine overstate the cost)")
    return 0
