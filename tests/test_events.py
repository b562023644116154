"""Domain events: published after commit through the database's bus, in order, never on rollback; a failing
listener is logged and the chat goes on; the editor hears the chat only through events."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import pytest
from chat_support import add_user, make_app, queued_conversation
from sqlalchemy import select

from bot.auth.service import Principal
from bot.editor.models import MissedQuestion
from bot.events import BotDecided, DomainEvent, EventBus, HandedOff, MessageStored, Rated, emit
from bot.nlu.base import Decision


@pytest.fixture()
def app(tmp_path: Path) -> Any:
    application = make_app(tmp_path)
    yield application
    application.state.db.dispose()


def _record(app: Any) -> list[DomainEvent]:
    seen: list[DomainEvent] = []
    app.state.db.events.subscribe(DomainEvent, seen.append, "test.recorder")
    return seen


def _principal(app: Any, username: str) -> Principal:
    from bot.auth.models import User

    with app.state.db.read() as session:
        user = session.scalar(select(User).where(User.username == username))
        return Principal(user.id, user.username, user.name, user.role, ())


def test_a_conversation_publishes_its_life_in_order(app: Any) -> None:
    seen = _record(app)
    add_user(app, "ana", role="agent", languages="en", name="Ana")
    ana = _principal(app, "ana")
    chat, handoff = app.state.chat.chat, app.state.chat.handoff

    conv = queued_conversation(app, "en", "I need a human", "orders")
    assert handoff.claim(conv, ana)[0]
    app.state.chat.desk.agent_reply(conv, ana, "Hello, I am Ana")
    handoff.resolve(conv, ana)
    chat.set_rating(conv, 4)
    chat.add_shopper_message(conv, "again-1", "one more thing")  # reopens
    chat.set_email(conv, "shopper@example.com")

    names = [e.name for e in seen if not isinstance(e, MessageStored)]
    assert names == ["conversation_started", "bot_decided", "handed_off", "claimed", "agent_replied", "resolved",
                     "rated", "reopened", "email_left"]
    by_name = {e.name: e for e in seen}
    assert all(e.conversation_id == conv and e.lang == "en" and e.store_key == "demo" for e in seen)
    assert by_name["bot_decided"].actor == "bot" and by_name["claimed"].actor == "person"
    assert by_name["claimed"].agent_id == by_name["agent_replied"].agent_id == by_name["resolved"].agent_id == ana.id
    handed = by_name["handed_off"]
    assert isinstance(handed, HandedOff) and (handed.reason, handed.topic) == ("human_request", "orders")
    rated = by_name["rated"]
    assert isinstance(rated, Rated) and rated.score == 4
    stored = [(e.role, e.actor) for e in seen if isinstance(e, MessageStored)]
    assert stored[:2] == [("shopper", "shopper"), ("bot", "bot")] and ("agent", "person") in stored
    times = [e.at for e in seen]
    assert times == sorted(times)


def test_nothing_is_published_for_a_rolled_back_transaction(app: Any) -> None:
    seen = _record(app)
    db = app.state.db
    event = Rated(conversation_id="x", at=dt.datetime.now(dt.UTC), lang="en", score=5)
    with pytest.raises(RuntimeError), db.session() as session:
        emit(session, event)
        raise RuntimeError("abort")
    assert seen == []
    with db.session() as outer:
        emit(outer, event)
        with db.session() as inner:  # nested: dispatched after the outermost session, when the lock is free
            emit(inner, event)
        assert seen == []
    assert seen == [event, event]


def test_a_failing_listener_is_logged_and_the_chat_goes_on(app: Any, caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: BotDecided) -> None:
        raise ValueError("listener bug")

    app.state.db.events.subscribe(BotDecided, broken, "test.broken")
    seen = _record(app)
    with caplog.at_level(logging.ERROR, logger="bot.events.bus"):
        conv = queued_conversation(app)
    assert "listener test.broken failed on bot_decided" in caplog.text
    assert app.state.chat.desk.detail(conv)["state"] == "queued"
    assert "handed_off" in [e.name for e in seen]  # later listeners and events still ran


def test_missed_questions_come_from_events_not_calls(app: Any) -> None:
    """The editor's listener turns a clarify into a missed question; without the listener nothing is recorded."""
    chat = app.state.chat.chat

    def ask(text: str) -> None:
        opened = chat.open("demo", None, None, "en")
        stored = chat.add_shopper_message(opened.conversation_id, "c1", text)
        chat.record_decision(opened.conversation_id, stored.message_id,
                             Decision(lang="en", intent="faq_question", action="clarify", faq_id=None,
                                      confidence=0.3, reason="close_candidates", reply="did you mean"), None)

    ask("which sizes do you have")
    app.state.db.events = EventBus()  # no listeners
    ask("which colours do you have")
    with app.state.db.read() as session:
        texts = session.scalars(select(MissedQuestion.text)).all()
    assert texts == ["which sizes do you have"]


def test_bus_delivers_by_type_and_base_type() -> None:
    bus = EventBus()
    got: list[str] = []
    bus.subscribe(Rated, lambda e: got.append("rated"))
    bus.subscribe(DomainEvent, lambda e: got.append("any"))
    bus.subscribe(HandedOff, lambda e: got.append("handed_off"))
    bus.dispatch([Rated(conversation_id="c", at=dt.datetime.now(dt.UTC), lang="en", score=1)])
    assert got == ["rated", "any"]


def test_a_batch_listener_hears_one_commit_at_once_and_its_failure_is_contained(
        caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    batches: list[list[str]] = []
    singles: list[str] = []
    bus.subscribe_batch(lambda events: batches.append([e.name for e in events]), "test.batch")
    bus.subscribe_batch(lambda events: 1 / 0, "test.broken_batch")
    bus.subscribe(Rated, lambda e: singles.append(e.name))
    now = dt.datetime.now(dt.UTC)
    with caplog.at_level(logging.ERROR, logger="bot.events.bus"):
        bus.dispatch([Rated(conversation_id="c", at=now, lang="en", score=1),
                      HandedOff(conversation_id="c", at=now, lang="en", reason="human_request")])
    assert batches == [["rated", "handed_off"]] and singles == ["rated"]
    assert "listener test.broken_batch failed on 2 events" in caplog.text
