"""The chat server's moving parts in one object (``app.state.chat``): services, relay, engine, bot turns."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool

from bot.auth.presence import AgentPresence
from bot.auth.service import resolve_secret_key
from bot.conversations.desk import AgentDesk
from bot.conversations.engine import EngineProvider, fallback_decision
from bot.conversations.errors import NotFound
from bot.conversations.events import Outbox, conversation_channel
from bot.conversations.handoff_port import HandoffQueue
from bot.conversations.ratelimit import SocketLimits
from bot.conversations.service import ChatService
from bot.conversations.welcome import PopularQuestions
from bot.db.session import Database
from bot.nlu.base import Decision
from bot.realtime.pubsub import PubSub
from bot.settings import Settings

if TYPE_CHECKING:  # built by bot.app and passed in: conversations imports neither handoff nor translation
    from bot.translation.chat import ChatTranslation
    from bot.translation.service import TranslationService

log = logging.getLogger(__name__)


class ChatRuntime:
    """Owns the services, the relay and the bot's background turns for one app."""

    def __init__(self, settings: Settings, db: Database, bus: PubSub, engine_provider: EngineProvider,
                 handoff: HandoffQueue | Any, translator: TranslationService, translation: ChatTranslation,
                 redact: Callable[[str], str] | None = None) -> None:
        self.settings = settings
        self.db = db
        self.bus = bus
        self.engine_provider = engine_provider
        self.translator = translator
        self.translation = translation
        #: The handoff domain's service (``bot.handoff.service.HandoffService``).
        self.handoff = handoff
        self.chat = ChatService(db, settings, resolve_secret_key(settings), handoff, translation, redact)
        self.desk = AgentDesk(self.chat)
        self.popular = PopularQuestions(settings.widget_popular, settings.kb_path, engine_provider.knowledge)
        self.limits = SocketLimits(settings)
        self._locks: dict[str, list[Any]] = {}  # id -> [lock, users]
        self._tasks: set[asyncio.Task[None]] = set()
        self.sockets: set[Any] = set()  # open websockets of this process (metrics, shutdown)
        self.closing = False  # SIGTERM received: /healthz says so, the balancer stops sending sockets here
        self.metrics: Any = None  # bot.metrics.ChatMetrics, set by the app
        self.presence: AgentPresence | None = None  # agents' heartbeats (bot.auth.presence), set by the app

    @property
    def bus_degraded(self) -> bool:
        """The cross-process relay is down: sockets poll the database (see bot.realtime.redis)."""
        return bool(getattr(self.bus, "degraded", False))

    async def publish(self, outbox: Outbox) -> None:
        """Relay frames of a committed transaction."""
        for channel, envelope in outbox.items:
            try:
                await self.bus.publish(channel, envelope)
            except Exception:  # the data is stored; subscribers catch up on resume
                log.exception("publish to %s failed", channel)

    async def publish_frame(self, conversation_id: str, frame: dict[str, Any], origin: str | None = None) -> None:
        """Relay a transient frame (typing) to a conversation's shopper sockets."""
        await self.bus.publish(conversation_channel(conversation_id), {"frame": frame, "origin": origin,
                                                                       "agents": None})

    # ------------------------------------------------------------------ bot turns
    def schedule_bot(self, conversation_id: str, message_id: str, text: str) -> asyncio.Task[None]:
        """Answer a stored shopper message in the background; turns of one conversation run in order.

        The task outlives the socket that asked for it: the reply is stored and seen on resume.
        """
        task = asyncio.create_task(self._bot_turn(conversation_id, message_id, text, time.perf_counter()),
                                   name=f"bot:{conversation_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _bot_turn(self, conversation_id: str, message_id: str, text: str, started: float) -> None:
        entry = self._locks.get(conversation_id)
        if entry is None:
            entry = self._locks[conversation_id] = [asyncio.Lock(), 0]
        entry[1] += 1
        try:
            async with entry[0]:
                decision = await self._answer(conversation_id, message_id, text)
            if decision is not None and self.metrics is not None:
                self.metrics.bot_reply(decision.action, time.perf_counter() - started, decision.reason)
        except Exception:
            log.exception("bot turn for conversation %s failed", conversation_id)
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                self._locks.pop(conversation_id, None)

    async def _answer(self, conversation_id: str, message_id: str, text: str) -> Decision | None:
        try:
            state, context = await run_in_threadpool(self.chat.bot_context, conversation_id)
        except NotFound:
            return None
        if state != "bot":
            return None
        await self.publish_frame(conversation_id, {"type": "typing", "role": "bot"})
        try:
            decision: Decision = await self.engine_provider.respond(text, context)
        except Exception:
            log.exception("answer engine failed for conversation %s", conversation_id)
            decision = fallback_decision(context.lang or context.locale_hint or self.settings.default_locale)
        topic = self.engine_provider.topic_for(decision)
        outbox = await run_in_threadpool(self.chat.record_decision, conversation_id, message_id, decision, topic)
        await self.publish(outbox)
        return decision

    @property
    def turns_in_flight(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float = 10.0) -> None:
        """Let running bot turns finish (server shutdown), then cancel what is left.

        Turns started meanwhile (a shopper still connected here sent a message) are waited for too. A cancelled
        turn loses nothing: its shopper message is stored and answered when the conversation resumes.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        finished = 0
        while self._tasks:
            tasks = list(self._tasks)
            done, pending = await asyncio.wait(tasks, timeout=max(0.0, deadline - loop.time()))
            finished += len(done)
            if pending and loop.time() >= deadline:
                for task in pending:
                    task.cancel()
                log.info("shutdown: %d bot turns finished, %d cancelled", finished, len(pending))
                return
        if finished:
            log.info("shutdown: %d bot turns finished", finished)
