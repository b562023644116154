"""The websocket endpoints: ``/ws/shopper`` (the widget) and ``/ws/agent`` (the console). See docs/protocol.md.

Every frame is a JSON object with a ``type`` (typed models in :mod:`bot.conversations.ws_frames`). A bad frame
(too large, not JSON, unknown type, invalid fields) gets an ``error`` frame and the socket stays open; the
documented close codes (``CLOSE_CODES``) end a socket: failed hello/auth, timeout, rate limits, lagging,
logout or account change.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket

from bot.conversations.catchup import SeqTracker
from bot.conversations.runtime import ChatRuntime
from bot.conversations.ws_agent import AgentSocket
from bot.conversations.ws_frames import CLOSE_FORBIDDEN_ORIGIN, error_frame, parse_frame
from bot.conversations.ws_shopper import ShopperSocket
from bot.settings import Settings
from bot.web.clients import client_address

log = logging.getLogger(__name__)
router = APIRouter()

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")
__all__ = ["SeqTracker", "error_frame", "origin_allowed", "parse_frame", "router"]


def origin_allowed(origin: str | None, host: str | None, settings: Settings) -> bool:
    """Same origin, configured origins, and (by default) localhost; no Origin header means no browser."""
    if origin is None:
        return True
    allowed = [o.rstrip("/").lower() for o in settings.allowed_origins]
    if "*" in allowed:
        return True
    value = origin.strip().rstrip("/").lower()
    if value in allowed:
        return True
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https"):
        return False
    if host and parts.netloc == host.strip().lower():
        return True
    return bool(settings.allow_localhost_origins and parts.hostname in LOCAL_HOSTS)


@router.websocket("/ws/shopper")
async def shopper_socket(websocket: WebSocket) -> None:
    """The widget's socket: hello, then messages; see docs/protocol.md."""
    runtime: ChatRuntime = websocket.app.state.chat
    if not origin_allowed(websocket.headers.get("origin"), websocket.headers.get("host"), runtime.settings):
        log.info("refused shopper socket from origin %r", websocket.headers.get("origin"))
        await websocket.close(CLOSE_FORBIDDEN_ORIGIN)
        return
    await websocket.accept()
    await ShopperSocket(websocket, runtime, client_address(websocket)).run()


@router.websocket("/ws/agent")
async def agent_socket(websocket: WebSocket) -> None:
    """The console's socket; its first frame is ``{"type": "auth", "token": ...}`` (never a token in the URL)."""
    runtime: ChatRuntime = websocket.app.state.chat
    if not origin_allowed(websocket.headers.get("origin"), websocket.headers.get("host"), runtime.settings):
        await websocket.close(CLOSE_FORBIDDEN_ORIGIN)
        return
    await websocket.accept()
    await AgentSocket(websocket, runtime).run()
