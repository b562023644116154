"""EngineProvider: the server's seam to the engine; early embedding only while the engine's threads are idle."""

from __future__ import annotations

import asyncio
import threading

from bot.conversations.engine import EngineProvider
from bot.nlu.base import ConversationContext, Decision
from bot.settings import Settings


class SlowEngine:
    """A stand-in that records calls and blocks ``respond`` until released (isolates the provider)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.release = threading.Event()

    def respond(self, text: str, context: ConversationContext) -> Decision:
        self.calls.append(("respond", text))
        self.release.wait(5)
        return Decision(lang="en", intent="faq", action="answer", faq_id=None, confidence=1.0, reason="faq_match",
                        reply="ok")

    def prefetch(self, text: str) -> None:
        self.calls.append(("prefetch", text))


def test_prefetch_runs_before_the_turn_when_idle_and_is_skipped_under_load() -> None:
    async def scenario() -> list[tuple[str, str]]:
        engine = SlowEngine()
        provider = EngineProvider(Settings(engine_concurrency=1), engine)
        try:
            provider.prefetch("first")  # idle: embedded ahead, before its turn
            turn = asyncio.create_task(provider.respond("first", ConversationContext()))
            while ("respond", "first") not in engine.calls:
                await asyncio.sleep(0.01)
            provider.prefetch("second")  # the engine's thread is busy: no early work queued ahead of turns
            engine.release.set()
            await turn
            await asyncio.sleep(0.05)
            provider.prefetch("third")  # idle again
            await asyncio.sleep(0.05)
            return engine.calls
        finally:
            provider.close()

    assert asyncio.run(scenario()) == [("prefetch", "first"), ("respond", "first"), ("prefetch", "third")]


def test_engines_without_prefetch_and_failures_are_harmless(caplog) -> None:
    class Failing(SlowEngine):
        def prefetch(self, text: str) -> None:
            raise RuntimeError("boom")

    async def scenario() -> None:
        provider = EngineProvider(Settings(), Failing())
        provider.prefetch("x")
        await asyncio.sleep(0.05)
        provider.close()
        unbuilt = EngineProvider(Settings())  # no engine yet: nothing to do
        unbuilt.prefetch("x")
        unbuilt.close()

    asyncio.run(scenario())
    assert "ahead of its turn failed" in caplog.text
