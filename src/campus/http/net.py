"""Who is on the other end: the client IP behind trusted proxies, and the scheme."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

from starlette.types import Scope


@lru_cache(maxsize=64)
def _networks(
    proxies: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _is_trusted(address: str, proxies: Sequence[str]) -> bool:
    if not proxies:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in _networks(tuple(proxies)))


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def client_ip(scope: Scope, trusted_proxies: Sequence[str]) -> str:
    """The socket peer, or the first untrusted hop of X-Forwarded-For behind trusted proxies."""
    client = scope.get("client")
    peer = client[0] if client else "unknown"
    if not _is_trusted(peer, trusted_proxies):
        return str(peer)
    forwarded = _header(scope, b"x-forwarded-for")
    if not forwarded:
        return str(peer)
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted_proxies):
            return hop
    return hops[0] if hops else str(peer)


def is_https(scope: Scope, trusted_proxies: Sequence[str]) -> bool:
    if scope.get("scheme") in ("https", "wss"):
        return True
    client = scope.get("client")
    if client and _is_trusted(client[0], trusted_proxies):
        proto = _header(scope, b"x-forwarded-proto")
        return proto is not None and proto.split(",")[0].strip().lower() == "https"
    return False
