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
