"""Agents act only within the languages they serve (issue 8, item 7): the predicate in bot/handoff/scope.py,
and every path that uses it against a real server: queue, claim, read, notes, replies, lists, agent socket."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from chat_support import PASSWORD, LiveServer, add_user, agent_connect, auth, login, make_app, queued_conversation

from bot.auth.service import Principal
from bot.handoff.scope import may_access, queue_languages, serves


def principal(role: str, languages: tuple[str, ...] = (), uid: int = 7) -> Principal:
    return Principal(uid, "u", "U", role, languages)


def test_predicate() -> None:
    li = principal("agent", ("zh", "en", "ja", "ko"))
    assert serves(li, "ja") and serves(li, "en") and not serves(li, "es") and not serves(li, None)
    assert queue_languages(li) == ({"zh", "en", "ja", "ko"}, set())
    everyone = principal("agent")  # no languages: every language
    assert serves(everyone, "es") and queue_languages(everyone) is None
    admin = principal("admin", ("en",))  # admins are exempt, whatever their list says
    assert serves(admin, "es") and queue_languages(admin) is None
    assert may_access(li, "es", holder_id=7) and not may_access(li, "es", holder_id=8)
    assert may_access(li, "ja", holder_id=None)
    assert not may_access(principal("editor"), "en", holder_id=None)  # editors do not answer shoppers


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    app = make_app(tmp_path_factory.mktemp("scope"))
    add_user(app, "ana", "agent", "es,en,pt", name="Ana")
    add_user(app, "li", "agent", "zh,en,ja,ko", name="Li")
    add_user(app, "boss", "admin", "en", name="Boss")
    with LiveServer(app) as live:
        yield live


def spanish_with_email(server: LiveServer) -> str:
    cid = queued_conversation(server.app, "es", "quiero hablar con una persona")
    server.app.state.chat.chat.set_email(cid, "cliente@example.es")
    return cid


def test_li_cannot_claim_read_or_note_a_spanish_conversation(server: LiveServer) -> None:
    cid = spanish_with_email(server)
    li, ana, boss = (auth(login(server.http, u, PASSWORD)) for u in ("li", "ana", "boss"))
    url = f"{server.http}/api/conversations/{cid}"
    assert cid not in [i["id"] for i in httpx.get(f"{server.http}/api/queue", headers=li).json()]
    r = httpx.get(url, headers=li)
    assert r.status_code == 403 and r.json()["error"]["code"] == "out_of_scope"
    assert "cliente@example.es" not in r.text
    assert httpx.post(f"{url}/claim", headers=li).status_code == 403
    assert httpx.post(f"{url}/notes", json={"text": "peek"}, headers=li).status_code == 403
    listed = httpx.get(f"{server.http}/api/conversations", params={"scope": "all"}, headers=li).json()
    assert cid not in [c["id"] for c in listed] and "cliente@example.es" not in json.dumps(listed)
    # Ana serves Spanish; the admin is exempt
    assert httpx.get(url, headers=ana).json()["contact_email"] == "cliente@example.es"
    assert cid in [c["id"] for c in httpx.get(f"{server.http}/api/conversations", params={"scope": "all"},
                                                headers=ana).json()]
    assert httpx.get(url, headers=boss).status_code == 200
    assert httpx.post(f"{url}/notes", json={"text": "admin note"}, headers=boss).status_code == 201
    assert httpx.post(f"{url}/claim", headers=ana).json()["claimed"] is True
    assert httpx.post(f"{url}/messages", json={"text": "¡Hola!"}, headers=ana).status_code == 201
    assert httpx.post(f"{url}/messages", json={"text": "hi"}, headers=li).status_code in (403, 409)


def test_the_holder_keeps_access_when_the_language_changes(server: LiveServer) -> None:
    cid = queued_conversation(server.app, "en")
    li = auth(login(server.http, "li", PASSWORD))
    url = f"{server.http}/api/conversations/{cid}"
    assert httpx.post(f"{url}/claim", headers=li).status_code == 200
    from bot.conversations.models import Conversation

    with server.app.state.db.session() as session:
        session.get(Conversation, cid).lang = "es"  # the shopper switched to Spanish mid-conversation
    assert httpx.get(url, headers=li).status_code == 200
    assert httpx.post(f"{url}/notes", json={"text": "switching"}, headers=li).status_code == 201
    assert httpx.post(f"{url}/messages", json={"text": "un momento"}, headers=li).status_code == 201


def test_agent_socket_queue_is_scoped(server: LiveServer) -> None:
    es = queued_conversation(server.app, "es")
    ja = queued_conversation(server.app, "ja")
    token = login(server.http, "li", PASSWORD)
    with agent_connect(server.ws, token) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "welcome"
        deadline = time.monotonic() + 5
        while True:
            frame = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
            if frame["type"] == "queue":
                break
        ids = [i["id"] for i in frame["items"]]
        assert ja in ids and es not in ids


def test_predicate_reads_user_rows_too() -> None:
    from bot.auth.models import User

    row = User(id=3, username="x", name="X", password_hash="-", role="agent", languages="es,en")
    assert serves(row, "es") and not serves(row, "ja") and queue_languages(row) == ({"es", "en"}, set())
