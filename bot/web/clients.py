"""Who is calling: the client's address, honouring ``X-Forwarded-For`` only from trusted proxies.

Any client can send ``X-Forwarded-For``; believing it lets a client pick the address its login throttle and rate
limits are counted under. The header is read only when the connection comes from one of
``BORDERLESS_TRUSTED_PROXIES`` (addresses or CIDRs), and then from the right: the first address that is not a
trusted proxy is the client (entries further left were written by the client itself). One helper,
:func:`client_address`, is what the login throttle, rate limits and logs use;
:class:`ForwardedClientMiddleware` puts the same address into the ASGI scope so the access log shows it too.

Run uvicorn with ``proxy_headers=False`` (``borderless serve`` does): uvicorn's own handling trusts
``127.0.0.1`` by default and would rewrite the peer before this code sees it.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: Where the resolved address is kept in the ASGI scope (computed once per request).
SCOPE_KEY = "borderless.client"
UNKNOWN = "unknown"


@lru_cache(maxsize=32)
def parse_networks(spec: str | tuple[str, ...]) -> tuple[Network, ...]:
    """``"10.0.0.0/8, 127.0.0.1"`` (or a tuple of such items) as networks; a bad item raises ValueError."""
    items = spec.split(",") if isinstance(spec, str) else [p for s in spec for p in s.split(",")]
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip())


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[::1]:443"
        value = value[1:value.index("]")]
    elif value.count(":") == 1:  # "1.2.3.4:5678"
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _trusted(address: str, networks: Iterable[Network]) -> bool:
    ip = _ip(address)
    return ip is not None and any(ip in net for net in networks)


def resolve(peer: str | None, forwarded_for: list[str], trusted: tuple[Network, ...]) -> str:
    """The client address given the TCP peer, the ``X-Forwarded-For`` header values and the trusted proxies."""
    if not peer:
        return UNKNOWN
    if not trusted or not forwarded_for or not _trusted(peer, trusted):
        return peer
    hops = [h.strip() for value in forwarded_for for h in value.split(",") if h.strip()]
    for hop in reversed(hops):
        if _ip(hop) is None:  # garbage in the header: stop believing it here
            return peer
        if not _trusted(hop, trusted):
            return str(_ip(hop))
    return str(_ip(hops[0])) if hops else peer


def _trusted_from_scope(scope: Scope) -> tuple[Network, ...]:
    app = scope.get("app")
    settings = getattr(getattr(app, "state", None), "settings", None)
    if settings is None:
        from bot.settings import get_settings

        settings = get_settings()
    return parse_networks(tuple(settings.trusted_proxies))


def client_address(request_or_scope: HTTPConnection | Scope | Any) -> str:
    """The calling client's address for a request, websocket or raw ASGI scope (``"unknown"`` if none)."""
    scope: Scope = request_or_scope.scope if isinstance(request_or_scope, HTTPConnection) else request_or_scope
    cached = scope.get(SCOPE_KEY)
    if cached is not None:
        return cached
    client = scope.get("client")
    peer = client[0] if client else None
    forwarded = [v.decode("latin-1") for k, v in scope.get("headers") or [] if k == b"x-forwarded-for"]
    address = resolve(peer, forwarded, _trusted_from_scope(scope) if forwarded else ())
    scope[SCOPE_KEY] = address
    return address


class ForwardedClientMiddleware:
    """Resolve the client address once per request and put it in ``scope["client"]`` (for the access log)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            address = client_address(scope)
            client = scope.get("client")
            if client and address != client[0]:
                # In place: uvicorn logs from this same dict once the response is sent.
                scope["client"] = (address, client[1])
        await self.app(scope, receive, send)
