"""Many clips: analyse a batch of recorded clips at once (uploads, or a folder on a local install) in the
background, then look at every clip in one table, the group summary, and download each report or everything."""
from __future__ import annotations

import streamlit as st

from fer_core.batch.settings import BatchSettings
from ui import many_clips_view as view
from ui.resources import get_recognizer
from ui.settings import current
from ui.video_view import FORMATS, MAX_MB, RATES, TYPES, show_notice

UPLOAD, FOLDER = "Upload clips", "A folder on this computer"

settings = current()
st.title("Many clips")
st.write("Analyse several recorded clips in one go, for example every lesson of a term. FER Lens follows every "
         "face through each clip, as on the Video clip page, and gathers the results: one table of all clips, "
         "a group summary of the visible facial expressions, and a report for each clip.")
show_notice()

job = view.current_job()
running = job is not None and job.running
local = view.is_local()
limit_mb = min(MAX_MB, int(st.get_option("server.maxUploadSize")))

source = st.radio("Where are the clips?", [UPLOAD, FOLDER], horizontal=True, key="many_source",
                  help="A folder is offered only when FER Lens runs on this computer and you opened it at "
                       "localhost.") if local else UPLOAD
if source == UPLOAD:
    uploads = st.file_uploader(f"Clips ({FORMATS}; up to {limit_mb} MB each, at most {view.MAX_CLIPS} "
                               "clips)", type=TYPES, accept_multiple_files=True, key="many_upload",
                               max_upload_size=limit_mb) or []
    count = len(uploads)
    seen: set = set()
    for upload in uploads:
        if (upload.name, upload.size) in seen:
            st.caption(f"**{upload.name}** was chosen twice; it is analysed once.")
        seen.add((upload.name, upload.size))
    st.caption("🔒 Uploaded clips stay in memory on this computer while the batch runs and are never saved; "
               "close the tab to forget them.")
else:
    folder = st.text_input("Folder on this computer", key="many_folder", placeholder="/home/me/Videos/term1",
                           help="Every video file in this folder and its sub-folders is analysed where it is; "
                                "nothing is copied or written.")
    chosen = view.from_folder(folder)
    count = len(chosen.clips)
    if chosen.problem:
        st.error(chosen.problem, icon=":material/folder_off:")
    elif count:
        st.success(f"{count} clip{'s' if count != 1 else ''} found in this folder and its sub-folders.",
                   icon=":material/video_library:")
        with st.expander("Which clips"):
            st.markdown("\n".join(f"- {chosen.labels[c.clip_id]}" for c in chosen.clips[:view.MAX_CLIPS + 10]))

rate_col, length_col, _ = st.columns([1, 1, 0.6])
fps = rate_col.selectbox("Frames analysed", list(RATES), index=2, format_func=RATES.get, key="many_fps",
                         help="How many frames of each second of video are looked at. More is finer but slower.")
minutes = length_col.selectbox("How much of each clip", list(view.LENGTHS), format_func=view.LENGTHS.get,
                               key="many_length", help="Only the beginning of each clip is quicker, for a first look.")

too_many = view.limit_problem(count, local)
if too_many:
    st.error(too_many, icon=":material/block:")
if running:
    why = "A batch is already running in this tab: wait for it to finish, or cancel it below."
elif not count:
    why = "Choose the clips first." if source == UPLOAD else "Type a folder with clips first."
else:
    why = too_many
start = st.button(f"Start: analyse {count} clip{'s' if count != 1 else ''}" if count and not running else "Start",
                  type="primary", icon=":material/play_arrow:", key="many_start", disabled=bool(why),
                  help=why or "Analyse every clip, one after another. You can keep using FER Lens meanwhile.")
if why and not too_many:
    st.caption(why)

if start and not why:
    chosen = view.from_uploads(uploads) if source == UPLOAD else chosen
    batch_settings = BatchSettings(fps=float(fps), model=settings.model or None, detector=settings.detector.name,
                                   max_s=float(minutes) * 60 if minutes else None)
    st.session_state[view.JOB_KEY] = view.start_job(chosen, batch_settings, get_recognizer(settings.detector.name))
    st.rerun()

if job is None:
    st.info("Choose clips and press Start. Faces should be upright, well lit and at least about 40 pixels across.",
            icon=":material/info:")
elif running:
    st.subheader("Analysing")
    view.show_progress(job)
else:
    st.subheader("Results")
    view.show_results(job)
