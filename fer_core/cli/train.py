"""Model-building commands: `train` (resumable training loop) and `export` (an ONNX, optionally int8, twin)."""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

from fer_core.cli import common


def register(sub: argparse._SubParsersAction) -> None:
    from fer_core.training.config import TrainConfig

    p = sub.add_parser("train", help="train a classifier on FER+ / class folders / fer2013.csv (resumable)")
    p.add_argument("data", help="dataset root (FER+ layout, class folders, or fer2013.csv)")
    defaults = TrainConfig(data="")
    for f in fields(TrainConfig):
        if f.name == "data":
            continue
        default = getattr(defaults, f.name)
        flag = "--" + f.name.replace("_", "-")
        if isinstance(default, bool):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
        else:
            p.add_argument(flag, type=type(default), default=default)
    p.set_defaults(func=run_train)

    p = sub.add_parser("export", help="export a model to ONNX (optionally int8) for ONNX Runtime inference")
    form = p.add_mutually_exclusive_group(required=True)
    form.add_argument("--onnx", action="store_true", help="a self-contained ONNX model with its own card")
    form.add_argument("--graph-twin", action="store_true",
                      help="the network's graph alone (weights/graphs/<name>.onnx), run by ONNX Runtime with the "
                           "model's own safetensors weights: the app's torch-free first label")
    p.add_argument("--int8", action="store_true", help="static int8 quantisation, calibrated on FER2013Train")
    common.add_model(p)
    common.add_data(p)
    p.add_argument("--calibration-faces", type=int, default=512)
    p.add_argument("--out", type=Path, default=None, help="output folder (default: the built-in weights folder)")
    p.set_defaults(func=run_export)

    p = sub.add_parser("convert-mediapipe", help="MediaPipe's face networks (BlazeFace, Face Mesh) from its wheel "
                                                 "into our PyTorch weights and cards")
    p.add_argument("source", type=Path, help="the mediapipe 0.10.14 wheel (pip download --no-deps "
                                             "mediapipe==0.10.14) or a folder holding its .tflite files")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: fer_core/weights/mediapipe)")
    p.add_argument("--media", type=Path, default=None,
                   help="real faces for the parity check against LiteRT (default: ../shared/media)")
    p.set_defaults(func=run_convert_mediapipe)

    p = sub.add_parser("movement-reference", help="the FER+ neutral faces that facial movements are measured "
                                                  "against (median and spread per movement)")
    common.add_data(p)
    p.add_argument("--faces", type=int, default=2000, help="neutral FER2013Train faces to try (default 2000)")
    p.set_defaults(func=run_movement_reference)


def run_train(args: argparse.Namespace) -> int:
    from fer_core.training.train import TrainConfig, train

    cfg = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})
    train(cfg, common.card_command(args))
    return 0


def run_export(args: argparse.Namespace) -> int:
    from fer_core.model.catalog import BUILTIN_DIR
    from fer_core.training.onnx_export import export_onnx

    command = common.card_command(args)
    if args.graph_twin:
        from fer_core.training.onnx_export import export_graph_twin

        out = export_graph_twin(args.model, command)
        agree = json.loads(out.parents[1].joinpath(f"{out.stem}.json").read_text())["graph_twin"]
        print(f"wrote {out} ({out.stat().st_size / 1e3:.0f} kB); largest logit difference from torch "
              f"{agree['agreement_with_reference']['max_abs_logit_diff']:.2e}")
        return 0
    try:
        out = export_onnx(args.model, args.out or BUILTIN_DIR, int8=args.int8, data=args.data,
                          calibration_faces=args.calibration_faces, command=command)
    except FileNotFoundError as exc:
        print(f"export: {exc}", file=sys.stderr)
        return 2
    runtime = json.loads(out.with_suffix(".json").read_text())["runtime"]
    agree = runtime.get("agreement_with_reference")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) and its card {out.with_suffix('.json').name}")
    if agree:
        print(f"same top class as {runtime['reference_model']} on {agree['top1_agreement']:.1%} of "
              f"{agree['faces']} calibration faces (largest logit difference {agree['max_abs_logit_diff']:.3f})")
    ref = out.stem if out.parent == BUILTIN_DIR else out
    print(f"now measure it: fer-lens evaluate ../shared/data/ferplus --model {ref} --write-card")
    return 0


def run_convert_mediapipe(args: argparse.Namespace) -> int:
    from fer_core.model.catalog import BUILTIN_DIR
    from fer_core.paths import shared_dir
    from fer_core.training.convert_mediapipe import convert, media_images

    media = args.media or shared_dir() / "media"
    images = media_images(media) if media.is_dir() else {}
    try:
        written = convert(args.source, args.out or BUILTIN_DIR / "mediapipe", images or None)
    except (FileNotFoundError, ValueError) as exc:
        print(f"convert-mediapipe: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    if not images:
        print(f"no real faces under {media}: parity against LiteRT not measured")
    return 0


def run_movement_reference(args: argparse.Namespace) -> int:
    from fer_core.training.movement_reference import write_reference

    try:
        doc = write_reference(common.ferplus_root(args), args.faces, command=common.card_command(args))
    except (FileNotFoundError, ValueError) as exc:
        print(f"movement-reference: {exc}", file=sys.stderr)
        return 2
    print(f"{doc['faces_measured']} of {doc['faces_tried']} neutral faces measured; zero and spread per movement "
          "(eye spacings):")
    for key, centre in doc["centre"].items():
        print(f"  {key:22s} {centre:+.4f}  spread {doc['spread'][key]:.4f}")
    return 0

