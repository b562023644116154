"""``/ws/agent``: one agent console connection, authenticated by its first frame.

After ``{"type": "auth", "token": ...}`` the socket gets queue updates, live messages of held conversations and
typing. It re-checks its login every ``ws_auth_check_seconds`` against the database, so a logout or deactivation
(4401) and a change of role or languages (4412) close it within seconds, whichever process made the change.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from fastapi import WebSocket
from starlette.concurrency import run_in_threadpool

from bot.auth.deps import principal_for_token
from bot.auth.models import AGENT_ROLES
from bot.auth.presence import heartbeat
from bot.auth.service import Principal
from bot.conversations.catchup import SeqTracker, held_messages, held_seqs
from bot.conversations.events import AGENTS_CHANNEL
from bot.conversations.runtime import ChatRuntime
from bot.conversations.ws_frames import (
    CLOSE_ACCOUNT_CHANGED,
    CLOSE_UNAUTHORIZED,
    AgentFrame,
    AgentTyping,
    Auth,
    QueueRequest,
    error_frame,
)
from bot.conversations.ws_socket import FrameSocket

log = logging.getLogger(__name__)

TYPING_RELAY_SECONDS = 2.0


class AgentSocket(FrameSocket):
    """Queue updates, live messages of held conversations, typing; closes when its login ends or changes."""

    def __init__(self, websocket: WebSocket, runtime: ChatRuntime) -> None:
        super().__init__(websocket, runtime, AgentFrame)
        self.user: Principal | None = None
        self._token = ""
        self._queue_dirty = asyncio.Event()
        self._typing_at: dict[str, float] = {}
        self._held: dict[str, SeqTracker] = {}  # conversation -> messages relayed here (catch-up)
        self.handlers = {"typing": self.on_typing, "queue": self.on_queue, "ping": self.pong,
                         "auth": self.on_second_auth}

    @property
    def principal(self) -> Principal:
        assert self.user is not None
        return self.user

    def accepts(self, envelope: dict[str, Any]) -> bool:
        if envelope.get("origin") == self.id:
            return False
        agents = envelope.get("agents")
        return agents is None or self.principal.id in agents

    async def deliver(self, envelope: dict[str, Any]) -> None:
        frame = envelope["frame"]
        if frame.get("type") == "queue_changed":
            self._queue_dirty.set()
            return
        message = frame.get("message") if frame.get("type") == "message" else None
        if isinstance(message, dict) and isinstance(frame.get("conversation_id"), str):
            tracker = self._held.setdefault(frame["conversation_id"], SeqTracker())
            if not tracker.add(message.get("seq")):
                return  # already caught up from the database
        if isinstance(message, dict) and message.get("role") in self.runtime.translation.roles:
            # A copy per socket (the envelope is shared); checked and translated in a thread (listing pairs may
            # load a translator), bounded by the translation time limit.
            message = dict(message)
            await run_in_threadpool(self.runtime.translation.annotate, [message], self.principal)
            frame = {**frame, "message": message}
        await self.send(frame)

    async def catch_up(self) -> None:
        self._queue_dirty.set()
        known = {cid: tracker.contiguous for cid, tracker in self._held.items()}
        missed = await run_in_threadpool(held_messages, self.runtime.db, self.principal.id, known)
        for cid, message in missed:
            if self._held.setdefault(cid, SeqTracker()).add(message["seq"]):
                if message.get("role") in self.runtime.translation.roles:
                    await run_in_threadpool(self.runtime.translation.annotate, [message], self.principal)
                await self.send({"type": "message", "conversation_id": cid, "message": message})

    async def send_queue(self) -> None:
        items = await run_in_threadpool(self.runtime.handoff.queue, self.principal)
        await self.send({"type": "queue", "items": [item.to_json() for item in items]})

    async def run(self) -> None:
        try:
            auth = await self.await_first("auth", 'auth ({"type": "auth", "token": "..."})')
            if not isinstance(auth, Auth):
                return
            user = await run_in_threadpool(principal_for_token, self.runtime.db, auth.token)
            if user is None or user.role not in AGENT_ROLES:
                await self.refuse("unauthorized", "log in as an agent or admin", CLOSE_UNAUTHORIZED)
                return
            self.user, self._token = user, auth.token
            self.sub = await self.runtime.bus.subscribe([AGENTS_CHANNEL])
            # What the console already has (it loads histories over REST); catch-up sends only what is newer.
            held = await run_in_threadpool(held_seqs, self.runtime.db, user.id)
            self._held = {cid: SeqTracker(seq) for cid, seq in held.items()}
            await self.send({"type": "welcome", "user": user.to_json()})
            await self.send_queue()
            self.start(self.pump())
            self.start(self._queue_pusher())
            self.start(self._presence())
            self.start(self._watch_login())
            await self.serve_frames()
        finally:
            await self.cleanup()

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
            await run_in_threadpool(heartbeat, self.runtime.db, self.runtime.presence, self.principal.id)
            await asyncio.sleep(interval)

    async def _watch_login(self) -> None:
        """Close the socket once its token is revoked or expired, the user deactivated, or their scope changed."""
        interval = max(0.1, self.settings.ws_auth_check_seconds)
        while self.open:
            await asyncio.sleep(interval)
            try:
                now = await run_in_threadpool(principal_for_token, self.runtime.db, self._token,
                                              self.runtime.presence)
            except Exception:  # database briefly unreachable: keep the socket, check again
                log.warning("agent socket %s: login check failed", self.id, exc_info=True)
                continue
            if now is None or now.role not in AGENT_ROLES:
                log.info("closing agent socket of %s: logged out or deactivated", self.principal.username)
                await self.refuse("session_ended", "your session ended; log in again", CLOSE_UNAUTHORIZED)
                return
            if (now.role, now.languages) != (self.principal.role, self.principal.languages):
                log.info("closing agent socket of %s: role or languages changed", now.username)
                await self.refuse("account_changed", "your role or languages changed; reconnect",
                                  CLOSE_ACCOUNT_CHANGED)
                return

    async def on_typing(self, frame: AgentTyping) -> None:
        cid, now = frame.conversation_id, time.monotonic()
        if now - self._typing_at.get(cid, 0.0) < TYPING_RELAY_SECONDS:
            return
        if len(self._typing_at) > 1000:
            self._typing_at.clear()
        self._typing_at[cid] = now
        holder = await run_in_threadpool(self.runtime.chat.holder, cid)
        if holder is not None and (holder == self.principal.id or self.principal.role == "admin"):
            await self.runtime.publish_frame(cid, {"type": "typing", "role": "agent"})

    async def on_queue(self, _frame: QueueRequest) -> None:
        await self.send_queue()

    async def on_second_auth(self, _frame: Auth) -> None:
        await self.send(error_frame("bad_request", "already authenticated"))
