"""Helpers for the reports and privacy tests: a settable clock for the chat services, and one scripted day of
conversations driven through a real server (sockets and REST), whose figures the tests compute by hand."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from chat_support import Shopper, auth, login

from bot.auth.service import DEMO_PASSWORD

CLOCKED_MODULES = ("bot.conversations.service", "bot.conversations.store", "bot.handoff.service")


class Clock:
    """``utcnow`` of the chat services, set by the test (the server runs in-process)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = datetime(2026, 3, 2, tzinfo=UTC)
        for module in CLOCKED_MODULES:
            monkeypatch.setattr(f"{module}.utcnow", lambda: self.now)

    def set(self, iso: str) -> None:
        self.now = datetime.fromisoformat(iso.replace("Z", "+00:00"))


@contextlib.contextmanager
def shopper(ws: str, locale: str) -> Iterator[Shopper]:
    s = Shopper(ws, locale=locale)
    try:
        yield s
    finally:
        s.close()


def say(s: Shopper, text: str) -> dict[str, Any]:
    """Send, wait for the ack and for the bot's reply; the reply."""
    s.ack(s.say(text))
    return s.message_from("bot")


def act(http: str, headers: dict[str, str], conversation_id: str, action: str) -> None:
    r = httpx.post(f"{http}/api/conversations/{conversation_id}/{action}", headers=headers, timeout=10)
    assert r.status_code == 200, r.text


def reply(http: str, headers: dict[str, str], conversation_id: str, text: str) -> None:
    r = httpx.post(f"{http}/api/conversations/{conversation_id}/messages", headers=headers, json={"text": text},
                   timeout=10)
    assert r.status_code in (200, 201), r.text


def scripted_day(http: str, ws: str, clock: Clock) -> dict[str, str]:
    """Four conversations (A..D) around midnight UTC, 2-3 March 2026; returns their ids.

    A en 23:30Z answered, rated 5 (contained). B es 23:40Z asks for a person, claimed 23:42, agent replies
    23:43 (180 s), resolved 23:50 (600 s), rated 2. C en 01:00Z clarify then the engine fails (engine_error
    handoff) at 01:00, claimed 01:05, reply 01:10 (600 s), resolved 01:20 (1200 s), rated 4, reopened 01:30
    (the bot answers). D fr 12:00Z opens and says nothing.
    """
    ana = auth(login(http, "ana", DEMO_PASSWORD))
    ids: dict[str, str] = {}
    clock.set("2026-03-02T23:30:00Z")
    with shopper(ws, "en-US") as a:
        ids["A"] = a.conversation_id
        assert say(a, "how long is shipping")["action"] == "answer"
        a.send({"type": "rating", "score": 5})
        a.wait_for(lambda f: f.get("type") == "rated")
    clock.set("2026-03-02T23:40:00Z")
    with shopper(ws, "es-ES") as b:
        ids["B"] = b.conversation_id
        assert say(b, "hola, quiero una persona")["action"] == "handoff"
        clock.set("2026-03-02T23:42:00Z")
        act(http, ana, ids["B"], "claim")
        clock.set("2026-03-02T23:43:00Z")
        reply(http, ana, ids["B"], "Hola, soy Ana")
        clock.set("2026-03-02T23:50:00Z")
        act(http, ana, ids["B"], "resolve")
        b.send({"type": "rating", "score": 2})
        b.wait_for(lambda f: f.get("type") == "rated")
    clock.set("2026-03-03T01:00:00Z")
    with shopper(ws, "en-GB") as c:
        ids["C"] = c.conversation_id
        assert say(c, "which size")["action"] == "clarify"
        assert say(c, "boom")["action"] == "handoff"
        clock.set("2026-03-03T01:05:00Z")
        act(http, ana, ids["C"], "claim")
        clock.set("2026-03-03T01:10:00Z")
        reply(http, ana, ids["C"], "=HYPERLINK(\"http://evil\") hello")
        clock.set("2026-03-03T01:20:00Z")
        act(http, ana, ids["C"], "resolve")
        clock.set("2026-03-03T01:25:00Z")
        c.send({"type": "rating", "score": 4})
        c.wait_for(lambda f: f.get("type") == "rated")
        clock.set("2026-03-03T01:30:00Z")
        assert say(c, "one more question")["action"] == "answer"
    clock.set("2026-03-03T12:00:00Z")
    with shopper(ws, "fr-FR") as d:
        ids["D"] = d.conversation_id
    return ids
