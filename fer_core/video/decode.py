"""Stream-decoding video clips with PyAV: sampled frames at a chosen rate, upright, never the whole clip.

Frames are picked by their own timestamps, so variable-frame-rate clips (phones, screen recordings) are
sampled evenly in time, and the display-matrix rotation that phones write is applied. Only the sampled
frames are converted to RGB (the expensive step), downscaled so the longer side is at most `max_side`.

Every way a file can fail (not a video, audio only, no frames, corrupt, too large) ends in a `VideoError`
with a message meant for the person who chose the file; damaged packets in the middle of a clip are
skipped and counted rather than ending the analysis.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Union

import av
import numpy as np

VideoSource = Union[str, Path, bytes, BinaryIO]

ANALYSIS_MAX_SIDE = 1280  # frames are analysed at most this large: faces stay > 48 px, detection stays fast
MAX_PIXELS = 8192 * 4320  # beyond 8K UHD a frame costs too much memory to decode on a small computer
MAX_BAD_PACKETS = 200  # more damaged packets than this and the file is declared unreadable
FORMATS_HINT = "MP4, WebM, MOV or AVI"


class VideoError(ValueError):
    """A clip that cannot be analysed; the message says why in plain words."""


@dataclass(frozen=True)
class VideoInfo:
    """What a clip is, read from its header (width and height as displayed, rotation applied)."""

    width: int
    height: int
    duration_s: float  # 0.0 when the container does not say
    fps: float  # average frame rate, 0.0 when unknown
    frames: int  # as declared by the container, 0 when unknown
    rotation: int  # degrees counterclockwise applied for display
    codec: str
    container: str
    has_audio: bool

    def to_json(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Frame:
    """One sampled frame: its time from the start of the clip and its upright RGB pixels."""

    t: float
    rgb: np.ndarray  # H x W x 3 uint8, at most ANALYSIS_MAX_SIDE on the longer side
    scale: float  # display pixels per pixel of `rgb` (>= 1; boxes x scale = boxes in the clip's pixels)


def _rewind(source: VideoSource) -> VideoSource:
    if isinstance(source, bytes):
        return io.BytesIO(source)
    if hasattr(source, "seek"):
        source.seek(0)
    return source


def _name(source: VideoSource) -> str:
    return Path(source).name if isinstance(source, (str, Path)) else "the file"


def open_container(source: VideoSource) -> av.container.InputContainer:
    """Open a path, bytes or file-like object (read in memory; nothing is written to disk)."""
    if isinstance(source, (str, Path)) and not Path(source).is_file():
        raise VideoError(f"{source} does not exist or is not a file.")
    try:
        return av.open(_rewind(source) if not isinstance(source, (str, Path)) else str(source), mode="r",
                       metadata_errors="ignore")
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise VideoError(f"{_name(source)} is not a video FER Lens can read: it may be damaged, incomplete (a copy "
                         f"or download that did not finish) or not a video at all. Please use an {FORMATS_HINT} "
                         "clip.") from exc


def _video_stream(container: av.container.InputContainer, source: VideoSource) -> av.VideoStream:
    if container.format.name.endswith("_pipe") or container.format.name == "image2":
        raise VideoError(f"{_name(source)} is a still picture, not a video. Use the Photo page for pictures.")
    if not container.streams.video:
        what = "only sound" if container.streams.audio else "no pictures"
        raise VideoError(f"{_name(source)} has {what}: there is no video track to look at.")
    stream = container.streams.video[0]
    cc = stream.codec_context
    if not cc.width or not cc.height:
        raise VideoError(f"{_name(source)} has a video track without a picture size; it looks damaged.")
    if cc.width * cc.height > MAX_PIXELS:
        raise VideoError(f"{_name(source)} is {cc.width}x{cc.height} pixels, larger than FER Lens can decode "
                         "(8K at most). Please export a smaller version, e.g. 1080p.")
    return stream


def _display_size(stream: av.VideoStream, rotation: int) -> tuple[int, int]:
    w, h = stream.codec_context.width, stream.codec_context.height
    sar = stream.sample_aspect_ratio
    if sar and float(sar) > 0 and abs(float(sar) - 1) > 1e-3:
        w = max(1, round(w * float(sar)))  # anamorphic storage: stretch to the shape people see
    return (h, w) if rotation % 180 else (w, h)


def _duration(container: av.container.InputContainer, stream: av.VideoStream) -> float:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return 0.0


def _rotation(frame: av.VideoFrame) -> int:
    """Display rotation in quarter turns, as degrees counterclockwise (0, 90, 180, 270)."""
    try:
        return int(round((frame.rotation or 0) / 90.0)) % 4 * 90
    except (AttributeError, ValueError, TypeError):
        return 0


def probe(source: VideoSource) -> VideoInfo:
    """Header facts of a clip after decoding its first frame; `VideoError` when it cannot be analysed."""
    with open_container(source) as container:
        stream = _video_stream(container, source)
        first = next(_decode(container, stream, source), None)
        if first is None:
            raise VideoError(f"{_name(source)} contains no video frames that could be decoded.")
        rotation = _rotation(first)
        width, height = _display_size(stream, rotation)
        rate = stream.average_rate or stream.guessed_rate
        return VideoInfo(width=width, height=height, duration_s=_duration(container, stream),
                         fps=float(rate) if rate else 0.0, frames=int(stream.frames or 0), rotation=rotation,
                         codec=stream.codec_context.name, container=container.format.name.split(",")[0],
                         has_audio=bool(container.streams.audio))


def _decode(container: av.container.InputContainer, stream: av.VideoStream, source: VideoSource,
            skip_before: Callable[[], float | None] | None = None) -> Iterator[av.VideoFrame]:
    """Every decodable frame in order, skipping damaged packets (up to MAX_BAD_PACKETS).

    `skip_before()` may return a stream time (seconds) before which no frame is wanted: packets shown
    before it are then decoded with skip_frame=NONREF, so the decoder drops the frames nothing else refers
    to (B-frames, most of a typical clip) while still decoding every frame others are predicted from. The
    frames that are output are bit-identical; sampling 5 of 30 frames a second this halves decoding."""
    bad = 0
    cc = stream.codec_context
    skipping = False
    try:
        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except av.FFmpegError:  # the container itself is broken from here on: keep what was read
                return
            if skip_before is not None:
                limit = skip_before()
                shown = packet.pts * packet.time_base if packet.pts is not None and packet.time_base else None
                skip = limit is not None and shown is not None and float(shown) < limit
                if skip != skipping:
                    cc.skip_frame, skipping = ("NONREF" if skip else "DEFAULT"), skip
            try:
                frames = packet.decode()
            except av.FFmpegError:
                bad += 1
                if bad > MAX_BAD_PACKETS:
                    raise VideoError(f"{_name(source)} is too damaged to read ({bad} broken pieces).") from None
                continue
            yield from frames
    except (MemoryError, av.FFmpegError) as exc:
        raise VideoError(f"{_name(source)} could not be decoded ({type(exc).__name__}).") from exc


def _to_rgb(frame: av.VideoFrame, display: tuple[int, int], max_side: int | None) -> tuple[np.ndarray, float]:
    """Upright RGB of one frame, scaled by libswscale so the longer side is at most max_side."""
    rotation = _rotation(frame)
    dw, dh = display
    scale = 1.0
    if max_side and max(dw, dh) > max_side:
        scale = max(dw, dh) / max_side
    out_w, out_h = max(2, round(dw / scale)), max(2, round(dh / scale))
    if rotation % 180:  # the stored frame is the display frame on its side
        out_w, out_h = out_h, out_w
    rgb = frame.to_ndarray(format="rgb24", width=out_w, height=out_h)
    if rotation:
        rgb = np.ascontiguousarray(np.rot90(rgb, k=rotation // 90))
    return rgb, scale


def iter_frames(source: VideoSource, fps: float = 5.0, max_side: int | None = ANALYSIS_MAX_SIDE,
                t_offset: float = 0.0) -> Iterator[Frame]:
    """Frames sampled every 1/fps seconds by timestamp (the first frame at or after each tick), streamed.

    `t_offset` is added to every time (for looping a clip in benchmarks). Raises `VideoError` when the
    file cannot be read or holds no frames; a clip cut short ends early with the frames it had.
    """
    if not fps or fps <= 0 or not math.isfinite(fps):
        raise ValueError("fps must be a positive number")
    with open_container(source) as container:
        stream = _video_stream(container, source)
        stream.thread_type = "SLICE"  # measured fastest here; frame threading only adds latency
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None else None
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        display = None
        tick, n = 0, 0
        timed = [start is not None]  # skipping frames is only safe while times come from timestamps

        def skip_before() -> float | None:  # half a frame of margin below the next tick
            return start + tick / fps - 0.5 / rate if timed[0] else None

        for index, frame in enumerate(_decode(container, stream, source, skip_before)):
            t = frame.time
            if t is None:  # no timestamps (some AVI): count frames instead
                timed[0] = False
                t = index / rate
            elif start is None:
                start = t
            t = max(0.0, t - (start or 0.0))
            if t + 1e-6 < tick / fps:
                continue
            display = display or _display_size(stream, _rotation(frame))
            rgb, scale = _to_rgb(frame, display, max_side)
            n += 1
            yield Frame(t + t_offset, rgb, scale)
            tick = math.floor(t * fps + 1e-6) + 1
        if n == 0:
            raise VideoError(f"{_name(source)} contains no video frames that could be decoded.")


def frame_at(source: VideoSource, t: float, max_side: int | None = ANALYSIS_MAX_SIDE) -> Frame:
    """The first frame at or after `t` seconds (the one `iter_frames` sampled there), found by seeking to
    the keyframe before it; the last frame when t is past the end."""
    with open_container(source) as container:
        stream = _video_stream(container, source)
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        tb = stream.time_base
        try:
            if tb:
                container.seek(int((max(0.0, t) + start) / tb), stream=stream, backward=True, any_frame=False)
        except av.FFmpegError:
            container.seek(0)
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        display, last = None, None
        for index, frame in enumerate(_decode(container, stream, source)):
            ft = max(0.0, (frame.time if frame.time is not None else index / rate) - start)
            last = (frame, ft)
            if ft + 1e-6 >= t:
                break
        if last is None:
            raise VideoError(f"no frame could be decoded at {t:.1f} s.")
        frame, ft = last
        display = _display_size(stream, _rotation(frame))
        rgb, scale = _to_rgb(frame, display, max_side)
        return Frame(ft, rgb, scale)
