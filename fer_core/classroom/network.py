"""This computer's address on the local network, the one pupils' phones and laptops can reach.

Found without sending a single packet: a UDP socket's `connect` only asks the operating system which interface
would route to an address, and the addresses tried are private or reserved, so nothing ever leaves for the
internet.
"""
from __future__ import annotations

import ipaddress
import socket

# Private (RFC 1918) and reserved documentation addresses: a route to them names the LAN interface, and a UDP
# `connect` sends nothing. The port is irrelevant (no packet is sent).
_PROBES = ("10.254.254.254", "192.168.255.254", "172.31.255.254", "198.51.100.1")
LOOPBACK = "127.0.0.1"


def _usable(address: str) -> bool:
    """An IPv4 address another machine could use to reach this one (not loopback, link-local or unspecified)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.version == 4 and not (ip.is_loopback or ip.is_unspecified or ip.is_link_local or ip.is_multicast)


def _route_address(probe: str) -> str | None:
    """The local address the system would use to reach `probe`, or None when there is no such route."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect((probe, 9))  # UDP: sets the default destination only, sends nothing
            return sock.getsockname()[0]
    except OSError:
        return None


def _hostname_addresses() -> list[str]:
    """The addresses this computer's own name resolves to (locally: /etc/hosts, mDNS or the LAN's DNS)."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET, socket.SOCK_STREAM)
    except OSError:
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def lan_address() -> str:
    """The IPv4 address pupils should open; "127.0.0.1" when this computer is on no network at all."""
    for probe in _PROBES:
        address = _route_address(probe)
        if address and _usable(address):
            return address
    for address in _hostname_addresses():
        if _usable(address):
            return address
    return LOOPBACK


def all_addresses() -> list[str]:
    """Every IPv4 address found for this computer (LAN first, loopback last), for the certificate's names, so
    that it stays valid when the laptop is reached through another interface."""
    found = [lan_address()]
    found += [a for a in (_route_address(p) for p in _PROBES) if a and _usable(a)]
    found += [a for a in _hostname_addresses() if _usable(a)]
    found.append(LOOPBACK)
    return list(dict.fromkeys(found))
