"""What both websocket endpoints share: serialised sends, the relay pump, and a handler table of typed frames."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from bot.conversations.errors import ChatError
from bot.conversations.runtime import ChatRuntime
from bot.conversations.ws_frames import CLOSE_HELLO_TIMEOUT, CLOSE_LAGGING, Frame, FrameReader, error_frame
from bot.db.types import new_id
from bot.realtime.pubsub import SubscriberOverflow, Subscription

log = logging.getLogger(__name__)

Handler = Callable[[Any], Awaitable[None]]


class FrameSocket:
    """One connection. Subclasses fill ``handlers`` (frame type -> coroutine taking the typed frame)."""

    def __init__(self, websocket: WebSocket, runtime: ChatRuntime, union: Any) -> None:
        self.ws = websocket
        self.runtime = runtime
        self.settings = runtime.settings
        self.reader = FrameReader(union, self.settings.ws_max_frame_bytes)
        self.id = new_id()
        self._send_lock = asyncio.Lock()
        self.sub: Subscription | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.open = True
        self.handlers: dict[str, Handler] = {}
        self._poller: asyncio.Task[None] | None = None
        runtime.sockets.add(self)  # metrics, and SIGTERM (uvicorn closes them with 1012)

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

    async def refuse(self, code: str, detail: str, close_code: int, **extra: Any) -> None:
        """An error frame, then close with ``close_code``."""
        await self.send(error_frame(code, detail, **extra))
        await self.close(close_code)

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

    async def await_first(self, kind: str, what: str) -> Frame | None:
        """Wait (at most the hello timeout) for the frame that opens the session: shopper ``hello``, agent ``auth``.

        ``ping`` is answered meanwhile; bad frames get error frames; anything else is told to send ``kind`` first.
        """
        deadline = time.monotonic() + self.settings.ws_hello_timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                message = await asyncio.wait_for(self.receive(), timeout=max(0.01, remaining))
            except TimeoutError:
                await self.refuse("bad_request", f"no {kind} received in time", CLOSE_HELLO_TIMEOUT)
                return None
            if message is None:
                return None
            frame, error = self.reader.read(message)
            if error is not None:
                await self.send(error)
            elif frame.type == kind:
                return frame
            elif frame.type == "ping":
                await self.send({"type": "pong"})
            else:
                await self.send(error_frame("bad_request", f"send {what} first"))

    def accepts(self, envelope: dict[str, Any]) -> bool:
        return envelope.get("origin") != self.id

    async def deliver(self, envelope: dict[str, Any]) -> None:
        await self.send(envelope["frame"])

    async def catch_up(self) -> None:
        """Send from the database what the relay may have missed (socket kinds override)."""

    async def resync(self) -> None:
        """The relay may have missed frames: catch up now, and keep polling while it is degraded."""
        await self._catch_up_safely()
        if self.runtime.bus_degraded and (self._poller is None or self._poller.done()) and self.open:
            self._poller = asyncio.create_task(self._poll_while_degraded())
            self.tasks.append(self._poller)

    async def _poll_while_degraded(self) -> None:
        while self.open and self.runtime.bus_degraded:
            await asyncio.sleep(self.settings.relay_poll_seconds)
            await self._catch_up_safely()
        if self.open:
            await self._catch_up_safely()

    async def _catch_up_safely(self) -> None:
        try:
            await self.catch_up()
        except Exception as exc:  # the database may be briefly unreachable too: the next poll or resume retries
            log.warning("socket %s: catching up from the database failed: %s", self.id, exc)

    async def pump(self) -> None:
        """Forward relayed frames to this socket until it closes; a ``resync`` envelope (the relay was down)
        makes it catch up from the database."""
        assert self.sub is not None
        try:
            if self.runtime.bus_degraded:
                await self.resync()
            while self.open:
                envelope = await self.sub.get()
                if envelope.get("resync"):
                    await self.resync()
                elif self.accepts(envelope):
                    await self.deliver(envelope)
        except SubscriberOverflow:
            log.warning("socket %s fell behind; closing it so it resumes from the database", self.id)
            await self.close(CLOSE_LAGGING)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("relay to socket %s failed", self.id)
            await self.close(1011)

    async def dispatch(self, frame: Frame) -> None:
        """Run the frame's handler. A service refusal is a ``bad_request`` with the service's code as ``reason``;
        an unexpected failure (database down...) costs an ``internal`` error frame, not the socket."""
        client_id = getattr(frame, "client_id", None)
        try:
            await self.handlers[frame.type](frame)
        except ChatError as exc:
            await self.send(error_frame("bad_request", exc.detail, reason=exc.code, client_id=client_id))
        except Exception:
            log.exception("socket %s: %s frame failed", self.id, frame.type)
            await self.send(error_frame("internal", "the server could not process this frame; retry later",
                                        client_id=client_id))

    async def serve_frames(self) -> None:
        """Read and handle frames until the client goes; a bad frame is answered with an error frame."""
        while self.open:
            message = await self.receive()
            if message is None:
                break
            frame, error = self.reader.read(message)
            if error is not None:
                await self.send(error)
                continue
            await self.dispatch(frame)

    async def pong(self, _frame: Frame) -> None:
        await self.send({"type": "pong"})

    def start(self, coro: Any) -> None:
        self.tasks.append(asyncio.create_task(coro))

    async def cleanup(self) -> None:
        self.open = False
        self.runtime.sockets.discard(self)
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.sub is not None:
            await self.sub.close()

