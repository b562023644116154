"""The chat with the real answer engine (built once for this module): language, answers, handoff to the queue,
and the engine's context rebuilt from stored decisions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chat_support import LiveServer, Shopper, make_app, real_engine


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    app = make_app(tmp_path_factory.mktemp("engine"), engine=real_engine())
    with LiveServer(app) as live:
        yield live


def test_spanish_question_gets_a_spanish_answer(server: LiveServer) -> None:
    s = Shopper(server.ws, locale="es-ES")
    try:
        s.ack(s.say("¿Cuánto tarda el envío a España?"))
        reply = s.message_from("bot", timeout=30)
        assert reply["lang"] == "es" and reply["action"] in ("answer", "clarify")
        assert reply["text"]
    finally:
        s.close()


def test_asking_for_a_human_queues_the_conversation(server: LiveServer) -> None:
    s = Shopper(server.ws, locale="en-GB")
    try:
        s.ack(s.say("I want to talk to a real person, please"))
        reply = s.message_from("bot", timeout=30)
        assert reply["action"] == "handoff"
        state = s.wait_for(lambda f: f["type"] == "state")
        assert state["state"] == "queued"
        detail = server.app.state.chat.desk.detail(s.conversation_id)
        bot = next(m for m in detail["messages"] if m["role"] == "bot")
        assert bot["reason"] and bot["confidence"] is not None and bot["intent"]
        assert detail["handoffs"][0]["reason"] == bot["reason"]
    finally:
        s.close()


def test_context_is_rebuilt_from_stored_decisions(server: LiveServer) -> None:
    s = Shopper(server.ws, locale="de-DE")
    try:
        s.ack(s.say("Wie lange dauert der Versand?"))
        first = s.message_from("bot", timeout=30)
        _, context = server.app.state.chat.chat.bot_context(s.conversation_id)
        assert context.lang == first["lang"] == "de"
        assert [turn.action for turn in context.turns] == [first["action"]]
    finally:
        s.close()
