"""Measure face detectors on the shared real media: faces found, false boxes, misses, ms per 640x480 frame.

    fer-lens detect-bench [--json] [--detectors haar mtcnn] [--frames 20] [--threads 2]

Ground truth (media are read from `$FER_LENS_SHARED/media`, never copied into the project):
* photos: approximate face boxes written by hand after looking at each photo (eyebrows/forehead to chin,
  ear to ear). A detection is a hit if it overlaps a still-unmatched true face with IoU > 0.3, else false;
  unmatched true faces are misses. IoU 0.3 tolerates the different box conventions of different detectors.
* videos: LivePortrait driving clips are face-centred crops with exactly one face, so the box that covers
  the frame centre is the face; every other box is false, and a frame with no such box is a miss.
Frames are letterboxed (not stretched) to 640x480, which is what a webcam delivers; these frames time the
detectors and are also scored. "ms" is the median wall clock per frame, "cpu ms" the median process CPU time:
on a machine busy with other work the second shows the detector's own cost, the first what a user waits.
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from fer_core.detection import face_mesh
from fer_core.detection.base import Detection, FaceDetector
from fer_core.detection.registry import DETECTORS, create_detector
from fer_core.imageio import letterbox
from fer_core.paths import shared_dir

Box = tuple[float, float, float, float]  # x, y, w, h

PHOTO_FACES: dict[str, list[Box]] = {
    "faceapi_angry.jpg": [(92, 50, 108, 145)],
    "faceapi_disgusted.jpg": [(235, 85, 150, 170)],
    "faceapi_fearful.jpg": [(68, 5, 132, 155)],
    "faceapi_happy.jpg": [(260, 40, 140, 185)],
    "faceapi_neutral.jpg": [(250, 50, 120, 165)],
    "faceapi_sad.jpg": [(140, 45, 115, 160)],
    "faceapi_surprised.jpg": [(190, 55, 140, 215)],
    # 4 faces: the four men on the sofa, all frontal.
    "faceapi_bbt1.jpg": [(210, 130, 95, 125), (472, 145, 92, 120), (733, 135, 85, 115), (1000, 80, 95, 130)],
    # 3 faces: the two men at the table and the man with glasses cut by the left edge. The blonde woman,
    # the bald man and the man at the top right are seen from behind: no face, so boxes there are false.
    "faceapi_bbt2.jpg": [(95, 115, 85, 115), (375, 112, 85, 110), (0, 88, 52, 72)],
}
FRAME_SIZE = (640, 480)  # w, h
MATCH_IOU = 0.3


def media_dir() -> Path:
    return shared_dir() / "media"


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def match_photo(detections: list[Detection], truth: list[Box]) -> tuple[int, int, int]:
    """(found, false, missed): greedy, best-scored detection first, each true face matched at most once."""
    unmatched = list(truth)
    found = false = 0
    for det in sorted(detections, key=lambda d: d.score, reverse=True):
        overlaps = [iou(det.box, face) for face in unmatched]
        best = int(np.argmax(overlaps)) if overlaps else -1
        if best >= 0 and overlaps[best] > MATCH_IOU:
            unmatched.pop(best)
            found += 1
        else:
            false += 1
    return found, false, len(unmatched)


def match_centred_face(detections: list[Detection], centre: tuple[float, float]) -> tuple[int, int, int]:
    """(found, false, missed) for a frame whose only face covers `centre`."""
    def covers(d: Detection) -> bool:
        x, y, w, h = d.box
        return x <= centre[0] <= x + w and y <= centre[1] <= y + h

    found = int(any(covers(d) for d in detections))
    return found, len(detections) - found, 1 - found


def sample_video_frames(path: Path, count: int) -> list[np.ndarray]:
    """`count` RGB frames spread evenly over the clip."""
    cap = cv2.VideoCapture(str(path))
    try:
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        frames = []
        for index in np.linspace(0, max(total - 1, 0), count).astype(int):
            cap.set(cv2.CAP_PROP_POS_FRAMES, int(index))
            ok, bgr = cap.read()
            if ok:
                frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        return frames
    finally:
        cap.release()


def read_photo(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(path)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def evaluate_detector(detector: FaceDetector, media: Path, frames_per_video: int = 20) -> dict:
    """Counts on photos and video frames plus the median wall-clock ms per 640x480 frame."""
    totals = {"photos": [0, 0, 0], "videos": [0, 0, 0]}
    for name, truth in PHOTO_FACES.items():
        counts = match_photo(detector.detect(read_photo(media / "photos" / name)), truth)
        totals["photos"] = [t + c for t, c in zip(totals["photos"], counts)]
    timings, cpu_timings = [], []
    for video in sorted((media / "videos").glob("*.mp4")):
        for rgb in sample_video_frames(video, frames_per_video):
            frame, centre = letterbox(rgb)
            start, cpu_start = time.perf_counter(), time.process_time()
            detections = detector.detect(frame)
            timings.append((time.perf_counter() - start) * 1000)
            cpu_timings.append((time.process_time() - cpu_start) * 1000)
            counts = match_centred_face(detections, centre)
            totals["videos"] = [t + c for t, c in zip(totals["videos"], counts)]
    found, false, missed = (p + v for p, v in zip(totals["photos"], totals["videos"]))
    return {
        "faces": found + missed, "found": found, "false": false, "missed": missed,
        "ms_per_640x480": round(statistics.median(timings), 2) if timings else None,
        "cpu_ms_per_640x480": round(statistics.median(cpu_timings), 2) if cpu_timings else None,
        "frames_timed": len(timings),
        "photos": dict(zip(("found", "false", "missed"), totals["photos"])),
        "videos": dict(zip(("found", "false", "missed"), totals["videos"])),
    }


def evaluate_detectors(names: list[str] | None = None, frames_per_video: int = 20,
                       media: Path | None = None, with_mesh: bool = True, **detector_kwargs) -> dict[str, dict]:
    """`evaluate_detector` for each registered detector (default: all), warmed up with one frame first; with
    `with_mesh`, also each one as recognition uses it (weak detections confirmed by the Face Mesh, "+mesh").

    `detector_kwargs` are keyed by detector name, e.g. `evaluate_detectors(["mtcnn"], mtcnn={"max_side": 640})`.
    """
    media = media or media_dir()
    if not (media / "photos").is_dir():
        raise FileNotFoundError(f"shared media not found at {media} (set FER_LENS_SHARED)")
    results = {}
    for name in names or list(DETECTORS):
        detector = create_detector(name, **detector_kwargs.get(name, {}))
        detector.detect(np.zeros((FRAME_SIZE[1], FRAME_SIZE[0], 3), np.uint8))  # lazy init out of the timing
        results[name] = evaluate_detector(detector, media, frames_per_video)
        if with_mesh and face_mesh.available():
            confirmed = face_mesh.MeshConfirmed(detector)
            results[confirmed.name] = evaluate_detector(confirmed, media, frames_per_video)
    return results


def format_table(results: dict[str, dict]) -> str:
    """The results as a fixed-width text table (f/F/m = found/false/missed)."""
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    lines = [f"{'detector':<10}{'found':>12}{'false':>7}{'missed':>8}{'ms/640x480':>12}{'cpu ms':>8}"
             "   photos f/F/m   videos f/F/m"]
    for name, r in results.items():
        photos = "/".join(str(r["photos"][k]) for k in ("found", "false", "missed"))
        videos = "/".join(str(r["videos"][k]) for k in ("found", "false", "missed"))
        lines.append(f"{name:<10}{r['found']:>7}/{r['faces']:<4}{r['false']:>7}{r['missed']:>8}"
                     f"{ms(r['ms_per_640x480']):>12}{ms(r['cpu_ms_per_640x480']):>8}   {photos:<14} {videos}")
    return "\n".join(lines)
