"""Reading a model card (the JSON beside a checkpoint) for people: which measured figures exist, in tidy
shapes. Every section is optional, because a card only holds what has been measured so far; readers get
None for what is missing and never compute anything heavy to fill the gap.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fer_core.explain.registry import METHODS


@dataclass(frozen=True)
class Scores:
    """Accuracy figures from one evaluation split, and which split that was."""

    metrics: dict[str, Any]
    split: str  # "test" or "validation"

    @property
    def held_out(self) -> bool:
        """True for the test split, which played no part in training or model selection."""
        return self.split == "test"


def scores(card: dict[str, Any]) -> Scores | None:
    """Test-set metrics when measured, else the validation metrics saved at training time, else None."""
    test = card.get("metrics_test")
    if isinstance(test, dict) and "accuracy" in test:
        return Scores(test, "test")
    valid = (card.get("metrics") or {}).get("valid")
    if isinstance(valid, dict) and "accuracy" in valid:
        return Scores(valid, "validation")
    return None


def photo_scores(card: dict[str, Any]) -> dict[str, Any] | None:
    """Metrics on photos of other people through the app's own face finder, when the card holds them:
    `evaluate PHOTOS --layout folders --detect --write-card`, else the extra valid set a training run scored
    (muxspace valid)."""
    for found in (card.get("metrics_photos_detect"), (card.get("metrics") or {}).get("extra_valid")):
        if isinstance(found, dict) and "accuracy" in found:
            return found
    return None


def reliability(card: dict[str, Any], found: Scores | None = None) -> list[dict[str, float]] | None:
    """Reliability-diagram bins ({lo, hi, confidence, accuracy, count}) from the card, or None."""
    found = found or scores(card)
    bins = (found.metrics.get("reliability") if found else None) or card.get("reliability")
    return bins if isinstance(bins, list) and bins else None


def runtime_note(card: dict[str, Any]) -> str | None:
    """One plain sentence for an exported (ONNX) model: what it is and which model draws its heatmaps."""
    runtime = card.get("runtime")
    if not isinstance(runtime, dict):
        return None
    reference = runtime.get("reference_model", "its reference model")
    kind = ("an 8-bit (int8) copy" if "int8" in str(runtime.get("quantization", "")) else "a copy")
    return (f"This is {kind} of **{reference}**, run by ONNX Runtime for speed. Heatmaps need the "
            f"full-precision network, so they are drawn by {reference}.")


def heatmap_card(card: dict[str, Any], folder: Path | None) -> dict[str, Any]:
    """The card whose heatmap figures apply: an exported model's heatmaps come from its reference model,
    whose card sits beside it (or among the built-in ones)."""
    runtime = card.get("runtime")
    if card.get("explain_bench") or not isinstance(runtime, dict) or folder is None:
        return card
    from fer_core.model.catalog import BUILTIN_DIR

    for place in (folder, BUILTIN_DIR):
        path = place / f"{runtime.get('reference_model')}.json"
        if path.exists():
            try:
                return json.loads(path.read_text())
            except ValueError:
                break
    return card


def confusion_shares(confusion: list[list[int]]) -> list[list[float]]:
    """Each row divided by its total: the share of faces of a true class given each predicted class."""
    out = []
    for row in confusion:
        total = sum(row)
        out.append([v / total if total else 0.0 for v in row])
    return out


def latency_rows(latency: dict[str, Any] | None) -> list[tuple[str, str]] | None:
    """(what, how long) pairs in plain words from the `bench` section, or None when not measured."""
    if not latency:
        return None
    rows = []
    if "classify_ms_b1" in latency:
        rows.append(("Read the expression of one face", f"{latency['classify_ms_b1']:.1f} ms"))
    if "classify_face_ms_with_tta" in latency:
        rows.append(("One face and its mirror image, as photos are read",
                     f"{latency['classify_face_ms_with_tta']:.1f} ms"))
    if "classify_faces_per_s_b64" in latency:
        rows.append(("Faces per second, in batches of 64", f"{latency['classify_faces_per_s_b64']:.0f}"))
    detect = latency.get("detect_ms_640x480")
    if isinstance(detect, dict):
        for name, ms in detect.items():
            if name != "default":
                star = " (default)" if name == latency.get("default_detector") else ""
                rows.append((f"Find faces in a 640x480 video frame, {name}{star}", f"{ms:.0f} ms"))
    elif isinstance(detect, (int, float)):
        rows.append(("Find faces in a 640x480 video frame", f"{detect:.0f} ms"))
    if "analyze_ms_1280x720" in latency:
        faces = latency.get("analyze_faces")
        rows.append((f"Whole 1280x720 photo{f' with {faces} faces' if faces else ''}",
                     f"{latency['analyze_ms_1280x720']:.0f} ms"))
    if "threads" in latency:
        rows.append(("Processor threads used", str(latency["threads"])))
    return rows or None


def latency_source(latency: dict[str, Any] | None) -> str | None:
    """Where and when the `bench` figures were measured, in one sentence: never on the computer reading them."""
    if not latency:
        return None
    where = ", ".join(part for part in (
        f"on {latency['measured_on']}" if latency.get("measured_on") else "",
        latency.get("processor") or "",
        f"{latency['threads']} processor threads" if latency.get("threads") else "") if part)
    return ("Measured with `fer-lens bench` on the computer that made this model card"
            + (f" ({where})" if where else "") + ", without a graphics card: not on this computer"
            + ("" if latency.get("measured_on") else ", and the card does not record when") + ".")


POSED_SURE, POSED_UNSURE, POSED_MISSED = "as intended", "as intended, but unsure", "not as intended"


def posed_rows(generalisation: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    """One row per posed photo of the card's `media-check`: what was posed, what the model said and how it
    counts. A reading the app would mark uncertain does not count as read as intended: it counts as
    POSED_UNSURE (from the card's own `uncertain` flag, else from the top score alone, which is all older
    cards recorded)."""
    from fer_core.evaluation.uncertainty import UNCERTAIN_TOP

    posed = (generalisation or {}).get("posed_photos")
    if not isinstance(posed, dict) or not posed:
        return None
    rows = []
    for photo, r in posed.items():
        confidence = r.get("confidence")
        unsure = r.get("uncertain")
        if unsure is None:
            unsure = confidence is None or confidence < UNCERTAIN_TOP
        hit = r.get("predicted") is not None and r.get("predicted") == r.get("expected")
        rows.append({"photo": photo, "intended": r.get("expected"), "model said": r.get("predicted"),
                     "score": confidence, "read": POSED_MISSED if not hit else POSED_UNSURE if unsure else POSED_SURE})
    return rows


def faithfulness_rows(card: dict[str, Any]) -> list[dict[str, Any]] | None:
    """One row per explanation method from the card's `explain_bench` section, or None when absent."""
    bench = card.get("explain_bench")
    if not isinstance(bench, dict) or not bench:
        return None
    rows = []
    for name, r in bench.items():
        method = r.get("method", name)
        title = METHODS[method].title if method in METHODS else method
        if name != method:
            title += f" ({name.split('@', 1)[-1]})"
        rows.append({"method": title, "ms per face": r.get("ms"), "deletion AUC (lower is better)":
                     r.get("deletion_auc"), "insertion AUC (higher is better)": r.get("insertion_auc"),
                     "faithful share": r.get("faithful_share"), "faces": r.get("n")})
    return rows


def face_networks(folder: Path | None = None) -> list[dict[str, str]]:
    """The converted MediaPipe networks that find and measure faces, from their cards: what each is, where it
    came from (file in the wheel, its SHA-256) and its licence. [] when none are installed."""
    from fer_core.model.catalog import BUILTIN_DIR

    rows = []
    for path in sorted((folder or BUILTIN_DIR / "mediapipe").glob("*.json")):
        try:
            card = json.loads(path.read_text())
            source = card["source"]
        except (OSError, ValueError, KeyError):
            continue  # the movement reference and anything else that is not a network card
        title = {"face_landmark": "Face Mesh (468 points)", "face_detection_full_range_sparse": "BlazeFace, full "
                 "range", "face_detection_short_range": "BlazeFace, close-up"}.get(path.stem, path.stem)
        rows.append({"network": title, "from": f"mediapipe {source.get('version', '')}, "
                     f"{Path(source.get('path', '')).name}", "SHA-256 of that file": str(source.get("sha256", ""))[:16]
                     + "…", "licence": card.get("licence", "")})
    return rows
