"""The class session's self-signed HTTPS certificate: browsers give the camera only to localhost or to HTTPS pages,
so pupils' phones need HTTPS, and a laptop on a school network has no certificate a browser already trusts.

It is made on first start with `cryptography`, kept in the user's configuration folder (never in the repository,
so it is never committed), and reused while it is valid and names every address pupils may open, so that their
browsers' "proceed anyway" choice keeps working from one lesson to the next.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
import sys
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

APP_FOLDER = "fer-lens"
CERT_NAME = "cert.pem"
KEY_NAME = "key.pem"
VALID_DAYS = 365  # under the 398 days Apple's devices accept for a server certificate
MIN_LEFT_DAYS = 7  # remade when it would expire within a week (in the middle of a lesson series)
ALWAYS = ("localhost", "127.0.0.1", "::1")  # the teacher's own browser

# What a pupil's browser says about a self-signed certificate, and what to tap. Markdown; shown on the teacher's
# screen and printed by `fer-lens serve --classroom`.
CERTIFICATE_HELP = """\
- **Chrome, Edge or Android:** "Your connection is not private" -> tap **Advanced** -> \
**Proceed to** (the address) **(unsafe)**.
- **Safari on iPhone, iPad or Mac:** "This connection is not private" -> tap **Show Details** -> \
**visit this website** -> **Visit Website**.
- **Firefox:** "Warning: Potential Security Risk Ahead" -> tap **Advanced** -> **Accept the Risk and Continue**.
- This warning is expected: the certificate was made on this laptop rather than bought from a company that \
browsers know. The connection is still encrypted. To be sure it is this laptop, compare the fingerprint in the \
browser's certificate details with the one on the teacher's screen.
"""


def config_dir() -> Path:
    """The user's configuration folder for FER Lens (created by whoever writes into it)."""
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ["APPDATA"]) if os.environ.get("APPDATA") else home / "AppData" / "Roaming"
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        xdg = os.environ.get("XDG_CONFIG_HOME", "")
        base = Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".config"  # the XDG spec: relative = unset
    return base / APP_FOLDER


def default_folder() -> Path:
    return config_dir() / "classroom"


def _split_hosts(hosts: list[str]) -> tuple[set[ipaddress.IPv4Address | ipaddress.IPv6Address], set[str]]:
    """The requested names as (IP addresses, DNS names), with localhost, 127.0.0.1 and ::1 always included."""
    ips: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
    names: set[str] = set()
    for host in (*hosts, *ALWAYS):
        host = host.strip().strip("[]").rstrip(".").lower()
        if not host:
            continue
        try:
            ips.add(ipaddress.ip_address(host))
        except ValueError:
            if host.isascii():  # a certificate's DNS names are ASCII; a non-ASCII host name cannot be one
                names.add(host)
    return ips, names


def _load(cert_path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(cert_path.read_bytes())


def _reusable(cert_path: Path, key_path: Path, ips: set, names: set[str]) -> bool:
    """Whether the existing pair can serve again: readable, matching, valid for a week more, naming every host."""
    try:
        cert = _load(cert_path)
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, TypeError, x509.ExtensionNotFound):
        return False
    now = dt.datetime.now(dt.timezone.utc)
    if cert.not_valid_before_utc > now or cert.not_valid_after_utc - now < dt.timedelta(days=MIN_LEFT_DAYS):
        return False
    if key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) \
            != cert.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo):
        return False
    have_ips = set(san.get_values_for_type(x509.IPAddress))
    have_names = {name.lower() for name in san.get_values_for_type(x509.DNSName)}
    return ips <= have_ips and names <= have_names


def _make(ips: set, names: set[str]) -> tuple[bytes, bytes]:
    """A new ECDSA P-256 key and a one-year, SHA-256, self-signed server certificate naming `ips` and `names`."""
    key = ec.generate_private_key(ec.SECP256R1())
    first = next(iter(sorted(str(ip) for ip in ips if not ip.is_loopback)), "localhost")
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"FER Lens class session ({first})"[:64]),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "FER Lens, self-signed on this computer")])
    now = dt.datetime.now(dt.timezone.utc)
    san = [x509.DNSName(n) for n in sorted(names)] + [x509.IPAddress(ip) for ip in sorted(ips, key=str)]
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(int.from_bytes(secrets.token_bytes(16), "big") >> 1)  # positive, 127 bits
        .not_valid_before(now - dt.timedelta(days=1))  # a pupil's phone whose clock is a little behind
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write atomically (a half-written key would break the next start) with `mode` from the first byte on."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _inside_repository(folder: Path) -> bool:
    from fer_core.paths import REPO_DIR

    return (REPO_DIR / ".git").exists() and folder.resolve().is_relative_to(REPO_DIR)


def ensure_certificate(hosts: list[str], folder: Path | None = None) -> tuple[Path, Path]:
    """(cert.pem, key.pem) in `folder` (default `<config_dir>/classroom`), naming every host in `hosts` plus
    localhost: the existing pair when it is still good for a week and names them all, else a new one."""
    folder = Path(folder) if folder is not None else default_folder()
    if _inside_repository(folder):
        raise ValueError(f"refusing to keep a private key inside the repository ({folder}): it could be committed")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    cert_path, key_path = folder / CERT_NAME, folder / KEY_NAME
    ips, names = _split_hosts(hosts)
    if _reusable(cert_path, key_path, ips, names):
        if key_path.stat().st_mode & 0o077:
            os.chmod(key_path, 0o600)
        return cert_path, key_path
    cert_pem, key_pem = _make(ips, names)
    _write(key_path, key_pem, 0o600)
    _write(cert_path, cert_pem, 0o644)
    return cert_path, key_path


def fingerprint(cert_path: Path | str) -> str:
    """The certificate's SHA-256 fingerprint as colon hex ("AB:12:..."), as browsers show it in its details."""
    return _load(Path(cert_path)).fingerprint(hashes.SHA256()).hex(":").upper()


def certificate_names(cert_path: Path | str) -> list[str]:
    """The host names and addresses the certificate is valid for (its subjectAltName)."""
    san = _load(Path(cert_path)).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [*san.get_values_for_type(x509.DNSName), *(str(ip) for ip in san.get_values_for_type(x509.IPAddress))]
