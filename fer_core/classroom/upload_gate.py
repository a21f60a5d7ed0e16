"""An ASGI middleware that refuses file uploads from browser sessions that have not entered the class code.

The pages already stop at the code form, so no uploader is ever drawn for such a visitor; this closes the other
way in, a hand-made request to Streamlit's upload endpoint (`/_stcore/upload_file/<session>/<file>`), so that
not even a file's bytes reach the server's memory before the code is entered.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable

from fer_core.classroom.access import Classroom, classroom, is_teacher

UPLOAD_PATH = "/_stcore/upload_file/"
Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]


class UploadGate:
    """Starlette-style middleware: `Middleware(UploadGate)`; `room` is for tests (default: the server's)."""

    def __init__(self, app: ASGIApp, room: Classroom | None = None) -> None:
        self.app = app
        self.room = room

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope.get("type") == "http" and self._refused(scope):
            await send({"type": "http.response.start", "status": 403,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
            await send({"type": "http.response.body",
                        "body": b"Enter the class code shown on the teacher's screen first."})
            return
        await self.app(scope, receive, send)

    def _refused(self, scope: Scope) -> bool:
        path: str = scope.get("path", "")
        where = path.find(UPLOAD_PATH)
        if where < 0:
            return False
        room = self.room or classroom()
        client = scope.get("client") or ("", 0)
        server = scope.get("server") or ("", 0)  # the address the browser connected to: not up to the browser
        if not room.enabled or is_teacher(client[0], server[0]):
            return False
        session_id = path[where + len(UPLOAD_PATH):].split("/", 1)[0]
        return not room.is_admitted(session_id)
