"""`batch`: many clips at once, resumable, on a local process pool or on Ray (fer_core.batch)."""
from __future__ import annotations

import argparse
import sys
import threading

from fer_core.cli import common

FORMAT_CHOICES = ("csv", "parquet", "pyfeat", "elan", "html")  # fer_core.batch.settings.FORMATS, kept light


def _formats(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(f.strip() for f in text.split(",") if f.strip()))
    unknown = [f for f in names if f not in FORMAT_CHOICES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown format(s) {', '.join(unknown) or '(none)'}; choose from "
                                         f"{', '.join(FORMAT_CHOICES)}")
    return names


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("batch", help="analyse many clips (files and folders) into one output folder, resumably",
                       description="Analyse every clip exactly as the Video page does, one clip per unit of "
                       "work. Outputs per clip under OUT/clips/<clip id>/, plus OUT/index.csv, OUT/summary.csv "
                       "and OUT/summary.html. Run it again to finish an interrupted batch. Exit code 1 when any "
                       "clip failed.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="clip files, and folders searched recursively")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--fps", type=float, default=5.0, help="frames analysed per second of video (default 5)")
    p.add_argument("--max-minutes", type=float, default=None, help="analyse only the first minutes of each clip")
    p.add_argument("--workers", type=int, default=None,
                   help="clips analysed at once, one process (or Ray actor) each (default: the number of cores, "
                        "at most 4)")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local process pool (default), or Ray (pip install \"fer-lens[ray]\")")
    p.add_argument("--ray-address", default=None,
                   help="join this Ray cluster (e.g. 10.0.0.5:6379); without it a local Ray is started")
    p.add_argument("--formats", type=_formats, default=FORMAT_CHOICES,
                   help=f"comma-separated outputs (default all: {','.join(FORMAT_CHOICES)})")
    p.add_argument("--force", action="store_true", help="redo clips whose outputs already exist")
    common.add_model(p)
    common.add_detector(p)
    p.set_defaults(func=run_batch_command)


def run_batch_command(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from fer_core.batch.engine import LocalEngine, RayEngine
    from fer_core.batch.inputs import find_clips
    from fer_core.batch.run import run_batch
    from fer_core.batch.settings import BatchSettings

    if args.ray_address and args.engine != "ray":
        print("--ray-address needs --engine ray", file=sys.stderr)
        return 2
    try:
        clips = find_clips(args.inputs)
        settings = BatchSettings(fps=args.fps, model=args.model, detector=args.detector, formats=args.formats,
                                 max_s=args.max_minutes * 60 if args.max_minutes else None)
    except (FileNotFoundError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 2
    if not clips:
        print("no clips found (looked for video files in the folders given)", file=sys.stderr)
        return 2
    engine = RayEngine(args.workers, args.ray_address) if args.engine == "ray" else LocalEngine(args.workers)
    bar = tqdm(total=1.0, unit="s", unit_scale=False, desc=f"{len(clips)} clips", file=sys.stderr,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s of video [{elapsed}<{remaining}]")

    def progress(done: float, total: float, name: str) -> None:
        bar.total = total
        bar.n = done
        if name:
            bar.set_postfix_str(name[-30:], refresh=False)
        bar.refresh()

    cancel = threading.Event()
    try:
        report = run_batch(clips, args.out, settings, engine, force=args.force, progress=progress, cancel=cancel)
    except KeyboardInterrupt:
        cancel.set()
        bar.close()
        print("\nstopped; run the same command again to finish the rest", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        bar.close()
        print(exc, file=sys.stderr)
        return 2
    bar.close()
    print(f"{report.count('done')} done, {report.count('skipped')} skipped (already done), "
          f"{report.count('failed')} failed -> {args.out}/index.csv, summary.html", file=sys.stderr)
    for row in report.failed:
        print(f"  failed: {row['path']}: {row['error']}", file=sys.stderr)
    return 1 if report.failed else 0
