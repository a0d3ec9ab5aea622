"""The SSRF guard: a webhook may only target public addresses (unless WEBHOOK_ALLOW_PRIVATE is set).

The host is resolved and every address it resolves to is checked; delivery then connects to an address
that was checked, so a DNS answer that changes between check and connect (rebinding) cannot redirect it.
"""
from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

SCHEMES = {"http": 80, "https": 443}


# host, port -> the addresses to check and connect to. The system's resolver by default; a test passes a
# stub that answers differently from one call to the next (DNS rebinding).
Resolver = Callable[[str, int], list[str]]


class UnsafeTarget(ValueError):
    """The URL may not be used as a webhook target."""


def system_resolver(host: str, port: int) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def _why_refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return "an IPv4-mapped IPv6"
        if address.sixtofour is not None and _why_refused(address.sixtofour):
            return "a 6to4 (of a non-public IPv4)"
        if address.is_site_local:
            return "a site-local"
    for label, flag in (("a loopback", address.is_loopback), ("a private", address.is_private),
                        ("a link-local", address.is_link_local), ("a multicast", address.is_multicast),
                        ("a reserved", address.is_reserved), ("an unspecified", address.is_unspecified)):
        if flag:
            return label
    return None if address.is_global else "a non-public"


def target(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL, or UnsafeTarget."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise UnsafeTarget("must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise UnsafeTarget("must not carry credentials")
    try:
        port = parts.port or SCHEMES[parts.scheme]
    except ValueError:
        raise UnsafeTarget("has an invalid port") from None
    return parts.scheme, parts.hostname, port


def resolve(url: str, allow_private: bool = False, resolver: Resolver = system_resolver) -> list[str]:
    """The addresses `url`'s host resolves to, all of them checked; UnsafeTarget if any is refused."""
    _, host, port = target(url)
    return resolve_host(host, port, allow_private, resolver)


def resolve_host(host: str, port: int, allow_private: bool = False,
                 resolver: Resolver = system_resolver) -> list[str]:
    """The addresses `host` resolves to, all of them checked; UnsafeTarget if any is refused."""
    try:
        addresses = sorted(set(resolver(host, port)))
    except (socket.gaierror, UnicodeError):
        raise UnsafeTarget(f"host {host!r} does not resolve") from None
    if not addresses:
        raise UnsafeTarget(f"host {host!r} does not resolve")
    if not allow_private:
        for raw in addresses:
            reason = _why_refused(ipaddress.ip_address(raw.split("%", 1)[0]))
            if reason:
                raise UnsafeTarget(f"{host} resolves to {raw}, {reason} address")
    return addresses


def literal_resolver(host: str, port: int) -> list[str]:
    """What a host is without asking DNS: an IP literal itself, `localhost` names loopback, any other name
    nothing to refuse yet (an empty list means: check again once it is resolved)."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return ["127.0.0.1"]
    try:
        return [str(ipaddress.ip_address(name.split("%", 1)[0]))]
    except ValueError:
        return []
