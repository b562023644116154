"""Who is calling: the client's address, believing ``X-Forwarded-For`` only from trusted proxies.

Behind nginx every connection comes from 127.0.0.1; the real client is the right-most address in
``X-Forwarded-For`` that is not a trusted proxy. Anyone else could write the header themselves, so it is
ignored unless the peer is in ``BORDERLESS_TRUSTED_PROXIES``.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from starlette.requests import HTTPConnection

from bot.settings import Settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=32)
def trusted_networks(spec: str) -> tuple[Network, ...]:
    """``"127.0.0.1, 10.0.0.0/8"`` -> networks (entries that are not addresses are ignored)."""
    networks: list[Network] = []
    for item in spec.split(","):
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            continue
    return tuple(networks)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(conn: HTTPConnection, settings: Settings) -> str:
    """The calling client's address (a request or a websocket); ``"unknown"`` when the server cannot tell."""
    peer = conn.client.host if conn.client else "unknown"
    networks = trusted_networks(settings.trusted_proxies or "")
    if not networks or not _trusted(peer, networks):
        return peer
    hops = [h.strip() for h in ",".join(conn.headers.getlist("x-forwarded-for")).split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return hop[:64]
    return hops[0][:64] if hops else peer
