"""How the Webcam page streams and shows live results: the streamlit-webrtc player, the live panel (speed,
labels, a rolling chart per face), the personal baseline, and "freeze and explain" with the Photo page's
cards. The frame work itself is `fer_core.video.live.LiveProcessor`, one per browser session.

The player runs `LiveProcessor.process` on streamlit-webrtc's worker thread for every frame; this module
only ever talks to the processor through its locked methods, on Streamlit's own threads.
"""
from __future__ import annotations

import json
import os
import time

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from streamlit.logger import get_logger
from streamlit_webrtc import WebRtcMode, webrtc_streamer
from streamlit_webrtc.component import generate_frontend_component_key
from streamlit_webrtc.session_info import get_script_run_count, get_this_session_info

from fer_core.labels import hex_color
from fer_core.reading_order import reading_order
from fer_core.recognizer import Recognizer
from fer_core.report import PhotoResult, digest
from fer_core.video.live import BASELINE_S, HISTORY_S, READING_EVERY_S, LiveProcessor, LiveStatus, freeze_heap

from .settings import technical

STREAM_KEY = "webcam-stream"
PROCESSOR_KEY = "_webcam_processor"
SNAPSHOT_KEY = "_webcam_snapshot"
SCROLL_KEY = "_webcam_scroll_to_frozen"  # set by "freeze": the next run scrolls the frozen frame into view
FROZEN_ANCHOR = "frozen-frame"
FAST_KEY = "_webcam_fast"  # the quicker-engine choice, kept while the switch is hidden
ICE_ENV = "FER_LENS_ICE_SERVERS"
REFRESH_S = READING_EVERY_S  # the live panel redraws (and takes the video's reading) twice a second
MAX_CHARTS = 3  # charts for the largest faces in view
FRESH_S = 2.0  # a processor with no frame for this long is not streaming
SLOW_CONNECT_S = 8.0  # connecting for this long: the note says the computer is busy
CONNECTING_KEY = "webcam-connecting-since"  # when this session's panel first said "Connecting…"
IDLE_REFRESH_S = 1.0  # the panel looks for frames this often while the player says the camera is off

log = get_logger(__name__)

CAMERA_MESSAGES = {  # shown inside the player, followed by the browser's own wording in brackets
    "start": "Start",
    "stop": "Stop",
    "device_access_denied": "Camera access was refused. Allow the camera for this site (the camera icon in the "
                            "address bar), then press Start again",
    "device_not_available": "No camera could be opened. Plug one in, or close other programs that use it, "
                            "then press Start again",
    "media_api_not_available": "This browser cannot use a camera on this page. Open FER Lens at "
                               "http://localhost on this computer, or serve it over HTTPS",
    "device_ask_permission": "Please allow FER Lens to use your camera",
}
CAMERA_HELP = ("**Camera not starting?** *NotAllowedError* on the player means the browser was told not to share "
               "the camera: allow it with the camera icon in the address bar, then press Start again. "
               "*NotFoundError* or *NotReadableError*: no camera was found, or another program is using it.")
MEDIA_CONSTRAINTS = {"video": {"width": {"ideal": 640}, "height": {"ideal": 480}, "frameRate": {"ideal": 30}},
                     "audio": False}
VIDEO_ATTRS = {"autoPlay": True, "muted": True, "playsInline": True, "controls": False,
               "style": {"width": "100%", "borderRadius": "0.5rem"}}


# ---- configuration ---------------------------------------------------------------------------------------

def ice_servers(raw: str | None = None) -> tuple[list[dict], str | None]:
    """STUN/TURN servers from $FER_LENS_ICE_SERVERS (JSON: a list of RTCIceServer objects, or
    {"iceServers": [...]}); none by default, which is right for a browser on the same computer.
    Returns (servers, problem): a malformed value gives no servers and says why."""
    raw = os.environ.get(ICE_ENV, "") if raw is None else raw
    if not raw.strip():
        return [], None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        return [], f"{ICE_ENV} is not valid JSON ({exc.msg} at character {exc.pos})"
    servers = value.get("iceServers") if isinstance(value, dict) else value
    if not isinstance(servers, list) or not all(isinstance(s, dict) and s.get("urls") for s in servers):
        return [], (f'{ICE_ENV} should be a JSON list like [{{"urls": ["stun:stun.example.org:3478"]}}], '
                    'each server with "urls" (and "username" and "credential" for TURN)')
    return servers, None


def rtc_configuration() -> dict:
    servers, problem = ice_servers()
    if problem:
        st.warning(f"The STUN/TURN setting is ignored: {problem}. Streaming works on this computer only.",
                   icon=":material/settings_ethernet:")
    return {"iceServers": servers}


# ---- per-session objects ---------------------------------------------------------------------------------

@st.cache_resource(show_spinner=False)
def _heap_frozen() -> bool:
    """Once per server process, after the model is loaded: see `freeze_heap` (no GC pauses in the video)."""
    freeze_heap()
    return True


def session_processor(recognizer: Recognizer) -> LiveProcessor:
    """This browser session's processor, made on first use; every session shares the recognizer's model."""
    _heap_frozen()
    processor = st.session_state.get(PROCESSOR_KEY)
    if processor is None:
        processor = st.session_state[PROCESSOR_KEY] = LiveProcessor(recognizer)
    else:
        processor.use(recognizer)
    return processor


def keep_live_context(key: str = STREAM_KEY) -> bool:
    """Stop streamlit-webrtc 0.79 from resetting a stream that is in fact on screen.

    Before each run it compares Streamlit's `script_run_count` with the count of the run that last drew the
    player; a gap is meant to mean "the visitor went to another page and came back", and it then tears the
    stream down. But that count is raised only when a finished run's message is *sent*, so in the burst of
    reruns while a connection is set up it can lag and then jump by two, and a live stream is killed (about
    1 connection in 10; it stops ~5 s later and Start reappears). Whether the player really was away is
    known better from its own widget value: Streamlit drops the values of widgets a full run did not draw.
    When that value is still there, the player was drawn in the last run, so the check is switched off
    for this run. Returns True when it was."""
    context = st.session_state.get(key)
    last = getattr(context, "_last_rendered_run_count", None)
    if last is None:
        return False
    if st.session_state.get(generate_frontend_component_key(key)) is None:
        return False  # really away: let streamlit-webrtc reset the stale stream
    context._last_rendered_run_count = None
    info = get_this_session_info()
    if info is not None and get_script_run_count(info) > last + 1:
        log.info("Kept the webcam stream that streamlit-webrtc would have reset as stale (run count %d -> %d)",
                 last, get_script_run_count(info))
    return True


def camera_on(player_playing: bool, processor: LiveProcessor) -> bool:
    """Whether the camera streams: the player says so, or its frames are arriving already."""
    return player_playing or processor.seconds_since_frame() < FRESH_S


def stream(processor: LiveProcessor):
    """The camera player; frames go through `processor.process` (async: a slow frame is dropped, not queued)."""
    keep_live_context(STREAM_KEY)
    return webrtc_streamer(
        key=STREAM_KEY, mode=WebRtcMode.SENDRECV, rtc_configuration=rtc_configuration(),
        media_stream_constraints=MEDIA_CONSTRAINTS, video_frame_callback=processor.process,
        on_video_ended=processor.end_stream, async_processing=True, sendback_audio=False,
        video_html_attrs=VIDEO_ATTRS, translations=CAMERA_MESSAGES)


# ---- the live panel --------------------------------------------------------------------------------------

def history_figure(times: np.ndarray, scores: np.ndarray, labels: tuple[str, ...], title: str,
                   legend: bool = True) -> go.Figure:
    """Every expression's score over the last seconds, one line per expression in its colour."""
    fig = go.Figure()
    for k, name in enumerate(labels):
        fig.add_trace(go.Scatter(x=times, y=scores[:, k], mode="lines", name=name,
                                 line=dict(color=hex_color(name), width=2.5 if k == int(scores[-1].argmax()) else 1.5),
                                 hovertemplate=f"{name}: %{{y:.0%}}<extra></extra>"))
    fig.update_layout(title=dict(text=title, font=dict(size=14)), height=240, margin=dict(l=0, r=0, t=34, b=0),
                      xaxis=dict(range=[-HISTORY_S, 0], title=None, ticksuffix=" s", zeroline=False),
                      yaxis=dict(range=[0, 1], tickformat=".0%", title=None),
                      showlegend=legend, legend=dict(font=dict(size=11), itemclick=False, itemdoubleclick=False),
                      uirevision="live")
    return fig


def _speed(status: LiveStatus, streaming: bool) -> None:
    (a, b), (c, d) = st.columns(2), st.columns(2)
    a.metric("Frames analysed", f"{status.frames:,}", help="Camera frames that went through face finding and "
             "recognition since this page was opened.")
    b.metric("Analysed per second", f"{status.fps:.0f}" if streaming else "–",
             help="How many frames per second get boxes and labels. When the computer is busy, frames are "
                  "skipped rather than queued, so the picture never falls behind.")
    d.metric("Faces in view", str(len(status.faces)) if streaming else "–")
    if technical():
        c.metric("Added delay", f"{status.delay_ms:.0f} ms" if streaming else "–",
                 help="How much later a frame is shown than the camera took it, for finding and reading the faces "
                      f"(average over 2 s; 95% of frames within {status.delay_p95_ms:.0f} ms).")


def _baseline_line(status: LiveStatus) -> None:
    b = status.baseline
    if b.phase == "recording":
        st.progress(b.progress, text="Recording your resting face… keep a relaxed face and look at the camera.")
    elif b.phase == "ready":
        st.caption(":material/person_check: Your resting face is recorded: the largest face's scores are "
                   "measured from it (marked with * on the video).")
    elif b.phase == "failed":
        st.warning(b.message, icon=":material/person_off:")


def _faces(status: LiveStatus) -> None:
    if not status.faces:
        st.info("No face in view. Face the camera in good light, not too far away.", icon=":material/search_off:")
        return
    shown = sorted(status.faces, key=lambda f: -f.area)[:MAX_CHARTS]
    crowd = len(status.faces) > MAX_CHARTS
    more = f"{len(status.faces)} faces in view; charts for the {MAX_CHARTS} largest. " if crowd else ""
    st.caption(f"{more}This panel and the labels on the video show the same reading, renewed twice a second.")
    for i, face in enumerate(shown):
        note = " (measured from your resting face)" if face.relative else ""
        st.markdown(f"**{face.reading_text}**{note}")
        series = status.history.get(face.track_id)
        if series is not None and len(series[0]) >= 2:
            st.plotly_chart(history_figure(*series, status.labels, f"Face {face.track_id}, last "
                                           f"{HISTORY_S:.0f} seconds", legend=i == 0),
                            key=f"live-chart-{face.track_id}", config={"displayModeBar": False, "staticPlot": True})


def _connecting() -> None:
    """The camera is on but no frame has been analysed lately. On a busy computer (a class sharing one laptop)
    that can last long enough to look broken, so after a while the note says why and what to do meanwhile."""
    since = st.session_state.setdefault(CONNECTING_KEY, time.monotonic())
    st.info("Connecting to the camera…", icon=":material/hourglass_top:")
    if time.monotonic() - since >= SLOW_CONNECT_S:
        st.caption("This computer is busy, so the video can take a minute to come through. Keep this page open; "
                   "the Photo page works meanwhile.")


def _panel(processor: LiveProcessor, page_playing: bool, player_playing: bool | None) -> None:
    status = processor.status()
    # Frames arriving mean the camera is on, even before the player's "playing" reaches the page: on a busy
    # server that rerun can come many seconds after the first frames, and the panel should not say "Press Start".
    playing = player_playing is not None and camera_on(player_playing, processor)
    # A class session refused the stream: the whole page says why, without a player. Or the camera came on or
    # went off since the page ran: its controls and this panel's redraw rate follow.
    if playing and status.refused or playing != page_playing:
        st.rerun(scope="app")
    streaming = playing and status.last_frame_age_s < FRESH_S
    if playing and not streaming:
        _connecting()
    else:
        st.session_state.pop(CONNECTING_KEY, None)
    if not playing and status.frames == 0:
        st.info("Press **Start** under the video to turn on your camera. The browser asks for permission "
                "the first time.", icon=":material/videocam:")
        st.caption(CAMERA_HELP)
        return
    _speed(status, streaming)
    if status.error:
        st.warning(f"A frame could not be analysed ({status.error}); the stream carries on.",
                   icon=":material/warning:")
    _baseline_line(status)
    if streaming:
        _faces(status)
    else:
        st.caption("The camera is off. Press Start to go on.")
        st.caption(CAMERA_HELP)


def live_panel(processor: LiveProcessor, playing: bool, player_playing: bool | None) -> None:
    """Speed, labels and charts, redrawn every REFRESH_S while the camera is on (`playing`, from `camera_on`;
    only this part reruns), and every IDLE_REFRESH_S while it is off, to notice frames that come before the
    player's own state (`player_playing`; None: no player on the page) reaches the page."""
    every = REFRESH_S if playing else None if player_playing is None else IDLE_REFRESH_S
    st.fragment(_panel, run_every=every)(processor, playing, player_playing)


# ---- controls --------------------------------------------------------------------------------------------

def fast_engine_toggle() -> bool:
    """Whether the live stream runs on the model's int8 twin (on by default: the webcam is the real-time case).
    The switch shows with the technical details only; hidden, the last choice (or on) stands."""
    if not technical():
        return bool(st.session_state.get(FAST_KEY, True))
    st.session_state.setdefault("webcam-int8", st.session_state.get(FAST_KEY, True))
    on = st.toggle("Quicker live view (int8 engine)", key="webcam-int8",
                   help="Runs the live view on an 8-bit copy of the same model through ONNX Runtime: "
                        "3 to 6 times quicker per face, with nearly the same test accuracy. Frozen frames and "
                        "heatmaps always use the full-precision model.")
    st.session_state[FAST_KEY] = on
    return on


def controls(processor: LiveProcessor, recognizer: Recognizer, playing: bool) -> None:
    """Smoothing, the personal baseline and "freeze and explain", under the video."""
    smooth = st.toggle("Smooth the scores over time", value=True, key="webcam-smoothing",
                       help="Averages each face's scores over about half a second (older frames count less), "
                            "so a blink or one odd frame does not make the label jump. Turn it off to see "
                            "every frame's own scores.")
    processor.set_smoothing(smooth)
    if st.button("Freeze this frame and explain", icon=":material/photo_camera:", key="webcam-freeze",
                 type="primary", disabled=not playing, width="stretch"):
        freeze(processor, recognizer)
    with st.expander("Your resting face (optional)", icon=":material/person:"):
        st.markdown(
            "Some faces look a little sad, stern or surprised even when relaxed, and the model reads that as "
            "an expression. Look at the camera with a relaxed face and press the button: FER Lens watches for "
            f"{BASELINE_S:.0f} seconds and remembers how your face scores at rest.\n\n"
            "From then on the largest face in view (normally yours) is **measured from your resting face**: an "
            "expression counts only as far as it scores *above* your resting face, and the rest counts as "
            "neutral. So your relaxed face reads neutral, and a smile still reads as happiness. Its label gets "
            "a * on the video.\n\n"
            "Nothing is saved: the baseline is 8 numbers, kept only while this tab is open.")
        a, b = st.columns(2)
        if a.button(f"Record my resting face ({BASELINE_S:.0f} s)", icon=":material/radio_button_checked:",
                    key="webcam-baseline", disabled=not playing, width="stretch"):
            processor.record_baseline(BASELINE_S)
        if b.button("Forget it", icon=":material/delete:", key="webcam-baseline-clear", width="stretch"):
            processor.clear_baseline()


# ---- freeze and explain ----------------------------------------------------------------------------------

def freeze(processor: LiveProcessor, recognizer: Recognizer) -> None:
    """Keep the latest frame in this session, analysed as the Photo page does (with the mirrored pass),
    on the faces the live view had found. Explanations run later, on the page, never in the stream."""
    snap = processor.freeze()
    if snap is None:
        st.warning("No frame has arrived yet: wait for the picture, then try again.",
                   icon=":material/hourglass_top:")
        return
    dets = [snap.detections[i] for i in reading_order([d.box for d in snap.detections])]  # as on the Photo page
    faces = recognizer.analyze_rgb(snap.rgb, dets) if dets else []
    st.session_state[SNAPSHOT_KEY] = PhotoResult(name=f"webcam-{time.strftime('%H%M%S')}.png",
                                                 digest=digest(snap.rgb.tobytes()), rgb=snap.rgb, faces=faces)
    st.session_state[SCROLL_KEY] = True


SCROLL_JS = """<script>
(() => {  // bring the frozen frame's heading into view once it is on the page (it is drawn below the fold)
  let tries = 0;
  const go = () => {
    const el = document.getElementById("%s");
    if (el) { el.scrollIntoView({block: "start"}); return; }
    if (++tries < 40) setTimeout(go, 50);
  };
  go();
})();
</script>""" % FROZEN_ANCHOR


def scroll_to_frozen() -> None:
    """After "freeze", scroll the page to the frozen frame: it is far below the button, and a result out of
    sight looks as if nothing happened. Only on the run right after the click."""
    if st.session_state.pop(SCROLL_KEY, False):
        st.html(SCROLL_JS, unsafe_allow_javascript=True, width="content")


def frozen() -> PhotoResult | None:
    return st.session_state.get(SNAPSHOT_KEY)


def discard_button() -> None:
    if st.button("Discard the frozen frame", icon=":material/delete:", key="webcam-discard"):
        st.session_state.pop(SNAPSHOT_KEY, None)
        st.rerun()
