"""`serve`: start the dashboard. Plain, it is `streamlit run app.py` on this computer only; with `--classroom` it
serves HTTPS on the network address behind a fresh access code, for a class on one laptop (fer_core.classroom).
"""
from __future__ import annotations

import argparse
import ipaddress
import os
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

LOCALHOST = "127.0.0.1"
ALL_INTERFACES = "0.0.0.0"
STOP_GRACE_S = 10.0  # after Ctrl-C or SIGTERM, how long Streamlit may take to stop before it is killed
OWN_CTRL_C_S = 5.0  # a terminal's Ctrl-C reaches Streamlit too, which stops within ~2.5 s on 2 cores

PRIVACY_NOTICE = (
    "Privacy: camera frames and photos stay on this computer, and nothing is stored. Use this to teach how such "
    "systems read faces, never to judge pupils: the EU AI Act, Art. 5(1)(f), forbids inferring the emotions of "
    "pupils in schools."
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="start the dashboard (with --classroom: for pupils' phones and laptops)",
                       description="Start the FER Lens dashboard. Plain, it is `streamlit run app.py`: this "
                       "computer only, no code. With --classroom it serves HTTPS on this computer's network "
                       "address, prints the address, its QR code and the session's access code, and explains "
                       "the browser's certificate warning.")
    p.add_argument("--classroom", action="store_true",
                   help="serve the class on the local network over HTTPS, behind a fresh access code")
    p.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    p.add_argument("--address", default=None,
                   help="with --classroom: the address to listen on (default 0.0.0.0, every network)")
    p.add_argument("--cert", default=None, metavar="PEM",
                   help="with --classroom: your own certificate (with --key) instead of the self-signed one")
    p.add_argument("--key", default=None, metavar="PEM", help="the private key of --cert")
    p.add_argument("--dry-run", action="store_true",
                   help="print what would run (command and the environment it sets) and start nothing")
    p.set_defaults(func=run_serve_command)


def app_path() -> Path:
    """app.py of this checkout: it sits next to the fer_core package."""
    import fer_core

    return Path(fer_core.__file__).resolve().parents[1] / "app.py"


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return address.lower() == "localhost"


def _url_host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def _wrap(text: str, width: int = 100) -> str:
    """Paragraphs and "- " list items wrapped for a terminal, items with a hanging indent."""
    import textwrap

    return "\n".join(textwrap.fill(line, width, subsequent_indent="  " if line.startswith("- ") else "")
                     for line in text.splitlines())


def classroom_instructions(url: str, code: str, fingerprint: str, qr_text: str = "", localhost: bool = True) -> str:
    """What the teacher reads before the class joins: the pupils' address (and QR code), the code, the teacher's
    own address, the certificate warning pupils will see and what to tap, and the privacy notice. Plain text.
    `localhost=False`: the server listens on one network address only, so the teacher opens `url` too."""
    from fer_core.classroom.certificate import CERTIFICATE_HELP

    port = urlsplit(url).port or 443
    own = (f"open https://localhost:{port} (no code needed there" if localhost else
           f"open {url} too and type the code (with --address, https://localhost:{port} is not served")
    parts = [
        "FER Lens class session",
        "Pupils: on a phone or laptop on the same network (Wi-Fi) as this computer, open\n\n"
        f"    {url}" + ("\n\nor scan this QR code:\n" + qr_text.rstrip("\n") if qr_text else ""),
        f"Session code (pupils type it once): {code}",
        _wrap(f"Your own browser, on this computer: {own}; it shows the certificate warning below once, too)."),
        "What a pupil's browser will say about the certificate, and what to tap:\n"
        + _wrap(CERTIFICATE_HELP.replace("**", "").rstrip("\n")),
        f"Certificate fingerprint (SHA-256):\n    {fingerprint}",
        _wrap(PRIVACY_NOTICE),
        "Stop the session with Ctrl-C.",
    ]
    return "\n\n".join(parts) + "\n"


def streamlit_command(app: Path, address: str, port: int, cert: Path | None, key: Path | None) -> list[str]:
    """The Streamlit command line (run from the repository root, so .streamlit/config.toml applies too)."""
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), f"--server.address={address}",
           f"--server.port={port}", "--server.headless=true", "--browser.gatherUsageStats=false"]
    if cert is not None and key is not None:
        cmd += [f"--server.sslCertFile={cert}", f"--server.sslKeyFile={key}"]
    return cmd


def _own_certificate(cert: str, key: str) -> tuple[Path, Path]:
    """The teacher's own pair, checked before starting so a wrong file fails here, not in Streamlit's log."""
    import ssl

    cert_path, key_path = Path(cert).expanduser().resolve(), Path(key).expanduser().resolve()
    for path in (cert_path, key_path):
        if not path.is_file():
            raise ValueError(f"no such file: {path}")
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert_path, key_path)
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(f"--cert and --key do not load as a certificate and its key: {exc}") from exc
    return cert_path, key_path


def _classroom_setup(args: argparse.Namespace) -> tuple[str, Path, Path, dict[str, str], str]:
    """(listen address, cert, key, the environment for the server, the teacher's instructions)."""
    from fer_core.classroom.access import CLASSROOM_ENV, CODE_ENV, URL_ENV, new_code
    from fer_core.classroom.certificate import ensure_certificate, fingerprint
    from fer_core.classroom.network import lan_address
    from fer_core.classroom.qr import qr_terminal

    address = args.address or ALL_INTERFACES
    specific = address not in (ALL_INTERFACES, "::")
    host = address.strip("[]") if specific else lan_address()
    if args.cert:
        cert, key = _own_certificate(args.cert, args.key)
    else:
        cert, key = ensure_certificate(list(dict.fromkeys([host, socket.gethostname()])))
    url = f"https://{_url_host(host)}:{args.port}"
    code = new_code()
    env = {CLASSROOM_ENV: "1", CODE_ENV: code, URL_ENV: url}
    text = classroom_instructions(url, code, fingerprint(cert), qr_terminal(url),
                                  localhost=not specific or _is_loopback(host))
    if _is_loopback(host):
        text = ("Note: this computer seems to be on no network (its only address is this computer's own), so "
                "pupils cannot reach it yet. Join the class's Wi-Fi and start again.\n\n" + text)
    return address, cert, key, env, text


def run_serve_command(args: argparse.Namespace) -> int:
    from fer_core.classroom.access import CLASSROOM_ENV, CODE_ENV, URL_ENV

    if bool(args.cert) != bool(args.key):
        print("--cert and --key go together: give both, or neither for the self-signed certificate",
              file=sys.stderr)
        return 2
    if not args.classroom and (args.cert or (args.address and not _is_loopback(args.address))):
        print("--address and --cert are for --classroom: serving beyond this computer needs the access code",
              file=sys.stderr)
        return 2
    if not 0 < args.port < 65536:
        print(f"--port must be between 1 and 65535, not {args.port}", file=sys.stderr)
        return 2
    app = app_path()
    if not app.is_file():
        print(f"app.py not found at {app}: `fer-lens serve` runs the dashboard of a source checkout (the folder "
              "with app.py next to fer_core/)", file=sys.stderr)
        return 2

    env = {k: v for k, v in os.environ.items() if k not in (CLASSROOM_ENV, CODE_ENV, URL_ENV)}
    if args.classroom:
        try:
            address, cert, key, extra, text = _classroom_setup(args)
        except (ValueError, OSError) as exc:
            print(exc, file=sys.stderr)
            return 2
        cmd = streamlit_command(app, address, args.port, cert, key)
        env.update(extra)
        print(text, flush=True)
    else:
        extra = {}
        cmd = streamlit_command(app, args.address or LOCALHOST, args.port, None, None)
        print(f"FER Lens on this computer only: http://localhost:{args.port}", flush=True)

    if args.dry_run:
        print("Would run:", shlex.join(cmd))
        print("In:", app.parent)
        print("Environment set for it:", " ".join(f"{k}={v}" for k, v in extra.items()) or "(nothing)")
        return 0
    return _run_child(cmd, app.parent, env)


def _stop(child: subprocess.Popen, signum: int) -> None:
    """Ask Streamlit to stop as if it had the signal itself (Windows knows only terminate)."""
    if child.poll() is not None:
        return
    if os.name == "nt":
        child.terminate()
    else:
        child.send_signal(signum)


def _run_child(cmd: list[str], cwd: Path, env: dict[str, str]) -> int:
    """Run Streamlit until it ends; Ctrl-C and SIGTERM stop it (gracefully, then by force). Its exit code."""
    child = subprocess.Popen(cmd, cwd=cwd, env=env)
    previous = {}
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None:
            try:
                previous[signum] = signal.signal(signum, lambda n, _f: _stop(child, n))
            except ValueError:  # not the main thread: leave the handlers alone
                pass
    try:
        try:
            rc = child.wait()
        except KeyboardInterrupt:
            # From a terminal, Ctrl-C reached Streamlit too; a second signal could cut its shutdown short, so it
            # is sent only when Streamlit is still running a moment later (the Ctrl-C came to us alone).
            try:
                rc = child.wait(timeout=OWN_CTRL_C_S)
            except subprocess.TimeoutExpired:
                _stop(child, signal.SIGINT)
                try:
                    rc = child.wait(timeout=STOP_GRACE_S)
                except subprocess.TimeoutExpired:
                    child.kill()
                    rc = child.wait()
    except KeyboardInterrupt:  # a second Ctrl-C while Streamlit was stopping: stop it now
        child.kill()
        rc = child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if child.poll() is None:  # never leave a server running behind us
            child.kill()
            child.wait()
    return 128 - rc if rc < 0 else rc  # killed by signal N: the shell's 128 + N
