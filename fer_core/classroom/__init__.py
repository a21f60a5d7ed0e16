"""A class session on one laptop (`fer-lens serve --classroom`): pupils' browsers join the teacher's FER Lens
over HTTPS on the local network, behind a short access code, and share the machine fairly.

- `access`: the session's code, admitted browser sessions, and the slow-down for wrong codes;
- `work_queue`: one queue for heavy work (heatmaps, trust checks, clips), with "N ahead of you";
- `streams`: the cap on live webcam streams, the teacher's first;
- `upload_gate`: an ASGI middleware that refuses uploads from browsers that have not entered the code;
- `certificate`, `network`, `qr`: the self-signed certificate, the network address and its QR code.

Nothing here imports Streamlit; the pages draw it through `ui/classroom.py`.
"""
