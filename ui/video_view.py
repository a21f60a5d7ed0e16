"""How the Video page shows a clip analysis: progress with a time estimate, the frame at a chosen moment
(boxes and heatmaps), one section per face (observations, timeline, key moments) and the downloads.

The analysis itself is `fer_core.video`; pictures for a moment are decoded again from the uploaded bytes
on demand (`moment_faces`), so no frames are kept in memory between reruns. Everything heavy is memoised
per session (`session_cache.memo`)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import streamlit as st

from fer_core.detection.movements import notable
from fer_core.evaluation.uncertainty import UNCERTAIN_MARGIN, UNCERTAIN_TOP, uncertainty
from fer_core.explain.attribution import Explanation, check_faithfulness, explain
from fer_core.explain.render import caption, legend, overlay_on_photo
from fer_core.model.checkpoint import LoadedModel
from fer_core.recognizer import Recognizer
from fer_core.report import digest, ranked
from fer_core.video.analysis import Moment, VideoAnalysis, analyze_video, moment_faces
from fer_core.video.export import draw_tracks, shareable_clip, timeline_csv, timeline_json
from fer_core.video.summary import describe

from .classroom import queued
from .photo_view import show_trust_note
from .session_cache import memo
from .settings import Settings
from .video_figures import timeline_figure

TYPES = ["mp4", "m4v", "mov", "webm", "avi", "mkv"]  # what the clip uploaders accept (Video, Many clips)...
FORMATS = "MP4, M4V, MOV, WebM, AVI or MKV"  # ...and the same in words, for their labels
MAX_MB = 200  # per clip; photos keep their own, smaller limit
RATES = {1.0: "1 per second (quickest)", 2.0: "2 per second", 5.0: "5 per second (recommended)",
         10.0: "10 per second (finest, slowest)"}  # frames analysed per second of video
MAX_MINUTES = 30  # longer clips: the first 30 minutes are analysed (a few minutes of work on 2 cores)
TIME_KEY = "video_t"
FRAME_DISPLAY_PX = 300  # about how wide the frame viewer's pictures are shown (a third of the page)
SHARE_KEY = "_video_share"  # the blurred copy made in this session, with the clip and settings it belongs to
# Under each face's timeline. The thresholds are the app's one "uncertain" rule (fer_core.evaluation.uncertainty),
# as the chart shades them: never a number of its own.
TIMELINE_CAPTION = (
    "Top: the share of each expression in the model's reading, over time (smoothed; it adds up to 100%). "
    "Bottom: how sure the model is, as its top score: the line is smoothed, the dots are single frames; below "
    f"{UNCERTAIN_TOP:.0%} (shaded) the reading is unsure"
    + (f", as it is when the second expression is less than {UNCERTAIN_MARGIN * 100:.0f} points behind"
       if UNCERTAIN_MARGIN > 0 else "")
    + ". Grey: the face is not in view. ▼ key moments; the dashed line is the moment shown above.")


def _clock(seconds: float) -> str:
    """m:ss for progress and durations."""
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _when(t: float) -> str:
    """A moment in the clip, to a tenth of a second: "12.4 s" or "3:05.2"."""
    if t < 60:
        return f"{t:.1f} s"
    return f"{int(t // 60)}:{t % 60:04.1f}"


# ---- computing, memoised per session ----------------------------------------------------------------------

@dataclass(frozen=True)
class Clip:
    """An uploaded clip: its bytes (in memory only) and their hash, computed once per upload (hashing a
    200 MB clip on every rerun would cost a noticeable fraction of a second)."""

    name: str
    data: bytes = field(repr=False)
    digest: str

    @classmethod
    def from_upload(cls, upload) -> "Clip":
        data = upload.getvalue()
        key = (getattr(upload, "file_id", None) or upload.name, len(data))
        return cls(upload.name, data, memo("video_digests", key, lambda: digest(data), max_items=4))


def analysis(recognizer: Recognizer, clip: Clip, fps: float) -> VideoAnalysis:
    """`analyze_video` on the uploaded bytes (in memory), with a progress bar and time estimate; reused
    across reruns for the same clip, rate and face finder. Raises `VideoError` for unusable files."""
    key = (clip.digest, fps, recognizer.detector.name)

    def compute() -> VideoAnalysis:
        bar = st.progress(0.0, text="Opening the clip…")
        start = time.perf_counter()
        last = [0.0]

        def progress(t: float, total: float) -> None:
            now = time.perf_counter()
            if now - last[0] < 0.25 and t < total:  # redraw four times a second, not per frame
                return
            last[0] = now
            total = min(total, MAX_MINUTES * 60) if total else 0.0
            share = min(1.0, t / total) if total else 0.0
            elapsed = now - start
            eta = elapsed * (total - t) / t if t > 0 and total else None
            text = f"Analysing the clip… {_clock(t)} of {_clock(total)}"
            if eta is not None and share < 1:
                text += f" · about {_clock(eta)} left"
            bar.progress(share, text=text)

        try:
            return analyze_video(clip.data, recognizer, fps=fps, progress=progress, max_s=MAX_MINUTES * 60,
                                 workers=2)
        finally:
            bar.empty()

    return memo("videos", key, queued(compute, "the clip"), max_items=2)


def moment(clip: Clip, result: VideoAnalysis, t: float) -> Moment:
    """The frame at t with its faces, decoded again; only a few are kept (frames are large)."""
    key = (clip.digest, result.fps, result.settings.get("detector"), round(result.nearest_time(t), 3))
    return memo("video_moments", key, lambda: moment_faces(clip.data, result, t), max_items=4)


def thumbnail(clip: Clip, result: VideoAnalysis, t: float, track: int):
    """The aligned crop of one face at t (112 px), for the key-moment gallery; None if it is not there."""
    key = (clip.digest, result.fps, result.settings.get("detector"), round(result.nearest_time(t), 3), track)
    return memo("video_thumbs", key, lambda: moment_faces(clip.data, result, t).face(track), max_items=96)


def heatmap(model: LoadedModel, clip: Clip, m: Moment, track: int, method: str) -> Explanation:
    """The explanation of one face's top (smoothed) expression at one moment, memoised."""
    face = m.face(track)
    return memo("video_explanations", (clip.digest, round(m.t, 3), track, method),
                queued(lambda: explain(model, face.crop, method, face.label)), max_items=64)


def checked_heatmap(model: LoadedModel, clip: Clip, m: Moment, track: int, method: str) -> Explanation:
    """The same explanation with its trust check (a few dozen extra model passes on the map already drawn)."""
    return memo("video_checked_explanations", (clip.digest, round(m.t, 3), track, method),
                queued(lambda: check_faithfulness(model, m.face(track).crop, heatmap(model, clip, m, track, method)),
                       "the trust check"), max_items=64)


# ---- pieces of the page -----------------------------------------------------------------------------------

def show_notice() -> None:
    st.warning(
        "**Responsible use.** FER Lens describes **visible facial expressions**: how much a face looks like "
        "faces that people labelled happy, sad and so on. It does **not** measure feelings, attention or "
        "engagement, and it is often wrong.\n"
        "- Use it only with the **consent of the people filmed** (for children, of their parents or guardians), "
        "and never to judge, grade or monitor anyone.\n"
        "- The EU AI Act, **Article 5(1)(f)**, prohibits AI systems that infer the emotions of people in "
        "workplaces and education institutions, except for medical or safety reasons. Reviewing your own "
        "recorded teaching for research, with consent, is the kind of use FER Lens is meant for.",
        icon=":material/gavel:")


def show_overview(result: VideoAnalysis, name: str) -> None:
    info = result.info
    n = len(result.tracks)
    size = f"{info.width}x{info.height}, {info.fps:.0f} fps" if info else ""
    st.success(f"**{name}** ({size}): {n} face{'s' if n != 1 else ''} followed through "
               f"{result.duration_s:.1f} s of video; {len(result.frame_times)} frames analysed "
               f"({result.fps:g} per second) in {result.elapsed_s:.1f} s.", icon=":material/check_circle:")
    if result.cut_short:
        st.warning(f"This clip is longer than {MAX_MINUTES} minutes: only the first {MAX_MINUTES} minutes were "
                   "analysed. Cut the clip into parts to look at the rest.", icon=":material/content_cut:")
    if result.dropped_tracks:
        st.caption(f"{result.dropped_tracks} brief detection{'s' if result.dropped_tracks > 1 else ''} "
                   "(seen for less than half a second) left out.")
    if not n:
        st.warning("No face was found in this clip. Faces should be upright, well lit and not too small "
                   "(at least about 40 pixels across). You could also try the other face finder in the sidebar.",
                   icon=":material/search_off:")


def show_moment_viewer(result: VideoAnalysis, clip: Clip, model: LoadedModel, settings: Settings) -> float:
    """A time slider and the frame at that time with boxes, next to the same frame with heatmaps.
    Returns the chosen time (for the marker on the timelines)."""
    step = 1.0 / result.fps
    last = float(result.frame_times[-1]) if len(result.frame_times) else 0.0
    if last <= 0:
        t = 0.0
    else:
        if st.session_state.get(TIME_KEY, 0.0) > last:
            st.session_state[TIME_KEY] = 0.0
        t = st.slider("Time in the clip (seconds): drag, or pick a key moment below", 0.0, last, step=step,
                      key=TIME_KEY, format="%.1f s")
    try:
        m = moment(clip, result, t)
    except ValueError as exc:
        st.warning(f"This moment could not be shown ({exc}).")
        return t
    left, middle, right = st.columns([1, 1, 0.9], gap="medium")
    boxes = draw_tracks(m.rgb, [s for s, _ in m.faces], result.labels, m.scale, display_width=FRAME_DISPLAY_PX)
    n = len(m.faces)
    left.image(boxes, width="stretch",
               caption=f"At {_when(m.t)}: " + (f"{n} face{'s' if n > 1 else ''}, each box coloured by its "
                                                "expression (smoothed over the last moments)"
                                                if n else "no face found in this frame"),
               alt=f"The clip at {_when(m.t)}" + (": " + "; ".join(f"face {s.track}, {face.label} "
                                                                  f"{face.confidence:.0%}" for s, face in m.faces)
                                                  if n else ", with no face found"))
    if not n:
        return t
    pairs, slots = [], []
    with right:
        for s, face in m.faces:
            unsure = uncertainty(face.probs)
            st.markdown(f"**Face {s.track}: {face.label} {face.confidence:.0%}**"
                        + (" :orange-badge[:material/help: uncertain]" if unsure else ""))
            moved = [words for _, _, words in notable(s.movements)]
            st.caption(" · ".join(f"{c} {v:.0%}" for c, v in ranked(face.probs)[:3])
                       + (f". Uncertain: {unsure}." if unsure else "")
                       + (f" Measured on the face: {'; '.join(moved)}." if moved else ""))
            try:
                expl = heatmap(model, clip, m, s.track, settings.method.name)
            except Exception as exc:  # an explanation failing must not take the page down
                st.caption(f"The heatmap could not be computed ({exc}).")
                continue
            pairs.append((face, expl))
            st.markdown(caption(expl, s.movements))
            slot = st.empty()
            slot.caption(":material/hourglass_top: Checking how far to trust this map…")
            slots.append((slot, s.track))
    if pairs:
        middle.image(overlay_on_photo(m.rgb, pairs), width="stretch",
                     caption=f"{settings.method.title} heatmaps: warm colours mark the parts of each face "
                             "that drove its score most.",
                     alt=f"The clip at {_when(m.t)} with {settings.method.title} heatmaps over its faces")
        middle.image(legend(220, 40, low="weak", high="strong"), width=220,
                     alt="Colour scale of the heatmaps, from weak (blue) to strong (red)")
    for slot, track in slots:  # after the pictures are up: the check is the slow part
        try:
            show_trust_note(slot, checked_heatmap(model, clip, m, track, settings.method.name))
        except Exception as exc:
            slot.caption(f"The trust check could not run ({exc}).")
    return t


def _jump(t: float) -> None:
    st.session_state[TIME_KEY] = t


def show_face(result: VideoAnalysis, track: int, clip: Clip, current_t: float) -> None:
    """Observations, the timeline and the key moments of one face."""
    summary = result.summaries[track]
    times, probs, raw = result.arrays(track)
    st.markdown("\n".join(f"- {line}" for line in describe(summary)))
    moments = [mo for mo in result.moments if mo.track == track]
    st.plotly_chart(timeline_figure(times, probs, raw, result.labels, 1.0 / result.fps, result.duration_s,
                                    moments, current_t), key=f"timeline-{track}",
                    config={"displayModeBar": False})
    st.caption(TIMELINE_CAPTION)
    if not moments:
        st.caption("No key moments: the expression stays the same and no other expression peaks.")
        return
    st.markdown("**Key moments** (peaks and changes of expression). Pick one to look at it above:")
    per_row = 4  # wide enough for each "Show 12.4 s" button at 768 px
    for row in range(0, len(moments), per_row):
        cols = st.columns(per_row)
        for col, mo in zip(cols, moments[row: row + per_row]):
            with col:
                try:
                    face = thumbnail(clip, result, mo.t, track)
                except ValueError:
                    face = None
                if face is not None:
                    st.image(face.crop, width=96, alt=f"Face {track} at {_when(mo.t)}: {mo.title}")
                st.markdown(f"**{_when(mo.t)}** · {mo.title}")
                st.button(f"Show {_when(mo.t)}", key=f"moment-{track}-{mo.t:.3f}", on_click=_jump, args=(mo.t,),
                          icon=":material/arrow_upward:", help="Show this moment in the frame viewer above")


def show_downloads(result: VideoAnalysis, clip: Clip) -> None:
    """CSV and JSON of the timeline, and a face-blurred annotated clip, all built in memory on request."""
    name = clip.name
    stem = name.rsplit(".", 1)[0]
    st.caption("Save the timeline (one row per analysed frame and face, with every expression's score), made on "
               "this computer when you click:")
    c1, c2, _ = st.columns([1, 1, 1])
    c1.download_button("Timeline as a table (CSV)", lambda: timeline_csv(result), f"{stem}-timeline.csv",
                       "text/csv", on_click="ignore", icon=":material/table:", key="dl-video-csv", width="stretch")
    c2.download_button("Timeline and summary (JSON)", lambda: timeline_json(result, name), f"{stem}-timeline.json",
                       "application/json", on_click="ignore", icon=":material/data_object:", key="dl-video-json",
                       width="stretch")
    # A plain bordered box, not an expander: an expander closed itself on the button's rerun, hiding the
    # copy until it was reopened.
    with st.container(border=True, key="share-box"):
        st.markdown("**:material/blur_on: Share a face-blurred copy**")
        st.markdown("A short MP4 of the analysed frames with every face FER Lens found **pixelated** and labelled "
                    "with its expression. Faces the face finder missed are *not* blurred: watch it through "
                    "before sharing it.")
        key = ("share", clip.digest, result.fps, result.settings.get("detector"))
        made = st.session_state.get(SHARE_KEY) if st.session_state.get(f"{SHARE_KEY}_key") == key else None
        button = st.empty()
        if made is None and button.button("Make the blurred copy", icon=":material/movie:", key="make-share"):
            button.empty()  # made once: the copy takes the button's place
            with st.spinner("Making the blurred copy…"):
                made = shareable_clip(clip.data, result)
            st.session_state[SHARE_KEY], st.session_state[f"{SHARE_KEY}_key"] = made, key
        if made:
            st.video(made, format="video/mp4", width=480,
                     alt=f"{name}, every face found pixelated and labelled with its expression")
            st.download_button("Download the blurred copy (MP4)", made, f"{stem}-blurred.mp4", "video/mp4",
                               on_click="ignore", icon=":material/download:", key="dl-video-share")

