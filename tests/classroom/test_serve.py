"""`fer-lens serve --classroom`: the self-signed certificate, the network address, the QR code, the command it
runs, and a real HTTPS server answering on the loopback address."""
from __future__ import annotations

import datetime as dt
import io
import ipaddress
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from PIL import Image

from fer_core.classroom import certificate
from fer_core.classroom.access import CLASSROOM_ENV, CODE_ALPHABET, CODE_ENV, CODE_LENGTH, URL_ENV
from fer_core.classroom.certificate import config_dir, ensure_certificate, fingerprint
from fer_core.classroom.network import all_addresses, lan_address
from fer_core.classroom.qr import qr_png, qr_terminal
from fer_core.cli.main import main
from tests.conftest import REPO

START_BOUND_S = 60  # the real server must answer its health check within this


def _san(cert_path: Path) -> tuple[set[str], set[str]]:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}, set(san.get_values_for_type(x509.DNSName))


def test_certificate_names_the_hosts_and_keeps_its_key_private(tmp_path: Path) -> None:
    folder = tmp_path / "classroom"
    cert_path, key_path = ensure_certificate(["192.168.1.20", "Teachers-Laptop"], folder=folder)
    assert (cert_path, key_path) == (folder / "cert.pem", folder / "key.pem")
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    ips, names = _san(cert_path)
    assert {"192.168.1.20", "127.0.0.1"} <= ips
    assert {"localhost", "teachers-laptop"} <= names
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert ExtendedKeyUsageOID.SERVER_AUTH in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert cert.signature_hash_algorithm.name == "sha256"
    now = dt.datetime.now(dt.timezone.utc)
    assert cert.not_valid_before_utc <= now
    assert dt.timedelta(days=300) < cert.not_valid_after_utc - now < dt.timedelta(days=400)
    if os.name == "posix":
        assert key_path.stat().st_mode & 0o777 == 0o600
        assert folder.stat().st_mode & 0o777 == 0o700
    ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert_path, key_path)  # a TLS server can use the pair
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", fingerprint(cert_path))


def test_certificate_is_reused_and_remade_for_a_new_host(tmp_path: Path) -> None:
    first = fingerprint(ensure_certificate(["192.168.1.20", "laptop"], folder=tmp_path)[0])
    again = fingerprint(ensure_certificate(["laptop", "192.168.1.20"], folder=tmp_path)[0])
    assert again == first  # the pupils' "proceed anyway" keeps working
    cert_path, _ = ensure_certificate(["10.0.0.7", "laptop"], folder=tmp_path)  # another network
    assert fingerprint(cert_path) != first
    assert "10.0.0.7" in _san(cert_path)[0]


def test_certificate_is_remade_near_expiry_or_when_broken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(certificate, "VALID_DAYS", certificate.MIN_LEFT_DAYS - 2)
    short = fingerprint(ensure_certificate(["192.168.1.20"], folder=tmp_path)[0])
    monkeypatch.undo()
    cert_path, key_path = ensure_certificate(["192.168.1.20"], folder=tmp_path)
    renewed = fingerprint(cert_path)
    assert renewed != short
    key_path.write_text("not a key")
    cert_path, key_path = ensure_certificate(["192.168.1.20"], folder=tmp_path)
    assert fingerprint(cert_path) != renewed
    ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert_path, key_path)


def test_certificate_is_never_kept_in_the_repository() -> None:
    folder = REPO / ".cache" / "never-made-classroom-cert"
    with pytest.raises(ValueError, match="repository"):
        ensure_certificate(["192.168.1.20"], folder=folder)
    assert not folder.exists()


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="the XDG folder is the Linux convention")
def test_config_dir_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert config_dir() == tmp_path / "fer-lens"
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/ignored")
    assert config_dir() == Path.home() / ".config" / "fer-lens"


def test_lan_address_is_an_ipv4_address_of_this_computer() -> None:
    address = ipaddress.ip_address(lan_address())
    assert address.version == 4
    addresses = all_addresses()
    assert addresses[0] == str(address) and addresses[-1] == "127.0.0.1"
    if not address.is_loopback:  # it is an address of this computer: a socket can bind to it
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((str(address), 0))


def test_qr_png_decodes_back_to_the_url() -> None:
    url = "https://192.168.1.20:8501"
    png = qr_png(url, scale=6)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    decoded, _, _ = cv2.QRCodeDetector().detectAndDecode(np.asarray(image.convert("L")))
    assert decoded == url
    rows = qr_terminal(url).rstrip("\n").splitlines()
    assert len(rows) > 10 and len({len(r) for r in rows}) == 1  # a square block of text


def _dry_run(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    rc = main(["serve", *args, "--dry-run"])
    return rc, capsys.readouterr().out


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    return tmp_path


def test_classroom_dry_run_serves_https_on_the_network_with_a_code(config_home: Path, capsys) -> None:
    rc, out = _dry_run(capsys, "--classroom", "--port", "8765")
    assert rc == 0
    command = next(line for line in out.splitlines() if line.startswith("Would run:"))
    assert "--server.address=0.0.0.0" in command and "--server.port=8765" in command
    cert = Path(re.search(r"--server\.sslCertFile=(\S+)", command).group(1))
    assert "--server.sslKeyFile=" in command
    if sys.platform not in ("win32", "darwin"):
        assert cert.is_relative_to(config_home)
    code = re.search(rf"\b{CODE_ENV}=(\S+)", out).group(1)
    assert len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET)
    assert f"{CLASSROOM_ENV}=1" in out
    url = re.search(rf"\b{URL_ENV}=(\S+)", out).group(1)
    assert url == f"https://{lan_address()}:8765"
    assert f"Session code (pupils type it once): {code}" in out
    assert "https://localhost:8765" in out and url in out
    assert fingerprint(cert) in out
    for words in ("Your connection is not private", "This connection is not private",
                  "Accept the Risk and Continue", "Art. 5(1)(f)"):
        assert words in out


def test_each_start_has_a_new_code(config_home: Path, capsys) -> None:
    codes = {re.search(rf"\b{CODE_ENV}=(\S+)", _dry_run(capsys, "--classroom")[1]).group(1) for _ in range(3)}
    assert len(codes) == 3


def test_plain_serve_stays_on_this_computer(config_home: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv(CLASSROOM_ENV, "1")  # left over in the shell: must not reach a plain server
    rc, out = _dry_run(capsys)
    assert rc == 0
    assert "--server.address=127.0.0.1" in out
    assert "sslCertFile" not in out and "sslKeyFile" not in out
    assert CLASSROOM_ENV not in out and CODE_ENV not in out
    assert not (config_home / "fer-lens").exists()  # no certificate either


def test_own_certificate_and_wrong_options(tmp_path: Path, config_home: Path, capsys) -> None:
    cert, key = ensure_certificate(["192.168.1.20"], folder=tmp_path / "own")
    rc, out = _dry_run(capsys, "--classroom", "--cert", str(cert), "--key", str(key), "--address", "192.168.1.20")
    assert rc == 0
    assert f"--server.sslCertFile={cert}" in out and "--server.address=192.168.1.20" in out
    assert "https://192.168.1.20:8501 too and type the code" in out  # localhost is not served then
    assert not (config_home / "fer-lens").exists()  # no self-signed one was made
    assert _dry_run(capsys, "--classroom", "--cert", str(cert))[0] == 2  # a certificate without its key
    assert _dry_run(capsys, "--classroom", "--cert", str(key), "--key", str(cert))[0] == 2  # swapped
    assert _dry_run(capsys, "--address", "0.0.0.0")[0] == 2  # the network without a code


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _health(url: str, context: ssl.SSLContext) -> str | None:
    try:
        with urllib.request.urlopen(url, context=context, timeout=2) as response:
            return response.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def test_classroom_server_answers_over_https(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path)}
    cert = tmp_path / "fer-lens" / "classroom" / "cert.pem"
    url = f"https://127.0.0.1:{port}/_stcore/health"
    with open(tmp_path / "serve.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "fer_core", "serve", "--classroom", "--port", str(port)],
                                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_BOUND_S
        answer = None
        while answer is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
            if cert.exists():
                context = ssl.create_default_context(cafile=str(cert))  # trusts only this certificate
                assert context.check_hostname
                answer = _health(url, context)
        assert answer == "ok", (tmp_path / "serve.log").read_text(errors="replace")
        plain = ssl.create_default_context()  # the self-signed certificate is not trusted by default
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            urllib.request.urlopen(url, context=plain, timeout=5)
    finally:
        proc.send_signal(signal.SIGTERM)  # forwarded to Streamlit
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert _health(url, ssl.create_default_context(cafile=str(cert))) is None  # Streamlit stopped with it
