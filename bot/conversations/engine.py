"""The answer engine as the chat server uses it: built once (lazily, off the event loop), called in threads."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import importlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from starlette.concurrency import run_in_threadpool

from bot.i18n import t
from bot.knowledge.models import KnowledgeBase
from bot.nlu.base import ConversationContext, Decision, LiveEngine
from bot.settings import Settings

log = logging.getLogger(__name__)

#: Kernel name of the engine's threads (``/proc/<pid>/task/*/comm``). A thread inherits it when created, so the
#: model's OpenMP workers started by an engine thread carry it too: bench/cpu_per_reply.py splits a process's
#: CPU into the model's share and the rest by this name.
ENGINE_THREAD_NAME = b"bl-engine"


def name_os_thread(name: bytes = ENGINE_THREAD_NAME) -> None:
    """Set the calling thread's kernel name (Linux ``prctl(PR_SET_NAME)``); a no-op elsewhere."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True).prctl(15, ctypes.c_char_p(name[:15]), 0, 0, 0)


class Responder(Protocol):
    """What the chat needs from an answer engine (``bot.nlu.pipeline.AnswerEngine`` or a stand-in): a decision.

    Not called ``Engine``: that word is the answer engine only, and ``db.engine`` the SQLAlchemy one.
    """

    def respond(self, text: str, context: ConversationContext) -> Decision: ...


def load_factory(spec: str) -> Any:
    """``"package.module:function"`` -> the function."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"engine_factory must look like 'module:function', not {spec!r}")
    return getattr(importlib.import_module(module_name), attr)


def fallback_decision(lang: str, reason: str = "engine_error") -> Decision:
    """What the chat does when the engine cannot answer: hand the shopper to a human."""
    try:
        reply = t("handoff_low_confidence", lang, "bot")
    except (KeyError, FileNotFoundError):
        reply = "Let me connect you with a member of our support team."
    return Decision(lang=lang, intent="unknown", action="handoff", faq_id=None, confidence=0.0, reason=reason,
                    reply=reply)


class EngineProvider:
    """Builds the engine on first use (or at startup) and bounds how many ``respond`` calls run at once."""

    RETRY_AFTER_SECONDS = 60.0

    def __init__(self, settings: Settings, engine: Responder | None = None) -> None:
        self.settings = settings
        self._engine = engine
        self._lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(max(1, settings.engine_concurrency))
        # The engine's own threads (OpenMP in the embedding model and faiss) keep one team per calling thread:
        # calling from whichever threadpool worker is free would grow a team per worker and wake cold ones.
        # Dedicated threads keep the one warm team the bare model has (measured: bench/cpu_per_reply.py).
        self._executor = ThreadPoolExecutor(max(1, settings.engine_concurrency), thread_name_prefix="engine",
                                            initializer=name_os_thread)
        self._failed_at: float | None = None
        self.error: str | None = None
        self._queued = 0  # calls submitted to the engine's threads and not finished (touched on the event loop only)

    @property
    def status(self) -> str:
        if self._engine is not None:
            return "ready"
        if self.error:
            return "failed"
        return "loading" if self._lock.locked() else "idle"

    def _build(self) -> Responder:
        started = time.perf_counter()
        engine = load_factory(self.settings.engine_factory)(self.settings)
        try:  # load lazily initialised models now, not on the first shopper's message
            engine.respond("hello", ConversationContext(locale_hint=self.settings.default_locale))
        except Exception:
            log.warning("answer engine warm-up failed", exc_info=True)
        log.info("answer engine ready in %.1fs (%s)", time.perf_counter() - started, self.settings.engine_factory)
        return engine

    async def get(self) -> Responder:
        """The engine, building it once; raises if building failed (retried after a minute)."""
        if self._engine is not None:
            return self._engine
        async with self._lock:
            if self._engine is None:
                if self._failed_at is not None and time.monotonic() - self._failed_at < self.RETRY_AFTER_SECONDS:
                    raise RuntimeError(f"answer engine unavailable: {self.error}")
                try:
                    self._engine = await run_in_threadpool(self._build)
                    self.error, self._failed_at = None, None
                except Exception as exc:
                    self.error, self._failed_at = f"{type(exc).__name__}: {exc}", time.monotonic()
                    log.exception("cannot build the answer engine")
                    raise
        return self._engine

    async def respond(self, text: str, context: ConversationContext) -> Decision:
        """One decision, computed in a worker thread (CPU-bound)."""
        engine = await self.get()
        async with self._slots:
            return await self._submit(engine.respond, text, context)

    def prefetch(self, text: str) -> None:
        """Let the engine embed a message while the server stores it (see bot/nlu/early.py); returns at once.

        Only when the engine's threads are idle: then the model's time overlaps the commit and the context read and
        the reply comes sooner. Under load the threads are busy anyway, and early work would only queue ahead of
        turns already waiting. Engines without ``prefetch`` (stand-ins) are left alone.
        """
        early = getattr(self._engine, "prefetch", None)
        if early is None or self._queued >= max(1, self.settings.engine_concurrency):
            return
        self._submit(early, text).add_done_callback(_log_prefetch_failure)

    def _submit(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        self._queued += 1
        future = asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _future: asyncio.Future[Any]) -> None:
        self._queued -= 1

    def close(self) -> None:
        """Stop the engine's threads (server shutdown)."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    def knowledge(self) -> KnowledgeBase | None:
        """The knowledge base the engine answers from now (None before it is built, or for stand-in engines)."""
        engine = self._engine
        return engine.kb if isinstance(engine, LiveEngine) else None

    def topic_for(self, decision: Decision) -> str | None:
        """The knowledge base topic the shopper was asking about, else the intent."""
        kb = self.knowledge()
        faq_id = decision.faq_id
        # A handoff for an intent (asked for a person, complaint, off-topic) says nothing about an FAQ topic:
        # its nearest entry is noise. Low-confidence handoffs and clarifies keep their best guess.
        if faq_id is None and decision.reason in ("low_confidence", "repeated_unresolved", "close_candidates",
                                                  "uncertain_match"):
            faq_id = next((c.get("faq_id") for c in decision.candidates if c.get("faq_id")), None)
        if kb is not None and faq_id:
            entry = kb.get(faq_id)
            if entry is not None:
                return entry.topic or faq_id
        return decision.intent or None


def _log_prefetch_failure(future: asyncio.Future[Any]) -> None:
    # Only a head start: the turn embeds the message itself if this failed.
    if not future.cancelled() and future.exception() is not None:
        log.warning("embedding a message ahead of its turn failed", exc_info=future.exception())
