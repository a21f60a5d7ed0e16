"""A class session on the pages (`fer-lens serve --classroom`; the rules are in `fer_core.classroom`).

- `gate()`, called by app.py before any page: a pupil's browser sees only the code form until it has entered
  the code; the teacher's browser (on this computer) goes straight in and gets the class panel in the sidebar.
- `heavy_turn()`: heavy work waits its turn in the server's one queue, with "N ahead of you" on the page.
- `webcam_gate()`: the live-stream cap, checked on the Webcam page and on every frame.

Off a class session (plain `streamlit run app.py`, localhost only) the gate lets everyone in and draws
nothing; the queue still takes turns, which a lone visitor never notices.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterator

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from fer_core.classroom.access import WRONG_CODE_DELAY_S, classroom, is_teacher
from fer_core.classroom.streams import STREAM_SLOTS
from fer_core.classroom.work_queue import HEAVY_WORK

# While the teacher's stream is live, a pupil's stream analyses at most 10 frames a second (the others show the
# last boxes), so the teacher's keeps its pace on 2 cores (measured: `python -m tests.classroom.load_test`).
PUPIL_INTERVAL_WITH_TEACHER_S = 0.1


def session_id() -> str:
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else ""


def visitor_host() -> str | None:
    """The host name this browser opened (from its Host header)."""
    return st.context.headers.get("Host")


def visitor_is_teacher() -> bool:
    """The browser on this computer that opened localhost is the teacher's."""
    return is_teacher(st.context.ip_address, visitor_host())


def pupil() -> bool:
    """A pupil's browser in a class session (not the teacher's, and not a plain local run)."""
    return classroom().enabled and not visitor_is_teacher()


def gate() -> bool:
    """True when this browser may use the app now (the teacher's also gets the class panel). Otherwise the
    entry script runs `code_form` as its only page."""
    room = classroom()
    if not room.enabled:
        return True
    if visitor_is_teacher():
        teacher_panel()
        return True
    if not room.needs_code(st.context.ip_address, visitor_host(), session_id()):
        return True
    return False


def code_form() -> None:
    room = classroom()
    st.title("FER Lens: class session")
    st.write("Enter the code shown on your teacher's screen to join.")
    form, _ = st.columns([2, 3])
    with form.form("class-code", border=True):
        typed = st.text_input("Class code", max_chars=12, placeholder="6 letters and digits", key="class-code-typed")
        sent = st.form_submit_button("Join", type="primary", icon=":material/login:")
    if sent:
        verdict = room.try_code(st.context.ip_address, session_id(), typed)
        if verdict.admitted:
            st.rerun()
        if not verdict.wait_s:  # a wrong code is answered only after a pause: guessing stays slow
            time.sleep(WRONG_CODE_DELAY_S)
        form.error(verdict.message, icon=":material/lock:")
    st.caption("🔒 FER Lens runs on your teacher's computer. Photos and camera frames go only there, are analysed "
               "in memory and never saved.")


def teacher_panel() -> None:
    """The class panel on the teacher's screen: the address and its QR code, the code, who is in, and the button
    that ends every pupil's session."""
    room = classroom()
    with st.sidebar.expander("Class session", icon=":material/groups:", expanded=True):
        if room.url:
            st.markdown(f"Pupils open **{room.url}**")
            try:
                from fer_core.classroom.qr import qr_png

                st.image(qr_png(room.url), width=180, caption="Scan to open FER Lens",
                         alt=f"QR code for {room.url}")
            except Exception as exc:  # noqa: BLE001 - the address above still works without the picture
                st.caption(f"(No QR code: {exc})")
        st.markdown(f"### Class code: :blue[{room.current_code()}]")  # big enough to read off a projector
        st.caption("Pupils type it once. Your own browser, on this computer at localhost, needs none.")
        certificate = st.get_option("server.sslCertFile")
        if certificate:
            with st.popover("What pupils' browsers will say", icon=":material/security:"):
                from fer_core.classroom.certificate import CERTIFICATE_HELP, fingerprint

                st.markdown(CERTIFICATE_HELP)
                try:
                    st.caption(f"This laptop's certificate fingerprint (SHA-256): `{fingerprint(certificate)}`")
                except (OSError, ValueError) as exc:
                    st.caption(f"(The certificate could not be read: {exc})")
        _class_status()
        if st.button("End every pupil's session", icon=":material/logout:", key="end-class"):
            room.end_every_pupil_session()
            STREAM_SLOTS.release_pupils()
            st.toast("Every pupil is back at the code form. The new code is shown here.", icon=":material/lock:")
            st.rerun()


@st.fragment(run_every=5)
def _class_status() -> None:
    """Who is in, renewed every few seconds on the teacher's screen."""
    _, waiting = HEAVY_WORK.busy()
    _, pupil_streams = STREAM_SLOTS.live()
    pupils = classroom().pupils_in(Runtime.instance().is_active_session)
    st.caption(f"{pupils} pupil{'' if pupils == 1 else 's'} in · {pupil_streams} of {STREAM_SLOTS.pupil_cap} pupil "
               f"webcams live · {waiting} heatmap job{'' if waiting == 1 else 's'} waiting")


@contextmanager
def heavy_turn(what: str = "your heatmaps") -> Iterator[None]:
    """Run the body when the server's heavy-work queue reaches this visitor; meanwhile say how many are ahead."""
    note = st.empty()

    def waiting(ahead: int) -> None:
        if ahead:
            note.info(f":material/hourglass_top: The computer is busy: {ahead} ahead of you. "
                      f"FER Lens starts {what} as soon as it is your turn.")
        else:
            note.empty()

    with HEAVY_WORK.turn(session_id(), teacher=visitor_is_teacher(), on_wait=waiting):
        yield


def queued(work: Callable[[], object], what: str = "your heatmaps") -> Callable[[], object]:
    """`work`, wrapped to run in its turn (for memoised computations: only a cache miss waits)."""
    def run():
        with heavy_turn(what):
            return work()
    return run


def live_webcams(cap: int) -> str:
    """The over-cap sentence, in words that fit any cap."""
    return (f"{'A pupil' if cap == 1 else f'{cap} pupils'} in the class {'is' if cap == 1 else 'are'} using the "
            f"webcam already, as many as this computer can follow smoothly.")


def webcam_gate() -> tuple[bool, Callable[[], str | None] | None, Callable[[], float] | None]:
    """(whether this browser may start a stream now, the per-frame check for its processor, the seconds its
    stream leaves between analysed frames: a pupil's slows down while the teacher's stream is live). Off a class
    session: (True, None, None), so the webcam's hot path runs no check at all."""
    room = classroom()
    if not room.enabled:
        return True, None, None
    sid, teacher = session_id(), visitor_is_teacher()

    def per_frame() -> str | None:
        if not teacher and not room.is_admitted(sid):
            return "The class session has ended. Reload the page and enter the new code."
        if not STREAM_SLOTS.claim(sid, teacher):
            return f"{live_webcams(STREAM_SLOTS.pupil_cap)} Please wait a little, or use the Photo page."
        return None

    def interval() -> float:
        return PUPIL_INTERVAL_WITH_TEACHER_S if STREAM_SLOTS.live()[0] else 0.0

    return STREAM_SLOTS.can_start(sid, teacher), per_frame, None if teacher else interval
