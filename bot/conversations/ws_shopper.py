"""``/ws/shopper``: one widget connection, attached to one conversation after ``hello``."""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from fastapi import WebSocket
from starlette.concurrency import run_in_threadpool

from bot.conversations.catchup import SeqTracker
from bot.conversations.errors import Invalid
from bot.conversations.events import AGENTS_CHANNEL, conversation_channel
from bot.conversations.ratelimit import Verdict
from bot.conversations.runtime import ChatRuntime
from bot.conversations.texts import ui_bundle
from bot.conversations.ws_frames import (
    CLOSE_RATE_LIMITED,
    CLOSE_UNAUTHORIZED,
    Email,
    Hello,
    Rating,
    ShopperFrame,
    ShopperMessage,
    Typing,
    error_frame,
)
from bot.conversations.ws_socket import FrameSocket
from bot.i18n import text_direction

log = logging.getLogger(__name__)

TYPING_RELAY_SECONDS = 2.0


def rate_limited(verdict: Verdict, client_id: str | None = None) -> dict[str, object]:
    return error_frame("rate_limited", f"too many requests ({verdict.limit}); retry in {verdict.retry_after} s",
                       retry_after=verdict.retry_after, limit=verdict.limit, client_id=client_id)


class ShopperSocket(FrameSocket):
    """Messages, typing, email and rating of one conversation; budgets are the conversation's and the address's."""

    def __init__(self, websocket: WebSocket, runtime: ChatRuntime, address: str) -> None:
        super().__init__(websocket, runtime, ShopperFrame)
        self.address = address
        self.conversation_id: str | None = None
        self._typing_at = 0.0
        self.state: str | None = None
        self.seqs = SeqTracker()  # messages sent to this socket (or that the client had before hello)
        self.handlers = {"message": self.on_message, "typing": self.on_typing, "email": self.on_email,
                         "rating": self.on_rating, "ping": self.pong, "hello": self.on_second_hello}

    async def run(self) -> None:
        limits = self.runtime.limits
        if not await limits.open_socket(self.address):
            log.info("refused a shopper socket: %s already has %d open", self.address,
                        limits.open_sockets(self.address))
            await self.send(error_frame("rate_limited", "too many open chats from your address",
                                        retry_after=60, limit="address_sockets"))
            await self.close(CLOSE_RATE_LIMITED)
            return
        try:
            hello = await self.await_first("hello", "hello")
            if isinstance(hello, Hello) and await self._attach(hello):
                await self.serve_frames()
        finally:
            await limits.close_socket(self.address)
            await self.cleanup()

    async def _attach(self, hello: Hello) -> bool:
        chat = self.runtime.chat
        if hello.conversation_id is None and hello.token is None:
            verdict = await self.runtime.limits.new_conversation(self.address)
            if not verdict.allowed:
                await self.send(rate_limited(verdict))
                await self.close(CLOSE_RATE_LIMITED)
                return False
        opened = await run_in_threadpool(chat.open, hello.store_key, hello.conversation_id, hello.token, hello.locale)
        if opened is None:
            await self.refuse("unauthorized", "unknown store key or conversation token", CLOSE_UNAUTHORIZED)
            return False
        self.conversation_id = opened.conversation_id
        # Subscribe before reading history: a frame relayed in between arrives twice at worst (dedupe by id).
        self.sub = await self.runtime.bus.subscribe([conversation_channel(opened.conversation_id)])
        after = hello.last_seq if hello.last_seq is not None and hello.last_seq > 0 else 0
        messages, self.state = await run_in_threadpool(chat.history, opened.conversation_id, after)
        self.seqs = SeqTracker(min(after, opened.last_seq))  # a client may claim more than there is
        for message in messages:
            self.seqs.add(message["seq"])
        await self.send({
            "type": "welcome",
            "conversation_id": opened.conversation_id,
            "token": opened.token,
            "state": opened.state,
            "lang": opened.lang,
            "dir": text_direction(opened.lang),
            "agent_name": opened.agent_name,
            "reason": opened.reason,
            "ui": ui_bundle(opened.lang),
            "popular": self.runtime.popular.for_store(hello.store_key, opened.lang),
            "messages": messages,
        })
        self.start(self.pump())
        pending = await run_in_threadpool(chat.unanswered, opened.conversation_id)
        if pending is not None:
            log.info("conversation %s: answering a message left unanswered", opened.conversation_id)
            self.runtime.schedule_bot(opened.conversation_id, *pending)
        return True

    async def deliver(self, envelope: dict[str, Any]) -> None:
        frame = envelope["frame"]
        kind = frame.get("type")
        if kind == "message":
            if not self.seqs.add(frame["message"].get("seq")):
                return  # already sent (caught up from the database first)
        elif kind == "state":
            self.state = frame.get("state")
        await self.send(frame)

    async def catch_up(self) -> None:
        cid = self.conversation_id
        if cid is None:
            return
        messages, state = await run_in_threadpool(self.runtime.chat.history, cid, self.seqs.contiguous)
        for message in messages:
            if self.seqs.add(message["seq"]):
                await self.send({"type": "message", "message": message})
        if state != self.state:
            frame = await run_in_threadpool(self.runtime.chat.shopper_state, cid)
            self.state = frame["state"]
            await self.send(frame)

    @property
    def cid(self) -> str:
        assert self.conversation_id is not None
        return self.conversation_id

    async def on_message(self, frame: ShopperMessage) -> None:
        verdict = await self.runtime.limits.message(self.cid, self.address)
        if not verdict.allowed:
            await self.send(rate_limited(verdict, frame.client_id))
            return
        if self.state == "bot":  # the model's head start while the message is stored (bot/nlu/early.py)
            with contextlib.suppress(Invalid):  # the text as stored and answered: checked and redacted
                self.runtime.engine_provider.prefetch(self.runtime.chat.check_text(frame.text))
        stored = await run_in_threadpool(self.runtime.chat.add_shopper_message, self.cid, frame.client_id,
                                         frame.text, frame.faq_id, self.id)
        self.seqs.add(stored.message.get("seq"))
        await self.send({"type": "ack", "client_id": frame.client_id, "message": stored.message})
        await self.runtime.publish(stored.outbox)
        if stored.needs_bot:
            self.runtime.schedule_bot(self.cid, stored.message_id, stored.text)

    async def on_typing(self, _frame: Typing) -> None:
        now = time.monotonic()
        if now - self._typing_at < TYPING_RELAY_SECONDS:
            return
        self._typing_at = now
        holder = await run_in_threadpool(self.runtime.chat.holder, self.cid)
        if holder is not None:
            await self.runtime.bus.publish(AGENTS_CHANNEL, {
                "frame": {"type": "typing", "conversation_id": self.cid, "role": "shopper"},
                "origin": self.id, "agents": [holder]})

    async def on_email(self, frame: Email) -> None:
        verdict = await self.runtime.limits.email(self.cid)
        if not verdict.allowed:
            await self.send(rate_limited(verdict))
            return
        outbox = await run_in_threadpool(self.runtime.chat.set_email, self.cid, frame.email)
        await self.runtime.publish(outbox)

    async def on_rating(self, frame: Rating) -> None:
        await run_in_threadpool(self.runtime.chat.set_rating, self.cid, frame.score)
        await self.send({"type": "rated", "score": frame.score})

    async def on_second_hello(self, _frame: Hello) -> None:
        await self.send(error_frame("bad_request", "already attached to a conversation"))
