"""MTCNN (Zhang et al. 2016) in our own PyTorch code, running the weights shipped in the `mtcnn` PyPI package.

The package (1.0.0) defines the nets in Keras and needs TensorFlow to run; we only read its weight files
(`mtcnn/assets/weights/{pnet,rnet,onet}.lz4`: joblib lists of numpy arrays in Keras `get_weights()` order)
and reproduce its pipeline (mtcnn/stages/*.py, mtcnn/utils/*.py):

* input: RGB, HWC, normalised as (x - 127.5) / 128, NOT transposed (unlike the original Caffe MTCNN);
* P-Net on an image pyramid (area resize, factor 0.709, first scale 12 / min_face_size), stride 2, 12 px
  cells, regression applied before NMS (0.5 per scale, 0.7 across scales), boxes squared;
* R-Net / O-Net on 24 / 48 px bilinear crops of the full normalised image (TF crop_and_resize, zeros
  outside), regression offsets times (w + 1, h + 1), thresholds 0.6 / 0.7 / 0.8, NMS 0.7 ("min" overlap
  for O-Net); landmarks are O-Net's 10 outputs x1..x5, y1..y5 relative to the R-Net box.

Layout conversions: conv kernels HWIO -> OIHW; PReLU alphas (1, 1, C) -> (C,); Keras Dense kernels (in, out)
-> (out, in); and because the Keras nets Permute((2, 1, 3)) then Flatten an NHWC map (index (w*H + h)*C + c),
the first Dense kernel is re-ordered once at load time so that torch's NCHW flatten gives the same product.

Deliberate deviations, small in effect: the input is first shrunk to `max_side` (speed); greedy torchvision
NMS instead of the package's matrix NMS (where boxes that were themselves suppressed still suppress others);
pyramid sizes rounded up as in the original MTCNN; the pyramid always stops at a 12 px short side (the
package's scale count ignores min_face_size).
"""
from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import cv2
import joblib
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import nms

from fer_core.detection.base import Detection, detector_input, downscale

PNET_CELL = 12  # P-Net sees 12x12 windows ...
PNET_STRIDE = 2  # ... every 2 pixels of the scaled image


# ----------------------------------------------------------------------------------------------- weights

def mtcnn_weights_dir() -> Path:
    """Folder of the PyPI package's weight files, found without importing it (its __init__ imports TF)."""
    spec = importlib.util.find_spec("mtcnn")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the MTCNN detector needs the `mtcnn` package's weights: pip install mtcnn==1.0.0")
    return Path(next(iter(spec.submodule_search_locations))) / "assets" / "weights"


def load_keras_arrays(net: str) -> list[np.ndarray]:
    """The arrays of `net` ('pnet', 'rnet', 'onet') in Keras `model.get_weights()` order."""
    return list(joblib.load(mtcnn_weights_dir() / f"{net}.lz4"))


def conv_kernel_from_keras(kernel: np.ndarray) -> np.ndarray:
    """Keras Conv2D kernel (kh, kw, in, out) -> torch (out, in, kh, kw)."""
    return kernel.transpose(3, 2, 0, 1)


def dense_after_permuted_flatten(kernel: np.ndarray, channels: int, height: int, width: int) -> np.ndarray:
    """Keras Dense kernel that follows Permute((2, 1, 3)) + Flatten of an (H, W, C) map -> torch Linear weight
    for a plain NCHW flatten.

    Keras input index: (w * H + h) * C + c; torch flatten index: (c * H + h) * W + w.
    """
    out = kernel.shape[1]
    return kernel.reshape(width, height, channels, out).transpose(3, 2, 1, 0).reshape(out, -1)


def _assign(param: torch.Tensor, value: np.ndarray, what: str) -> None:
    value = np.ascontiguousarray(value, dtype=np.float32).reshape(value.shape)
    if tuple(param.shape) != value.shape:
        raise ValueError(f"{what}: weight file has shape {value.shape}, torch expects {tuple(param.shape)}")
    with torch.no_grad():
        param.copy_(torch.from_numpy(value))


def load_keras_weights(model: nn.Module, arrays: list[np.ndarray]) -> None:
    """Copy Keras-ordered arrays into `model`'s layers (declared in the Keras order), converting layouts."""
    arrays = list(arrays)
    flatten_shape = getattr(model, "flatten_chw", None)  # (C, H, W) fed to the first Linear
    first_linear = True
    for name, layer in model.named_children():
        if isinstance(layer, nn.Conv2d):
            _assign(layer.weight, conv_kernel_from_keras(arrays.pop(0)), f"{name}.weight")
            _assign(layer.bias, arrays.pop(0), f"{name}.bias")
        elif isinstance(layer, nn.Linear):
            kernel = arrays.pop(0)
            if first_linear and flatten_shape is not None:
                kernel = dense_after_permuted_flatten(kernel, *flatten_shape)
            else:
                kernel = kernel.T
            first_linear = False
            _assign(layer.weight, kernel, f"{name}.weight")
            _assign(layer.bias, arrays.pop(0), f"{name}.bias")
        elif isinstance(layer, nn.PReLU):
            _assign(layer.weight, arrays.pop(0).reshape(-1), f"{name}.weight")
    if arrays:
        raise ValueError(f"{len(arrays)} weight arrays left over: the layer list does not match the file")


# ---------------------------------------------------------------------------------------------- networks

class KerasSameMaxPool2d(nn.Module):
    """MaxPooling2D(padding="same"): output ceil(n / stride); Keras pads the end (and, if odd, the start)."""

    def __init__(self, kernel: int, stride: int) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def _pads(self, n: int) -> tuple[int, int]:
        total = max((math.ceil(n / self.stride) - 1) * self.stride + self.kernel - n, 0)
        return total // 2, total - total // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (top, bottom), (left, right) = self._pads(x.shape[-2]), self._pads(x.shape[-1])
        if top == 0 and left == 0:  # only end padding: ceil_mode gives the same windows without a copy
            return F.max_pool2d(x, self.kernel, self.stride, ceil_mode=True)
        x = F.pad(x, (left, right, top, bottom), value=float("-inf"))
        return F.max_pool2d(x, self.kernel, self.stride)


class PNet(nn.Module):
    """Proposal net: fully convolutional; per 12x12 window a box regression and a face probability."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1, self.pool1 = nn.Conv2d(3, 10, 3), nn.PReLU(10), KerasSameMaxPool2d(2, 2)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 4, 1)  # box regression
        self.conv4_2 = nn.Conv2d(32, 2, 1)  # [not face, face] logits

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_1(x), F.softmax(self.conv4_2(x), dim=1)[:, 1]


class RNet(nn.Module):
    """Refinement net on 24x24 crops: box regression and face probability."""

    flatten_chw = (64, 3, 3)

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1, self.pool1 = nn.Conv2d(3, 28, 3), nn.PReLU(28), KerasSameMaxPool2d(3, 2)
        self.conv2, self.prelu2, self.pool2 = nn.Conv2d(28, 48, 3), nn.PReLU(48), nn.MaxPool2d(3, 2)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.fc4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.fc5_1 = nn.Linear(128, 4)
        self.fc5_2 = nn.Linear(128, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        x = self.prelu4(self.fc4(x.flatten(1)))
        return self.fc5_1(x), F.softmax(self.fc5_2(x), dim=1)[:, 1]


class ONet(nn.Module):
    """Output net on 48x48 crops: box regression, 5 landmarks (x1..x5, y1..y5) and face probability."""

    flatten_chw = (128, 3, 3)

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1, self.pool1 = nn.Conv2d(3, 32, 3), nn.PReLU(32), KerasSameMaxPool2d(3, 2)
        self.conv2, self.prelu2, self.pool2 = nn.Conv2d(32, 64, 3), nn.PReLU(64), nn.MaxPool2d(3, 2)
        self.conv3, self.prelu3, self.pool3 = nn.Conv2d(64, 64, 3), nn.PReLU(64), KerasSameMaxPool2d(2, 2)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.fc5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.fc6_1 = nn.Linear(256, 4)
        self.fc6_2 = nn.Linear(256, 10)
        self.fc6_3 = nn.Linear(256, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = self.prelu5(self.fc5(x.flatten(1)))
        return self.fc6_1(x), self.fc6_2(x), F.softmax(self.fc6_3(x), dim=1)[:, 1]


def load_net(net: str) -> nn.Module:
    """A frozen, eval-mode P/R/O-Net with the package's weights, in channels-last memory format.

    Channels-last is 1.5-3x faster here on CPU, mostly because torch's NCHW max-pooling is slow; the results
    are identical (the layout is physical only). Feed it channels-last inputs (see `hwc_to_nchw`).
    """
    model = {"pnet": PNet, "rnet": RNet, "onet": ONet}[net]()
    load_keras_weights(model, load_keras_arrays(net))
    return model.eval().requires_grad_(False).to(memory_format=torch.channels_last)


def hwc_to_nchw(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) float32 array -> (1, 3, H, W) tensor view; its strides are already channels-last, no copy."""
    return torch.from_numpy(image).permute(2, 0, 1)[None]


# ------------------------------------------------------------------------------------------ box helpers

def pyramid_scales(height: int, width: int, min_face_size: float, factor: float) -> list[float]:
    """Scales at which a `min_face_size` face becomes P-Net's 12 px cell, down to a 12 px short side."""
    scale = PNET_CELL / min_face_size
    scales = []
    while min(height, width) * scale >= PNET_CELL:
        scales.append(scale)
        scale *= factor
    return scales


def square_boxes(boxes: torch.Tensor) -> torch.Tensor:
    """Grow (x1, y1, x2, y2, ...) boxes to squares of the longer side about the same centre."""
    boxes = boxes.clone()
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = torch.maximum(w, h)
    boxes[:, 0] += (w - side) / 2
    boxes[:, 1] += (h - side) / 2
    boxes[:, 2] = boxes[:, 0] + side
    boxes[:, 3] = boxes[:, 1] + side
    return boxes


def regress_boxes(boxes: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Apply R/O-Net offsets, which are in units of the box size (width and height + 1, as the package)."""
    boxes = boxes.clone()
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    boxes[:, :4] += offsets * torch.stack([w, h, w, h], dim=1)
    return boxes


def nms_min_overlap(boxes: torch.Tensor, scores: torch.Tensor, threshold: float) -> torch.Tensor:
    """Greedy NMS where overlap = intersection / smaller area (O-Net's "min" method; torchvision has only IoU).

    Returns kept indices by descending score. Only a handful of boxes reach O-Net, so a Python loop is fine.
    """
    order = torch.argsort(scores, descending=True)
    boxes = boxes[order]
    top_left = torch.maximum(boxes[:, None, :2], boxes[None, :, :2])
    bottom_right = torch.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(dim=2)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    overlap = inter / torch.minimum(area[:, None], area[None, :]).clamp(min=1e-9)
    suppressed = torch.zeros(len(boxes), dtype=torch.bool)
    keep = []
    for i in range(len(boxes)):
        if not suppressed[i]:
            keep.append(i)
            suppressed |= overlap[i] > threshold
    return order[torch.as_tensor(keep, dtype=torch.long)]


def crop_patches(image: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear size x size crops of (x1, y1, x2, y2) boxes from a (1, 3, H, W) image, zeros outside.

    Same sampling points as the package's tf.image.crop_and_resize(boxes / (W, H)): `size` points from x1 to
    x2 inclusive, each scaled by (W - 1) / W. All crops come from ONE grid_sample call: the per-box grids are
    stacked along the height axis and the result is split back into a batch.
    """
    height, width = image.shape[-2:]
    steps = torch.linspace(0.0, 1.0, size, dtype=image.dtype)
    x1, y1, x2, y2 = (boxes[:, i:i + 1] for i in range(4))
    grid_x = (x1 + steps * (x2 - x1)) / width * 2 - 1  # (K, size): align_corners=True, -1/+1 = first/last pixel
    grid_y = (y1 + steps * (y2 - y1)) / height * 2 - 1
    grid = torch.stack(torch.broadcast_tensors(grid_x[:, None, :], grid_y[:, :, None]), dim=-1)
    grid = grid.reshape(1, -1, size, 2)  # (1, K * size, size, 2)
    patches = F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    patches = patches.reshape(3, len(boxes), size, size).transpose(0, 1)
    return patches.contiguous(memory_format=torch.channels_last)


# ------------------------------------------------------------------------------------------------ detector

class MTCNNFaceDetector:
    """Three-stage MTCNN with 5 landmarks; torch modules are shared read-only, so instances are thread-safe.

    Works on a copy whose longer side is at most `max_side` px; `min_face_size` is in pixels of that copy, so
    the nominal smallest face is min_face_size / max_side of the input's longer side (defaults: 7.5%, i.e.
    48 px in a 640x480 frame; P-Net still fires a little below that: the ~6.5% faces of the 1366 px group
    photo faceapi_bbt1.jpg are all found). P-Net's cost grows with (max_side / min_face_size) ** 2: the
    defaults keep a 640x480 frame at ~11-13 ms of CPU on one core, against ~38 ms for the package's own
    settings (full resolution, min_face_size 20), with the same result on the shared photos and videos.
    For still photos with small faces pass a larger `max_side`. Thresholds and NMS are the package's.
    """

    name = "mtcnn"

    def __init__(self, max_side: int = 320, min_face_size: float = 24, scale_factor: float = 0.709,
                 thresholds: tuple[float, float, float] = (0.6, 0.7, 0.8)) -> None:
        self.max_side = max_side
        self.min_face_size = min_face_size
        self.scale_factor = scale_factor
        self.thresholds = thresholds
        self.pnet, self.rnet, self.onet = load_net("pnet"), load_net("rnet"), load_net("onet")

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """Faces in `rgb` (HxWx3 uint8), best first, each with 5 landmarks; [] when none."""
        rgb = detector_input(rgb)
        if rgb is None:
            return []
        work, factor = downscale(rgb, self.max_side)
        height, width = work.shape[:2]
        scales = pyramid_scales(height, width, self.min_face_size, self.scale_factor)
        if not scales:
            return []
        normalised = (work.astype(np.float32) - 127.5) / 128.0
        with torch.inference_mode():
            boxes = self._propose(normalised, scales)
            if len(boxes) == 0:
                return []
            image = hwc_to_nchw(normalised)
            boxes = self._refine(image, boxes)
            if len(boxes) == 0:
                return []
            boxes, landmarks = self._output(image, boxes)
        return self._detections(boxes, landmarks, width, height, factor)

    def _propose(self, normalised: np.ndarray, scales: list[float]) -> torch.Tensor:
        """P-Net over the pyramid -> square candidate boxes (K, 5): x1, y1, x2, y2, score."""
        height, width = normalised.shape[:2]
        per_scale = []
        for scale in scales:
            size = (math.ceil(width * scale), math.ceil(height * scale))
            scaled = cv2.resize(normalised, size, interpolation=cv2.INTER_AREA)
            offsets, prob = self.pnet(hwc_to_nchw(scaled))
            ys, xs = torch.nonzero(prob[0] > self.thresholds[0], as_tuple=True)
            if len(ys) == 0:
                continue
            reg = offsets[0][:, ys, xs]
            x0, y0 = xs.to(reg.dtype) * PNET_STRIDE, ys.to(reg.dtype) * PNET_STRIDE
            boxes = torch.stack([x0 + reg[0] * PNET_CELL, y0 + reg[1] * PNET_CELL,
                                 x0 + PNET_CELL + reg[2] * PNET_CELL, y0 + PNET_CELL + reg[3] * PNET_CELL], 1)
            boxes = torch.cat([boxes / scale, prob[0, ys, xs, None]], dim=1)
            per_scale.append(boxes[nms(boxes[:, :4], boxes[:, 4], 0.5)])
        if not per_scale:
            return torch.empty(0, 5)
        boxes = torch.cat(per_scale)
        return square_boxes(boxes[nms(boxes[:, :4], boxes[:, 4], 0.7)])

    def _refine(self, image: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """R-Net rescoring and regression of P-Net's candidates -> fewer, tighter square boxes."""
        offsets, prob = self.rnet(crop_patches(image, boxes, 24))
        boxes = regress_boxes(boxes, offsets)
        boxes[:, 4] = prob
        boxes = boxes[prob > self.thresholds[1]]
        return square_boxes(boxes[nms(boxes[:, :4], boxes[:, 4], 0.7)])

    def _output(self, image: torch.Tensor, boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """O-Net final scores, boxes and landmarks (K, 5, 2), sorted by score."""
        offsets, points, prob = self.onet(crop_patches(image, boxes, 48))
        w = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
        h = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
        xs = w * points[:, :5] + boxes[:, 0:1] - 1
        ys = h * points[:, 5:] + boxes[:, 1:2] - 1
        landmarks = torch.stack([xs, ys], dim=2)
        boxes = regress_boxes(boxes, offsets)
        boxes[:, 4] = prob
        keep = prob > self.thresholds[2]
        boxes, landmarks = boxes[keep], landmarks[keep]
        keep = nms_min_overlap(boxes[:, :4], boxes[:, 4], 0.7)
        return boxes[keep], landmarks[keep]

    @staticmethod
    def _detections(boxes: torch.Tensor, landmarks: torch.Tensor, width: int, height: int,
                    factor: float) -> list[Detection]:
        """Clip boxes to the working image (as the package's fit_to_image) and map back to input pixels."""
        boxes, landmarks = boxes.numpy(), landmarks.numpy()
        found = []
        for (x1, y1, x2, y2, score), points in zip(boxes, landmarks):
            x1, x2 = np.clip([x1, x2], 0, width - 1)
            y1, y2 = np.clip([y1, y2], 0, height - 1)
            if x2 <= x1 or y2 <= y1:
                continue
            box = (float(x1 * factor), float(y1 * factor), float((x2 - x1) * factor), float((y2 - y1) * factor))
            found.append(Detection(box=box, score=float(score), landmarks=(points * factor).astype(np.float32)))
        return sorted(found, key=lambda d: d.score, reverse=True)
