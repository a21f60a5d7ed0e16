"""detect -> align -> classify, batched over faces and safe to share across threads.

One `Recognizer` serves every browser session: it never mutates its model (eval mode, no hooks, no
gradients), so concurrent `analyze` calls need no lock around the classifier.

No torch on the way to a label: a built-in model classifies through its graph twin in ONNX Runtime
(`fer_core.model.graph_twin`), and the face finder and Face Mesh run their ONNX twins too. The torch module,
which explanations need, is loaded on first use of `loaded` (once, under a lock). Models without a twin
(a user's checkpoint, or no onnxruntime) classify with torch as before.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from fer_core.detection import face_mesh
from fer_core.detection.align import CROP_SIZE, align_face
from fer_core.detection.base import Detection, FaceDetector
from fer_core.detection.registry import DEFAULT_DETECTOR, create_detector
from fer_core.imageio import ImageInput, load_image
from fer_core.model.catalog import resolve_model_path
from fer_core.model.graph_twin import graph_classifier
from fer_core.model.preprocess import crops_to_array, softmax
from fer_core.model.spec import ModelSpec
from fer_core.reading_order import reading_order

if TYPE_CHECKING:
    import torch

    from fer_core.model.checkpoint import LoadedModel


@dataclass
class FaceResult:
    """One face: where it is, what the model says, and the aligned crop it said it about."""

    box: tuple[float, float, float, float]  # x, y, w, h in pixels of the (EXIF-upright) image
    score: float  # detector confidence
    landmarks: np.ndarray | None  # (5, 2) eyes, nose, mouth corners, or None
    probs: dict[str, float]  # all classes, in the model's label order
    crop: np.ndarray = field(repr=False)  # aligned RGB crop, CROP_SIZE x CROP_SIZE
    mesh: np.ndarray | None = field(default=None, repr=False)  # (468, 3) Face Mesh points, or None

    @property
    def movements(self) -> dict[str, float] | None:
        """Signed facial movements from the mesh against FER+ neutral faces (detection.movements)."""
        from fer_core.detection.movements import measure

        return measure(self.mesh)

    @property
    def label(self) -> str:
        return max(self.probs, key=self.probs.get)

    @property
    def confidence(self) -> float:
        return self.probs[self.label]

    def to_json(self) -> dict:
        d = {"box": [round(float(v), 1) for v in self.box], "score": round(float(self.score), 4),
             "label": self.label, "probs": {k: round(float(v), 4) for k, v in self.probs.items()}}
        if self.landmarks is not None:
            d["landmarks"] = np.round(self.landmarks, 1).tolist()
        if self.mesh is not None:
            d["mesh"] = np.round(self.mesh, 1).tolist()
            d["movements"] = self.movements
        return d


class Recognizer:
    """Facial-expression recognizer over a built-in or user checkpoint and a face detector."""

    def __init__(self, model: str | Path | LoadedModel | None = None,
                 detector: str | FaceDetector = DEFAULT_DETECTOR, flip_tta: bool = True,
                 max_faces: int = 64, mesh: bool = True, load: Callable[[], LoadedModel] | None = None,
                 threads: int | None = None) -> None:
        """`load` gives the torch model when it is first needed (the app passes its shared, cached loader);
        `threads` is the graph twin's thread count (default two, at most the cores)."""
        self._lock = threading.Lock()
        self._graph = None
        self._load_torch = load
        if model is None or isinstance(model, (str, Path)):
            self._path = resolve_model_path(model)
            self.card: dict[str, Any] = json.loads(self._path.with_suffix(".json").read_text())
            self.spec = ModelSpec.from_json(self.card["spec"])
            self._graph = graph_classifier(self._path, self.card, threads)
            self._loaded = None if self._graph is not None else self._load()
        else:  # an already loaded model
            self._path, self._loaded, self.spec, self.card = model.path, model, model.spec, model.card
        self.detector = create_detector(detector) if isinstance(detector, str) else detector
        self.flip_tta = flip_tta
        self.max_faces = max_faces
        # The Face Mesh levels and frames each face from 468 points; without its weights, or when it cannot fit
        # a face, the detector's own landmarks (or box) do that job as before.
        self.mesh = mesh and face_mesh.available()

    def _load(self) -> LoadedModel:
        if self._load_torch is not None:
            return self._load_torch()
        from fer_core.model.checkpoint import load_model

        return load_model(self._path)

    @property
    def name(self) -> str:
        """The model's name, from its card (no torch needed)."""
        return self.card.get("name", self._path.stem if self._path else self.spec.timm_name)

    @property
    def uses_graph_twin(self) -> bool:
        """Whether labels come from the ONNX Runtime graph twin (else from the torch module)."""
        return self._graph is not None

    @property
    def torch_loaded(self) -> bool:
        """Whether the torch model is loaded already (by a page that needed a heatmap, or by the warm-up)."""
        return self._loaded is not None

    @property
    def loaded(self) -> LoadedModel:
        """The torch model (explanations, training tools): loaded on first use, once, for every thread."""
        if self._loaded is None:
            with self._lock:
                if self._loaded is None:
                    self._loaded = self._load()
        return self._loaded

    @property
    def model(self) -> torch.nn.Module:
        return self.loaded.model

    @property
    def labels(self) -> tuple[str, ...]:
        return self.spec.labels

    def _logits(self, x: np.ndarray) -> np.ndarray:
        if self._graph is not None:
            return self._graph(x)
        import torch

        with torch.inference_mode():
            batch = torch.from_numpy(x).contiguous(memory_format=torch.channels_last)
            return self.loaded.fast(batch).float().numpy()

    def classify_crops(self, crops: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) aligned RGB crops -> (N, C) probabilities, in one batch (with each crop's mirror)."""
        if len(crops) == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        x = crops_to_array(crops, self.spec)
        if self.flip_tta:
            x = np.concatenate([x, x[..., ::-1]])
        logits = self._logits(x)
        if self.flip_tta:
            logits = (logits[: len(crops)] + logits[len(crops):]) / 2
        return softmax(logits).astype(np.float32)

    def fit_meshes(self, rgb: np.ndarray, detections: list[Detection]) -> list[face_mesh.Mesh | None]:
        """A Face Mesh per detection (None where it cannot fit one, or when meshes are off)."""
        return face_mesh.fit(rgb, detections) if self.mesh else [None] * len(detections)

    @staticmethod
    def aligned_crops(rgb: np.ndarray, detections: list[Detection],
                      meshes: list[face_mesh.Mesh | None]) -> np.ndarray:
        """(N, CROP_SIZE, CROP_SIZE, 3) crops, each levelled and framed from its mesh (or the detector's
        landmarks where there is no mesh): what the classifier is given."""
        return np.stack([align_face(rgb, d.box, m.five_landmarks() if m is not None else d.landmarks, CROP_SIZE)
                         for d, m in zip(detections, meshes)])

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """The detector's faces, best first; with meshes on, weak ones the mesh sees no face in are dropped."""
        found = self.detector.detect(rgb)[: self.max_faces]
        return face_mesh.confirmed(rgb, found) if self.mesh and found else found

    def analyze(self, image: ImageInput) -> list[FaceResult]:
        """All faces in an image with probabilities for every class, in reading order (rows from the top,
        left to right: `fer_core.reading_order`, so face 1 is the one a class would name first); [] when
        there is no face.

        Raises `ImageLoadError` (a ValueError) with a readable message for inputs that are not images.
        """
        rgb = load_image(image)
        return self.analyze_rgb(rgb)

    def analyze_rgb(self, rgb: np.ndarray, detections: list[Detection] | None = None,
                    mesh: bool | None = None) -> list[FaceResult]:
        """Like `analyze` for an RGB uint8 array, optionally with detections from elsewhere (a tracker), whose
        order the results keep; `mesh=False` skips the Face Mesh for this call (the detections' landmarks
        align the faces)."""
        if detections is None:
            found = self.detect(rgb)
            dets = [found[i] for i in reading_order([d.box for d in found])]
        else:
            dets = detections
        if not dets:
            return []
        meshes = self.fit_meshes(rgb, dets) if mesh is not False else [None] * len(dets)
        crops = self.aligned_crops(rgb, dets, meshes)
        probs = self.classify_crops(crops)
        return [FaceResult(box=tuple(float(v) for v in d.box), score=float(d.score), landmarks=d.landmarks,
                           probs=dict(zip(self.labels, map(float, p))), crop=c,
                           mesh=None if m is None else m.points)
                for d, m, p, c in zip(dets, meshes, probs, crops)]
