"""FER Lens: facial-expression recognition in photos, with the model's confidence for every class.

The entry script: page frame, navigation and the shared sidebar settings. Each page lives in `app_pages/` and
stays thin (widgets -> one fer_core call -> render). Nothing is stored; uploads stay in memory. (Not `pages/`:
Streamlit runs a folder of that name as an old-style multipage app, without this script, for a fresh server's
first visitor who arrives by a direct link such as /model.)

Run: `streamlit run app.py`. Streamlit then finds the `st.App` below (it imports this file as a module, not
as the page script), whose lifespan warms the default model in the background as the server starts
(`ui/warmup.py`); every page run executes this file as `__main__` and draws the app.
"""
from __future__ import annotations

import streamlit as st

from ui.classroom import code_form, gate, pupil
from ui.settings import sidebar
from ui.warmup import note_page_run

if __name__ == "__main__":  # a page run: Streamlit's script runner executes this file as __main__
    note_page_run()  # the warm-up's torch half waits while a visitor is busy (ui/warmup.py)
    st.set_page_config(page_title="FER Lens", page_icon="🙂", layout="wide")
    admitted = gate()  # a class session: a pupil sees only the code form until the code is entered

    # Later pages (app_pages/webcam.py, app_pages/video.py) join this list.
    PAGES = [
        st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("app_pages/photo.py", title="Photo", icon=":material/add_a_photo:"),
        st.Page("app_pages/compare.py", title="Compare", icon=":material/compare:"),
        st.Page("app_pages/webcam.py", title="Webcam", icon=":material/videocam:"),
        st.Page("app_pages/video.py", title="Video clip", icon=":material/movie:"),
        *([] if pupil() else  # a class session: batches of clips are the teacher's, not for pupils' phones
          [st.Page("app_pages/many_clips.py", title="Many clips", icon=":material/video_library:")]),
        st.Page("app_pages/robustness.py", title="Robustness", icon=":material/science:"),
        st.Page("app_pages/teach.py", title="Can you read this face?", icon=":material/school:", url_path="teach"),
        st.Page("app_pages/model.py", title="About the model", icon=":material/fact_check:"),
    ]

    # The pages are always declared, so the address a pupil opened (/photo, /webcam) is kept; until the code is
    # entered the page list is hidden and none of them runs.
    page = st.navigation(PAGES, position="sidebar" if admitted else "hidden")
    if not admitted:
        code_form()
        st.stop()
    sidebar()
    page.run()
else:  # `streamlit run app.py` imports this module to find the server it should start
    from starlette.middleware import Middleware

    from fer_core.classroom.upload_gate import UploadGate
    from ui.warmup import VisitorActivity, lifespan

    app = st.App("app.py", lifespan=lifespan, middleware=[Middleware(UploadGate), Middleware(VisitorActivity)])
