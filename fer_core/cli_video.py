"""`python -m fer_core video CLIP ...` (timeline of facial expressions per face) and `video-bench`."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .detect import DEFAULT_DETECTOR, DETECTORS


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from .video import DEFAULT_FPS, SMOOTH_HALF_LIFE_S

    p = sub.add_parser("video", help="facial expressions of every face over time in a video clip")
    p.add_argument("clip", help="a video file (MP4, WebM, MOV, AVI, ...)")
    p.add_argument("--fps", type=float, default=DEFAULT_FPS, help=f"frames analysed per second (default {DEFAULT_FPS:g})")
    p.add_argument("--out", type=Path, default=None,
                   help="write the timeline: one row per sampled frame and face (.csv or .json)")
    p.add_argument("--detector", choices=sorted(DETECTORS), default=DEFAULT_DETECTOR)
    p.add_argument("--model", default=None, help="built-in model name or path to a .safetensors checkpoint")
    p.add_argument("--smooth", type=float, default=SMOOTH_HALF_LIFE_S,
                   help=f"half-life in seconds of the score smoothing per face (0 = none; default {SMOOTH_HALF_LIFE_S})")
    p.add_argument("--threads", type=int, default=2, help="frames analysed at once, one CPU core each (default 2)")
    p.add_argument("--json", action="store_true", help="print the summaries and key moments as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_video)

    p = sub.add_parser("video-bench", help="clip analysis speed (x realtime) and peak memory on this machine")
    p.add_argument("--clip", default=None, help="default: ../shared/media/videos/liveportrait_d6.mp4")
    p.add_argument("--minutes", type=float, default=10.0, help="loop the clip to this length (default 10)")
    p.add_argument("--fps", type=float, default=DEFAULT_FPS)
    p.add_argument("--threads", type=int, default=2, help="frames analysed at once, one CPU core each (default 2)")
    p.add_argument("--detector", choices=sorted(DETECTORS), default=DEFAULT_DETECTOR)
    p.add_argument("--model", default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_video_bench_cli)


def run_video(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from .recognizer import Recognizer
    from .video import VideoError, analyze_video
    from .video_export import timeline_document, write_timeline

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
        mix = ", ".join(f"{k} {v:.0%}" for k, v in sorted(s.expression_share.items(), key=lambda kv: -kv[1]) if v >= 0.05)
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


def run_video_bench_cli(args: argparse.Namespace) -> int:
    from .video_bench import run_video_bench
    from .video_decode import VideoError

    try:
        r = run_video_bench(args.clip, minutes=args.minutes, fps=args.fps, threads=args.threads,
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
