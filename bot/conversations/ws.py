"""The websocket endpoints: ``/ws/shopper`` (the widget) and ``/ws/agent`` (the console). See docs/protocol.md.

Every frame is a JSON object with a ``type``. A bad frame (too large, not JSON, unknown type, invalid fields)
gets an ``error`` frame and the socket stays open; only a failed ``hello`` closes it (4401).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketState

from bot.auth.deps import principal_for_token
from bot.auth.service import Principal, touch
from bot.conversations.errors import ChatError
from bot.conversations.events import AGENTS_CHANNEL, conversation_channel
from bot.conversations.runtime import ChatRuntime
from bot.conversations.texts import ui_bundle
from bot.db.types import new_id
from bot.realtime.pubsub import SubscriberOverflow, Subscription
from bot.settings import Settings
from bot.web.unicode import has_lone_surrogate

log = logging.getLogger(__name__)
router = APIRouter()

CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN_ORIGIN = 4403
CLOSE_HELLO_TIMEOUT = 4408
CLOSE_LAGGING = 4409
TYPING_RELAY_SECONDS = 2.0
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")


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


def error_frame(code: str, detail: str = "", **extra: Any) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "code": code, "detail": detail or code}
    frame.update({k: v for k, v in extra.items() if v is not None})
    return frame


def parse_frame(message: dict[str, Any], max_bytes: int) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """``(frame, None)`` for a well-formed frame, ``(None, error frame)`` otherwise."""
    raw: str | bytes | None = message.get("text")
    if raw is None:
        raw = message.get("bytes")
    if raw is None:
        return None, error_frame("bad_request", "empty frame")
    if isinstance(raw, bytes):
        size = len(raw)
    else:  # UTF-8 takes at most 4 bytes a character: only long texts need encoding to be measured
        size = len(raw) if len(raw) * 4 <= max_bytes else len(raw.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        return None, error_frame("too_large", f"frame is {size} bytes; the limit is {max_bytes}")
    try:
        frame = json.loads(raw)
    except (ValueError, RecursionError):
        return None, error_frame("bad_json", "frame is not valid JSON")
    if not isinstance(frame, dict):
        return None, error_frame("bad_request", "a frame is a JSON object")
    if not isinstance(frame.get("type"), str):
        return None, error_frame("bad_request", "a frame needs a string 'type'")
    if has_lone_surrogate(frame):  # UTF-8 cannot store it: the client's error, not the server's `internal`
        return None, error_frame("bad_request", "the frame holds invalid Unicode (a lone surrogate)",
                                 reason="invalid_unicode")
    return frame, None


class _Socket:
    """Shared plumbing: serialised sends, the subscription pump, frame reading."""

    def __init__(self, websocket: WebSocket, runtime: ChatRuntime) -> None:
        self.ws = websocket
        self.runtime = runtime
        self.settings = runtime.settings
        self.id = new_id()
        self._send_lock = asyncio.Lock()
        self.sub: Subscription | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.open = True

    async def send(self, frame: dict[str, Any]) -> None:
        if not self.open:
            return
        data = json.dumps(frame, ensure_ascii=False, separators=(",", ":"))
        async with self._send_lock:
            try:
                await self.ws.send_text(data)
            except (WebSocketDisconnect, RuntimeError, OSError):
                self.open = False

    async def close(self, code: int) -> None:
        if self.open and self.ws.application_state == WebSocketState.CONNECTED:
            self.open = False
            with contextlib.suppress(RuntimeError, OSError):
                await self.ws.close(code)
        self.open = False

    async def receive(self) -> dict[str, Any] | None:
        """The next frame's raw message, or None once the client has gone."""
        try:
            message = await self.ws.receive()
        except (WebSocketDisconnect, RuntimeError):
            return None
        if message["type"] == "websocket.disconnect":
            self.open = False
            return None
        return message

    def accepts(self, envelope: dict[str, Any]) -> bool:
        return envelope.get("origin") != self.id

    async def deliver(self, envelope: dict[str, Any]) -> None:
        await self.send(envelope["frame"])

    async def pump(self) -> None:
        """Forward relayed frames to this socket until it closes."""
        assert self.sub is not None
        try:
            while self.open:
                envelope = await self.sub.get()
                if self.accepts(envelope):
                    await self.deliver(envelope)
        except SubscriberOverflow:
            log.warning("socket %s fell behind; closing it so it resumes from the database", self.id)
            await self.close(CLOSE_LAGGING)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("relay to socket %s failed", self.id)
            await self.close(1011)

    async def _handle(self, frame: dict[str, Any]) -> None:
        raise NotImplementedError

    async def handle_safely(self, frame: dict[str, Any]) -> None:
        """Handle one frame; an unexpected failure (database down...) costs an error frame, not the socket."""
        try:
            await self._handle(frame)
        except Exception:
            log.exception("socket %s: %s frame failed", self.id, frame.get("type"))
            client_id = frame.get("client_id") if isinstance(frame.get("client_id"), str) else None
            await self.send(error_frame("internal", "the server could not process this frame; retry later",
                                        client_id=client_id))

    async def serve_frames(self) -> None:
        """Read and handle frames until the client goes; a bad frame is answered with an error frame."""
        while True:
            message = await self.receive()
            if message is None:
                break
            frame, error = parse_frame(message, self.settings.ws_max_frame_bytes)
            if error is not None:
                await self.send(error)
                continue
            assert frame is not None
            await self.handle_safely(frame)

    def start(self, coro: Any) -> None:
        self.tasks.append(asyncio.create_task(coro))

    async def cleanup(self) -> None:
        self.open = False
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.sub is not None:
            await self.sub.close()


class ShopperSocket(_Socket):
    """One widget connection, attached to one conversation after ``hello``."""

    def __init__(self, websocket: WebSocket, runtime: ChatRuntime) -> None:
        super().__init__(websocket, runtime)
        self.conversation_id: str | None = None
        self._sent: deque[float] = deque()
        self._typing_at = 0.0

    def _rate_ok(self) -> bool:
        now = time.monotonic()
        while self._sent and now - self._sent[0] > 60.0:
            self._sent.popleft()
        if len(self._sent) >= self.settings.shopper_rate_per_minute:
            return False
        self._sent.append(now)
        return True

    async def run(self) -> None:
        try:
            hello = await self._await_hello()
            if hello is None or not await self._attach(hello):
                return
            await self.serve_frames()
        finally:
            await self.cleanup()

    async def _await_hello(self) -> dict[str, Any] | None:
        deadline = time.monotonic() + self.settings.ws_hello_timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                message = await asyncio.wait_for(self.receive(), timeout=max(0.01, remaining))
            except TimeoutError:
                await self.send(error_frame("bad_request", "no hello received in time"))
                await self.close(CLOSE_HELLO_TIMEOUT)
                return None
            if message is None:
                return None
            frame, error = parse_frame(message, self.settings.ws_max_frame_bytes)
            if error is not None:
                await self.send(error)
            elif frame["type"] == "hello":
                return frame
            elif frame["type"] == "ping":
                await self.send({"type": "pong"})
            else:
                await self.send(error_frame("bad_request", "send hello first"))

    async def _attach(self, hello: dict[str, Any]) -> bool:
        chat = self.runtime.chat
        opened = await run_in_threadpool(
            chat.open, hello.get("store_key"), hello.get("conversation_id"), hello.get("token"), hello.get("locale")
        )
        if opened is None:
            await self.send(error_frame("unauthorized", "unknown store key or conversation token"))
            await self.close(CLOSE_UNAUTHORIZED)
            return False
        self.conversation_id = opened.conversation_id
        # Subscribe before reading history: a frame relayed in between arrives twice at worst (dedupe by id).
        self.sub = await self.runtime.bus.subscribe([conversation_channel(opened.conversation_id)])
        last_seq = hello.get("last_seq")
        after = last_seq if isinstance(last_seq, int) and not isinstance(last_seq, bool) and last_seq > 0 else 0
        messages, _state = await run_in_threadpool(chat.history, opened.conversation_id, after)
        await self.send({
            "type": "welcome",
            "conversation_id": opened.conversation_id,
            "token": opened.token,
            "state": opened.state,
            "lang": opened.lang,
            "agent_name": opened.agent_name,
            "reason": opened.reason,
            "ui": ui_bundle(opened.lang),
            "popular": self.runtime.popular.for_store(hello.get("store_key"), opened.lang),
            "messages": messages,
        })
        self.start(self.pump())
        pending = await run_in_threadpool(chat.unanswered, opened.conversation_id)
        if pending is not None:
            log.info("conversation %s: answering a message left unanswered", opened.conversation_id)
            self.runtime.schedule_bot(opened.conversation_id, *pending)
        return True

    async def _handle(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        cid = self.conversation_id
        assert cid is not None
        chat = self.runtime.chat
        try:
            if kind == "message":
                client_id = frame.get("client_id") if isinstance(frame.get("client_id"), str) else None
                if not self._rate_ok():
                    await self.send(error_frame("rate_limited", "too many messages; wait a little",
                                                client_id=client_id))
                    return
                try:
                    stored = await run_in_threadpool(chat.add_shopper_message, cid, frame.get("client_id"),
                                                     frame.get("text"), frame.get("faq_id"), self.id)
                except ChatError as exc:
                    await self.send(error_frame("bad_request", exc.detail, reason=exc.code, client_id=client_id))
                    return
                await self.send({"type": "ack", "client_id": frame.get("client_id"), "message": stored.message})
                await self.runtime.publish(stored.outbox)
                if stored.needs_bot:
                    self.runtime.schedule_bot(cid, stored.message_id, stored.text)
            elif kind == "typing":
                now = time.monotonic()
                if now - self._typing_at >= TYPING_RELAY_SECONDS:
                    self._typing_at = now
                    holder = await run_in_threadpool(chat.holder, cid)
                    if holder is not None:
                        await self.runtime.bus.publish(AGENTS_CHANNEL, {
                            "frame": {"type": "typing", "conversation_id": cid, "role": "shopper"},
                            "origin": self.id, "agents": [holder]})
            elif kind == "email":
                outbox = await run_in_threadpool(chat.set_email, cid, frame.get("email"))
                await self.runtime.publish(outbox)
            elif kind == "rating":
                score = frame.get("score")
                await run_in_threadpool(chat.set_rating, cid, score)
                await self.send({"type": "rated", "score": score})
            elif kind == "ping":
                await self.send({"type": "pong"})
            elif kind == "hello":
                await self.send(error_frame("bad_request", "already attached to a conversation"))
            else:
                await self.send(error_frame("unknown_type", f"unknown frame type {kind[:40]!r}"))
        except ChatError as exc:
            await self.send(error_frame("bad_request", exc.detail, reason=exc.code))


class AgentSocket(_Socket):
    """One agent console connection: queue updates, live messages of held conversations, typing."""

    def __init__(self, websocket: WebSocket, runtime: ChatRuntime, user: Principal) -> None:
        super().__init__(websocket, runtime)
        self.user = user
        self._queue_dirty = asyncio.Event()
        self._typing_at: dict[str, float] = {}

    def accepts(self, envelope: dict[str, Any]) -> bool:
        if envelope.get("origin") == self.id:
            return False
        agents = envelope.get("agents")
        return agents is None or self.user.id in agents

    async def deliver(self, envelope: dict[str, Any]) -> None:
        frame = envelope["frame"]
        if frame.get("type") == "queue_changed":
            self._queue_dirty.set()
            return
        message = frame.get("message") if frame.get("type") == "message" else None
        if isinstance(message, dict) and message.get("role") in self.runtime.translation.roles:
            # A copy per socket (the envelope is shared); checked and translated in a thread (listing pairs may
            # load a translator), bounded by the translation time limit.
            message = dict(message)
            await run_in_threadpool(self.runtime.translation.annotate, [message], self.user)
            frame = {**frame, "message": message}
        await self.send(frame)

    async def send_queue(self) -> None:
        items = await run_in_threadpool(self.runtime.handoff.queue, self.user)
        await self.send({"type": "queue", "items": [item.to_json() for item in items]})

    async def _queue_pusher(self) -> None:
        """Coalesce queue changes: at most one queue frame per half second."""
        while self.open:
            await self._queue_dirty.wait()
            self._queue_dirty.clear()
            await self.send_queue()
            await asyncio.sleep(0.5)

    async def _presence(self) -> None:
        interval = max(1.0, self.settings.agent_presence_seconds / 3)
        while self.open:
            await run_in_threadpool(_touch, self.runtime.db, self.user.id)
            await asyncio.sleep(interval)

    async def run(self) -> None:
        try:
            self.sub = await self.runtime.bus.subscribe([AGENTS_CHANNEL])
            await self.send({"type": "welcome", "user": self.user.to_json()})
            await self.send_queue()
            self.start(self.pump())
            self.start(self._queue_pusher())
            self.start(self._presence())
            await self.serve_frames()
        finally:
            await self.cleanup()

    async def _handle(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "typing":
            cid = frame.get("conversation_id")
            if not isinstance(cid, str) or len(cid) > 64:
                await self.send(error_frame("bad_request", "typing needs a conversation_id"))
                return
            now = time.monotonic()
            if now - self._typing_at.get(cid, 0.0) < TYPING_RELAY_SECONDS:
                return
            if len(self._typing_at) > 1000:
                self._typing_at.clear()
            self._typing_at[cid] = now
            holder = await run_in_threadpool(self.runtime.chat.holder, cid)
            if holder is not None and (holder == self.user.id or self.user.role == "admin"):
                await self.runtime.publish_frame(cid, {"type": "typing", "role": "agent"})
        elif kind == "queue":
            await self.send_queue()
        elif kind == "ping":
            await self.send({"type": "pong"})
        else:
            await self.send(error_frame("unknown_type", f"unknown frame type {kind[:40]!r}"))


def _touch(db: Any, user_id: int) -> None:
    with db.session() as session:
        touch(session, user_id)


@router.websocket("/ws/shopper")
async def shopper_socket(websocket: WebSocket) -> None:
    """The widget's socket: hello, then messages; see docs/protocol.md."""
    runtime: ChatRuntime = websocket.app.state.chat
    if not origin_allowed(websocket.headers.get("origin"), websocket.headers.get("host"), runtime.settings):
        log.info("refused shopper socket from origin %r", websocket.headers.get("origin"))
        await websocket.close(CLOSE_FORBIDDEN_ORIGIN)
        return
    await websocket.accept()
    await ShopperSocket(websocket, runtime).run()


@router.websocket("/ws/agent")
async def agent_socket(websocket: WebSocket) -> None:
    """The console's socket, authenticated with ``?token=`` from ``POST /api/auth/login``."""
    runtime: ChatRuntime = websocket.app.state.chat
    if not origin_allowed(websocket.headers.get("origin"), websocket.headers.get("host"), runtime.settings):
        await websocket.close(CLOSE_FORBIDDEN_ORIGIN)
        return
    token = websocket.query_params.get("token")
    user = await run_in_threadpool(principal_for_token, runtime.db, token)
    await websocket.accept()
    if user is None or user.role not in ("agent", "admin"):
        await websocket.send_text(json.dumps(error_frame("unauthorized", "log in as an agent or admin")))
        await websocket.close(CLOSE_UNAUTHORIZED)
        return
    await AgentSocket(websocket, runtime, user).run()
