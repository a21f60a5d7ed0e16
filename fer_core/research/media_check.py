"""Does the model generalise beyond FER2013's own crops? Check it on real photos and video frames.

The seven shared face-api.js photos are posed expressions named in the file; the LivePortrait clips are
unlabelled, so for them we report how predictions spread over the classes (a model that calls every frame
"neutral" has not generalised, however good its FER2013 score). A posed photo counts as correct only when it
is read as intended *and* the reading is not one the app marks uncertain.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

import cv2
import numpy as np

from fer_core.evaluation.uncertainty import is_uncertain
from fer_core.paths import shared_dir
from fer_core.recognizer import Recognizer

POSED = {"angry": "anger", "disgusted": "disgust", "fearful": "fear", "happy": "happiness",
         "neutral": "neutral", "sad": "sadness", "surprised": "surprise"}


def video_frames(path, every_s: float = 0.5) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30
    step = max(1, int(round(fps * every_s)))
    frames, i = [], 0
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        if i % step == 0:
            frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        i += 1
    cap.release()
    return frames


def check_media(recognizer: Recognizer) -> dict[str, Any]:
    photos_dir, videos_dir = shared_dir() / "media" / "photos", shared_dir() / "media" / "videos"
    posed = {}
    for stem, expected in POSED.items():
        path = photos_dir / f"faceapi_{stem}.jpg"
        if path.exists():
            faces = recognizer.analyze(path)
            face = max(faces, key=lambda f: f.score) if faces else None  # the face the detector is surest of
            posed[stem] = {"expected": expected, "predicted": face.label if face else None,
                           "confidence": round(face.confidence, 3) if face else None,
                           "uncertain": is_uncertain(face.probs) if face else None}
    videos = {}
    for path in sorted(videos_dir.glob("*.mp4")):
        labels = []
        for rgb in video_frames(path):
            faces = recognizer.analyze_rgb(rgb)
            labels.append(max(faces, key=lambda f: f.score).label if faces else "no face")
        videos[path.name] = {"frames": len(labels), "labels": dict(Counter(labels).most_common())}
    hits = sum(v["expected"] == v["predicted"] and not v["uncertain"] for v in posed.values())
    return {"posed_photos_correct": f"{hits}/{len(posed)}", "posed_photos": posed, "videos": videos}
