"""A class session's access code, in real browsers against a real `fer-lens serve --classroom` over HTTPS.

The teacher's browser opens https://127.0.0.1:PORT; a pupil's opens https://127.0.0.2:PORT (Linux sends all of
127.0.0.0/8 to this computer, and FER Lens treats any address but localhost as the network). Checked: without
the code a pupil sees only the code form, and an upload sent by hand is refused; a wrong code is refused and
slowed down; the right code opens the pages; the teacher needs no code and can end every pupil's session.
"""
from __future__ import annotations

import os
import re
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Iterator

import pytest

from fer_core.classroom.access import FREE_TRIES, WRONG_CODE_DELAY_S
from tests.app.browser_support import SANITY_S, free_port, settle
from tests.conftest import REPO

CODE_LINE = re.compile(r"Session code \(pupils type it once\): ([A-Z0-9]+)")
UPLOADER = '[data-testid="stFileUploaderDropzoneInput"]'


@pytest.fixture(scope="module")
def classroom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """`fer-lens serve --classroom` on a free port, its certificate in a temporary configuration folder."""
    home = tmp_path_factory.mktemp("config")
    log_path = home / "serve.log"
    port = free_port()
    env = {**os.environ, "XDG_CONFIG_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "fer_core", "serve", "--classroom", "--port", str(port)],
                                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        cert = home / "fer-lens" / "classroom" / "cert.pem"
        deadline, ready = time.monotonic() + 120, False
        while not ready and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
            if cert.exists():
                try:
                    context = ssl.create_default_context(cafile=str(cert))
                    with urllib.request.urlopen(f"https://127.0.0.1:{port}/_stcore/health", context=context,
                                                timeout=2) as answer:
                        ready = answer.read() == b"ok"
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
        printed = log_path.read_text(errors="replace")
        assert ready, printed
        code = CODE_LINE.search(printed)
        assert code, printed
        yield {"teacher": f"https://127.0.0.1:{port}", "pupil": f"https://127.0.0.2:{port}", "code": code[1],
               "cert": cert}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _page(browser, url: str):
    """A fresh browser profile (its own cookies and session) that accepts the self-signed certificate, as a
    pupil does by tapping through the warning."""
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(url)
    return page


def _code_form(page):
    field = page.get_by_label("Class code")
    field.wait_for(timeout=SANITY_S * 1000)
    settle(page)
    return field


def _join(page, code: str, answer: str | re.Pattern = "") -> float:
    """Type `code`, press Join, and wait for the app's answer: the message `answer`, or else the pages. Returns
    the seconds until that answer showed (on a repeated message: until the run that drew it again ended)."""
    page.get_by_label("Class code").fill(code)
    shown = page.get_by_text(answer) if answer else page.locator('[data-testid="stSidebarNav"]')
    again = shown.count() > 0
    start = time.perf_counter()
    page.get_by_role("button", name="Join").click()
    if again:
        page.wait_for_timeout(250)  # the run has started (a wrong code's run lasts about a second)
        settle(page, quiet_ms=100)
    shown.first.wait_for(timeout=SANITY_S * 1000)
    return time.perf_counter() - start


def test_without_the_code_a_pupil_sees_only_the_code_form(browser, classroom) -> None:
    page = _page(browser, classroom["pupil"] + "/photo")
    _code_form(page)
    assert page.get_by_text("Enter the code shown on your teacher's screen").count() == 1
    assert page.locator(UPLOADER).count() == 0, "no uploader before the code"
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0, "no page list before the code"
    assert page.get_by_text("Upload photos with faces").count() == 0, "the Photo page did not run"
    assert page.get_by_text("Page not found").count() == 0, "the address the pupil opened is kept, not refused"
    page.context.close()


def test_an_upload_sent_by_hand_without_the_code_is_refused(browser, classroom) -> None:
    page = _page(browser, classroom["pupil"] + "/photo")
    _code_form(page)
    # The request Streamlit's uploader would send, made by hand from the pupil's page (its cookies, its origin).
    answer = page.evaluate("""async () => {
        const form = new FormData();
        form.append('file', new Blob([new Uint8Array([255, 216, 255, 224])]), 'face.jpg');
        const r = await fetch('/_stcore/upload_file/some-session/some-file', {method: 'PUT', body: form});
        return [r.status, await r.text()];
    }""")
    assert answer[0] == 403 and "code" in answer[1]
    assert page.get_by_label("Class code").count() == 1 and page.locator(UPLOADER).count() == 0  # nothing changed
    page.context.close()


def test_the_right_code_opens_the_pages(browser, classroom) -> None:
    page = _page(browser, classroom["pupil"] + "/photo")
    _code_form(page)
    _join(page, classroom["code"].lower())  # typed in small letters: still the code
    page.locator(UPLOADER).wait_for(state="attached", timeout=SANITY_S * 1000)  # the page the pupil opened
    nav = page.locator('[data-testid="stSidebarNav"]')
    assert nav.get_by_text("Home", exact=True).count() == 1
    assert nav.get_by_text("Many clips").count() == 0, "batches of clips are the teacher's, not on pupils' phones"
    nav.get_by_text("Home", exact=True).click()
    page.get_by_role("button", name="Analyse this sample photo").wait_for(timeout=SANITY_S * 1000)
    page.context.close()


def test_a_wrong_code_is_refused_and_slowed_down(browser, classroom) -> None:
    page = _page(browser, classroom["pupil"])
    _code_form(page)
    seconds = _join(page, "WRONG9", "That is not the code on the teacher's screen")
    assert seconds >= WRONG_CODE_DELAY_S, "every wrong code is answered only after a pause"
    for _ in range(FREE_TRIES - 1):
        _join(page, "WRONG9", "That is not the code")
    _join(page, "WRONG9", re.compile(r"Please wait \d+ s before the next try"))  # then the waits start
    _join(page, classroom["code"], "Too many wrong codes")  # even the right code waits out the pause
    settle(page)
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0
    page.context.close()


def test_the_teacher_needs_no_code_and_can_end_every_pupil_session(browser, classroom) -> None:
    time.sleep(6)  # the wrong-code test above made this computer's address wait; pupils here share it
    pupil = _page(browser, classroom["pupil"])
    _code_form(pupil)
    _join(pupil, classroom["code"])
    pupil.get_by_role("button", name="Analyse this sample photo").wait_for(timeout=SANITY_S * 1000)
    teacher = _page(browser, classroom["teacher"])
    panel = teacher.get_by_text(f"Class code: {classroom['code']}")
    panel.wait_for(timeout=SANITY_S * 1000)
    assert teacher.get_by_label("Class code").count() == 0, "the teacher's own browser gets no code form"
    settle(teacher)
    teacher.get_by_role("button", name="End every pupil's session").click()
    teacher.get_by_text(f"Class code: {classroom['code']}").wait_for(state="detached", timeout=SANITY_S * 1000)
    pupil.get_by_role("button", name="Analyse this sample photo").click()  # the pupil's next step...
    _code_form(pupil)  # ...meets the code form instead
    new_code = re.search(r"Class code: (\w+)", teacher.get_by_text(re.compile(r"^Class code: ")).inner_text())[1]
    assert new_code != classroom["code"]
    _join(pupil, classroom["code"], "That is not the code")  # the old code no longer opens the pages
    assert pupil.locator('[data-testid="stSidebarNav"]').count() == 0
    teacher.context.close()
    pupil.context.close()
