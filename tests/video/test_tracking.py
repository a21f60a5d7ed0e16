"""FaceTracker and ProbabilitySmoother: stable ids through motion, gaps and crossings; time-based smoothing."""
from __future__ import annotations

import numpy as np
import pytest

from fer_core.video.tracking import FaceTracker, ProbabilitySmoother


def test_ids_are_one_based_stable_and_in_input_order() -> None:
    tr = FaceTracker()
    left, right = [10, 10, 50, 50], [200, 20, 60, 60]
    assert tr.update(np.array([left, right]), 0.0) == [1, 2]
    # same faces, slightly moved, given in the other order: ids follow the faces, not the positions in the list
    assert tr.update(np.array([[205, 22, 60, 60], [12, 11, 50, 50]]), 0.2) == [2, 1]
    assert tr.active_ids == [1, 2]


def test_a_new_face_gets_a_new_id_and_ids_are_never_reused() -> None:
    tr = FaceTracker(max_gap_s=0.5)
    assert tr.update(np.array([[0, 0, 40, 40]]), 0.0) == [1]
    assert tr.update(np.array([[0, 0, 40, 40], [300, 300, 40, 40]]), 0.2) == [1, 2]
    assert tr.update(np.zeros((0, 4)), 0.4) == []
    # face 2 vanished for longer than max_gap_s, then a face appears at its old place: a new track
    assert tr.update(np.array([[300, 300, 40, 40]]), 2.0) == [3]


def test_tracks_survive_short_gaps() -> None:
    tr = FaceTracker(max_gap_s=1.0)
    tr.update(np.array([[100, 100, 80, 80]]), 0.0)
    assert tr.update(np.zeros((0, 4)), 0.2) == []
    assert tr.update(np.zeros((0, 4)), 0.6) == []
    assert tr.update(np.array([[104, 98, 82, 80]]), 0.9) == [1]


def test_fast_motion_without_overlap_still_continues_the_track() -> None:
    tr = FaceTracker(iou_threshold=0.3, max_shift=0.6)
    tr.update(np.array([[100, 100, 100, 100]]), 0.0)
    # moved 60 px (0.6 of a face): IoU 0.25 < 0.3, but close and the same size
    assert tr.update(np.array([[160, 100, 100, 100]]), 0.2) == [1]
    strict = FaceTracker(iou_threshold=0.3, max_shift=0)
    strict.update(np.array([[100, 100, 100, 100]]), 0.0)
    assert strict.update(np.array([[160, 100, 100, 100]]), 0.2) == [2]


def test_overlap_beats_proximity_when_two_faces_are_close() -> None:
    tr = FaceTracker()
    a, b = [100, 100, 100, 100], [190, 100, 100, 100]
    assert tr.update(np.array([a, b]), 0.0) == [1, 2]
    assert tr.update(np.array([[192, 100, 100, 100], [98, 100, 100, 100]]), 0.2) == [2, 1]


def test_reset_starts_numbering_again_and_trackers_are_independent() -> None:
    one, two = FaceTracker(), FaceTracker()
    one.update(np.array([[0, 0, 10, 10], [50, 50, 10, 10]]), 0.0)
    assert two.update(np.array([[50, 50, 10, 10]]), 0.0) == [1]  # no shared global state
    one.reset()
    assert one.active_ids == []
    assert one.update(np.array([[50, 50, 10, 10]]), 0.0) == [1]


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        FaceTracker(iou_threshold=0)
    with pytest.raises(ValueError):
        ProbabilitySmoother(half_life_s=-1)


def test_smoother_follows_changes_by_time_not_by_sample_count() -> None:
    a, b = np.eye(3)[0], np.eye(3)[1]
    fast, slow = ProbabilitySmoother(half_life_s=0.5), ProbabilitySmoother(half_life_s=0.5)
    np.testing.assert_allclose(fast.update(1, a, 0.0), a)
    slow.update(1, a, 0.0)
    # ten samples over 0.5 s and one sample at 0.5 s end at the same place: half way
    for i in range(1, 11):
        out_fast = fast.update(1, b, i * 0.05)
    out_slow = slow.update(1, b, 0.5)
    np.testing.assert_allclose(out_fast, out_slow, atol=1e-6)
    np.testing.assert_allclose(out_slow, [0.5, 0.5, 0.0], atol=1e-6)
    assert out_slow.sum() == pytest.approx(1.0)


def test_smoother_keeps_tracks_apart_and_restarts_after_a_gap() -> None:
    a, b = np.array([0.9, 0.1]), np.array([0.1, 0.9])
    sm = ProbabilitySmoother(half_life_s=1.0, max_gap_s=1.0)
    sm.update(1, a, 0.0)
    np.testing.assert_allclose(sm.update(2, b, 0.1), b, atol=1e-6)  # track 2 is not pulled towards track 1
    np.testing.assert_allclose(sm.update(1, b, 5.0), b, atol=1e-6)  # long gap: no memory of the old scores
    sm.reset()
    np.testing.assert_allclose(sm.update(2, a, 5.1), a, atol=1e-6)
