"""Rough head pose from the detector's 5 landmarks, for the observation "facing the camera or not".

A generic 3D face (eyes, nose tip, mouth corners, in millimetres) is fitted to the landmarks with OpenCV's
SQPnP solver under a plain pinhole camera (focal length = the frame's longer side, about a 55 degree
view). With only 5 points and an average face this is good to roughly 10-15 degrees: enough to tell a face
turned to the camera from one turned away, not for fine gaze measures.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

# Camera axes: x to the image's right, y down, z away from the camera. Nose tip at the origin; eyes and
# mouth corners lie behind it. Order as detect.LANDMARK_NAMES (image-left eye first).
FACE_MODEL_MM = np.array([[-31.0, -33.0, 25.0], [31.0, -33.0, 25.0], [0.0, 0.0, 0.0],
                          [-25.0, 30.0, 20.0], [25.0, 30.0, 20.0]])
FACING_MAX_DEG = 30.0  # a head turned less than this from the line to the camera counts as facing it


@dataclass(frozen=True)
class HeadPose:
    yaw: float  # degrees; positive = the face points towards the image's right
    pitch: float  # degrees; positive = the face points up
    turn: float  # degrees between where the face points and the line from the face to the camera

    @property
    def facing_camera(self) -> bool:
        return self.turn <= FACING_MAX_DEG


def head_pose(landmarks: np.ndarray | None, frame_size: tuple[int, int]) -> HeadPose | None:
    """Pose for (5, 2) landmarks in a frame of (width, height) pixels; None without usable landmarks."""
    if landmarks is None:
        return None
    points = np.asarray(landmarks, dtype=np.float64).reshape(-1, 2)
    if points.shape != (5, 2) or not np.isfinite(points).all():
        return None
    w, h = frame_size
    f = float(max(w, h))
    camera = np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1]], dtype=np.float64)
    try:
        ok, rvec, tvec = cv2.solvePnP(FACE_MODEL_MM, points, camera, None, flags=cv2.SOLVEPNP_SQPNP)
    except cv2.error:
        return None
    if not ok or tvec[2, 0] <= 0:
        return None
    rotation, _ = cv2.Rodrigues(rvec)
    forward = rotation @ np.array([0.0, 0.0, -1.0])  # out of the face, towards whoever it looks at
    to_camera = -tvec[:, 0] / np.linalg.norm(tvec)
    turn = math.degrees(math.acos(float(np.clip(forward @ to_camera, -1.0, 1.0))))
    yaw = math.degrees(math.atan2(forward[0], -forward[2]))
    pitch = math.degrees(math.atan2(-forward[1], math.hypot(forward[0], forward[2])))
    return HeadPose(round(yaw, 1), round(pitch, 1), round(turn, 1))


# Face Mesh points for the face's own axes (468-point topology; "right" = the subject's right).
_MESH_RIGHT = (33, 133, 159, 145, 70, 105, 234)  # eye corners and lids, brow, cheek edge
_MESH_LEFT = (263, 362, 386, 374, 300, 334, 454)
_MESH_TOP, _MESH_BOTTOM = (10, 151, 9), (152, 175, 199)  # forehead midline, chin midline
# MediaPipe's z is flatter than a real face: times 1.6, the mesh's yaw spans what the 5-point fit gives on the
# LivePortrait clips (-28..34 against -36..30 degrees), with a third less frame-to-frame jitter (2.3 against
# 3.3 degrees); at 1.0 it would call strongly turned heads "facing" (-18..23). tests/detection/test_face_mesh.py
MESH_DEPTH_SCALE = 1.6


def mesh_head_pose(mesh: np.ndarray | None, frame_size: tuple[int, int]) -> HeadPose | None:
    """Pose from a (468, 3) Face Mesh (x, y in pixels, z in the same scale, larger = farther): the face's
    own left-right and chin-forehead axes, measured over many points, give where it points; no generic face
    model has to be fitted. The viewing ray from the face to the camera uses the same pinhole camera as
    `head_pose`, so both say "facing" the same way."""
    if mesh is None:
        return None
    points = np.asarray(mesh, dtype=np.float64)
    if points.shape != (468, 3) or not np.isfinite(points).all():
        return None
    points = points * [1.0, 1.0, MESH_DEPTH_SCALE]
    across = points[list(_MESH_LEFT)].mean(0) - points[list(_MESH_RIGHT)].mean(0)
    up = points[list(_MESH_TOP)].mean(0) - points[list(_MESH_BOTTOM)].mean(0)
    if np.linalg.norm(across) < 1e-6 or np.linalg.norm(up) < 1e-6:
        return None
    across /= np.linalg.norm(across)
    up -= (up @ across) * across
    up /= np.linalg.norm(up)
    forward = np.cross(across, up)  # out of the face, towards whoever it looks at (camera axes, z away)
    w, h = frame_size
    centre = points[:, :2].mean(0)
    ray = np.array([w / 2 - centre[0], h / 2 - centre[1], -float(max(w, h))])
    to_camera = ray / np.linalg.norm(ray)
    turn = math.degrees(math.acos(float(np.clip(forward @ to_camera, -1.0, 1.0))))
    yaw = math.degrees(math.atan2(forward[0], -forward[2]))
    pitch = math.degrees(math.atan2(-forward[1], math.hypot(forward[0], forward[2])))
    return HeadPose(round(yaw, 1), round(pitch, 1), round(turn, 1))
