"""`python -m fer_core export --onnx [--int8]`: an ONNX (optionally int8) twin of a built-in model."""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a model to ONNX (optionally int8) for ONNX Runtime inference")
    p.add_argument("--onnx", action="store_true", required=True, help="export format (ONNX is the only one)")
    p.add_argument("--int8", action="store_true", help="static int8 quantisation, calibrated on FER2013Train")
    p.add_argument("--model", default=None, help="built-in model name or .safetensors path (default: the default)")
    p.add_argument("--data", default=None, help="FER+ root for calibration (default: ../shared/data/ferplus)")
    p.add_argument("--calibration-faces", type=int, default=512)
    p.add_argument("--out", type=Path, default=None, help="output folder (default: the built-in weights folder)")
    p.set_defaults(func=run)


def _command(args: argparse.Namespace) -> str:
    """The command as parsed (not sys.argv, which may be a test runner's), for the model card."""
    parts = ["python -m fer_core export --onnx"] + (["--int8"] if args.int8 else [])
    for flag, value in (("--model", args.model), ("--data", args.data), ("--out", args.out)):
        if value is not None:
            parts.append(f"{flag} {shlex.quote(str(value))}")
    if args.calibration_faces != 512:
        parts.append(f"--calibration-faces {args.calibration_faces}")
    return " ".join(parts)


def run(args: argparse.Namespace) -> int:
    from .models import BUILTIN_DIR
    from .onnx_export import export_onnx

    command = _command(args)
    try:
        out = export_onnx(args.model, args.out or BUILTIN_DIR, int8=args.int8, data=args.data,
                          calibration_faces=args.calibration_faces, command=command)
    except FileNotFoundError as exc:
        print(f"export: {exc}", file=sys.stderr)
        return 2
    import json

    runtime = json.loads(out.with_suffix(".json").read_text())["runtime"]
    agree = runtime.get("agreement_with_reference")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) and its card {out.with_suffix('.json').name}")
    if agree:
        print(f"same top class as {runtime['reference_model']} on {agree['top1_agreement']:.1%} of "
              f"{agree['faces']} calibration faces (largest logit difference {agree['max_abs_logit_diff']:.3f})")
    ref = out.stem if out.parent == BUILTIN_DIR else out
    print(f"now measure it: python -m fer_core evaluate ../shared/data/ferplus --model {ref} --write-card")
    return 0
