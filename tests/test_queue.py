"""The handoff queue: atomic claims racing (SQLite and PostgreSQL), language filtering, ownership rules,
support hours, and what the shopper is told when nobody can answer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from chat_support import (
    PASSWORD,
    LiveServer,
    add_user,
    auth,
    check_single_owners,
    claim_race,
    database_url_for,
    login,
    make_app,
    queued_conversation,
)
from fastapi.testclient import TestClient

from bot.handoff.hours import SupportHours
from bot.i18n import t

N_AGENTS, N_CONVERSATIONS = 20, 50


@pytest.fixture(params=["sqlite", "postgresql"])
def race_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    app = make_app(tmp_path, database_url=database_url_for(request.param, tmp_path))
    assert app.state.db.engine.dialect.name == request.param
    for i in range(N_AGENTS):
        add_user(app, f"agent{i}", "agent", "en")
    with LiveServer(app) as live:
        yield live


def test_twenty_agents_racing_for_fifty_conversations_get_one_owner_each(race_server: LiveServer) -> None:
    app = race_server.app
    conversation_ids = [queued_conversation(app) for _ in range(N_CONVERSATIONS)]
    tokens = [login(race_server.http, f"agent{i}", PASSWORD) for i in range(N_AGENTS)]
    results = claim_race(race_server.http, tokens, conversation_ids)
    check_single_owners(app, results, N_AGENTS)
    # the queue is empty afterwards
    assert httpx.get(f"{race_server.http}/api/queue", headers=auth(tokens[0]), timeout=10).json() == []


@pytest.fixture()
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = make_app(tmp_path)
    add_user(app, "ana", "agent", "es,en", name="Ana")
    add_user(app, "yuki", "agent", "ja", name="Yuki")
    add_user(app, "boss", "admin", name="Boss")
    with TestClient(app) as c:
        yield c


def bearer(c: TestClient, username: str) -> dict[str, str]:
    r = c.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    return auth(r.json()["token"])


def test_queue_is_filtered_by_the_agents_languages(client: TestClient) -> None:
    app = client.app
    es = queued_conversation(app, "es", "quiero hablar con alguien", topic="shipping")
    ja = queued_conversation(app, "ja", "担当者と話したい")
    de = queued_conversation(app, "de", "ich möchte einen Menschen")
    ana_items = client.get("/api/queue", headers=bearer(client, "ana")).json()
    assert [i["id"] for i in ana_items] == [es]
    item = ana_items[0]
    assert item["lang"] == "es" and item["reason"] == "human_request" and item["topic"] == "shipping"
    assert item["waiting_seconds"] >= 0 and item["last_message"] == "quiero hablar con alguien"
    assert [i["id"] for i in client.get("/api/queue", headers=bearer(client, "yuki")).json()] == [ja]
    assert {i["id"] for i in client.get("/api/queue", headers=bearer(client, "boss")).json()} == {es, ja, de}


def test_claim_rules(client: TestClient) -> None:
    app = client.app
    cid = queued_conversation(app, "es")
    ana, yuki, boss = bearer(client, "ana"), bearer(client, "yuki"), bearer(client, "boss")
    assert client.post(f"/api/conversations/{cid}/claim", headers=ana).json()["claimed"] is True
    assert client.post(f"/api/conversations/{cid}/claim", headers=ana).json()["claimed"] is False  # idempotent
    r = client.post(f"/api/conversations/{cid}/claim", headers=yuki)
    assert r.status_code == 409 and r.json()["error"]["code"] == "taken"
    # only the holder (or an admin) replies, resolves, hands back
    for action in ("messages", "resolve", "handback", "release"):
        r = client.post(f"/api/conversations/{cid}/{action}", headers=yuki, json={"text": "hi"})
        assert r.status_code == 409, action
    assert client.post(f"/api/conversations/{cid}/messages", headers=boss, json={"text": "admin here"}).status_code \
        == 201
    assert client.get("/api/conversations", headers=ana).json()[0]["id"] == cid  # "mine"
    assert client.get("/api/conversations", headers=yuki).json() == []
    # release puts it back in the queue; the shopper is told the agent left
    assert client.post(f"/api/conversations/{cid}/release", headers=ana).status_code == 200
    detail = client.get(f"/api/conversations/{cid}", headers=ana).json()
    assert detail["state"] == "queued" and detail["messages"][-1]["code"] == "agent_left"
    assert client.post(f"/api/conversations/{cid}/claim", headers=boss).status_code == 200
    assert client.post(f"/api/conversations/{cid}/resolve", headers=boss).status_code == 200
    r = client.post(f"/api/conversations/{cid}/claim", headers=ana)
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_queued"
    assert client.post("/api/conversations/does-not-exist/claim", headers=ana).status_code == 404
    assert client.get("/api/conversations/does-not-exist", headers=ana).status_code == 404


def test_agent_reply_resend_with_client_id_is_stored_once(client: TestClient) -> None:
    cid = queued_conversation(client.app, "en")
    ana = bearer(client, "ana")
    client.post(f"/api/conversations/{cid}/claim", headers=ana)
    first = client.post(f"/api/conversations/{cid}/messages", headers=ana, json={"text": "hi", "client_id": "a1"})
    again = client.post(f"/api/conversations/{cid}/messages", headers=ana, json={"text": "hi", "client_id": "a1"})
    assert first.json()["id"] == again.json()["id"]
    roles = [m["role"] for m in client.get(f"/api/conversations/{cid}", headers=ana).json()["messages"]]
    assert roles.count("agent") == 1


def hello(ws: object, locale: str) -> dict:
    ws.send_json({"type": "hello", "store_key": "demo", "conversation_id": None, "token": None, "locale": locale})
    return ws.receive_json()


def frames_until(ws: object, kind: str, limit: int = 12) -> list[dict]:
    out = []
    for _ in range(limit):
        f = ws.receive_json()
        out.append(f)
        if f["type"] == kind:
            return out
    raise AssertionError(out)


def test_no_agent_online_tells_the_shopper_in_their_language_and_takes_an_email(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    add_user(app, "ana", "agent", "es,en", name="Ana")  # exists, but nobody is online
    with TestClient(app) as c, c.websocket_connect("/ws/shopper") as ws:
        w = hello(ws, "fr-FR")
        ws.send_json({"type": "message", "client_id": "m1", "text": "je veux parler à un agent humain"})
        frames = frames_until(ws, "state")
        system = [f["message"] for f in frames if f["type"] == "message" and f["message"]["role"] == "system"]
        assert [m["code"] for m in system] == ["no_agent_online", "leave_email_prompt"]
        assert system[0]["text"] == t("no_agent_online", "fr") and system[0]["lang"] == "fr"
        assert frames[-1] == {"type": "state", "state": "queued", "agent_name": None, "reason": "no_agent_online"}
        ws.send_json({"type": "email", "email": "claire@example.fr"})
        saved = ws.receive_json()["message"]
        assert saved["code"] == "email_saved" and saved["text"] == t("email_saved", "fr")
        # still queued; an agent who comes online later finds it, with the email
        boss = {"username": "boss", "password": PASSWORD}
        add_user(app, "boss", "admin")
        h = auth(c.post("/api/auth/login", json=boss).json()["token"])
        item = c.get("/api/queue", headers=h).json()[0]
        assert item["id"] == w["conversation_id"] and item["has_email"] and item["availability"] == "no_agent"
        assert c.get(f"/api/conversations/{item['id']}", headers=h).json()["contact_email"] == "claire@example.fr"
        # resume while queued: the welcome says why
        ws2_hello = {"type": "hello", "store_key": "demo", "conversation_id": w["conversation_id"],
                     "token": w["token"], "locale": "fr", "last_seq": 0}
        with c.websocket_connect("/ws/shopper") as ws2:
            ws2.send_json(ws2_hello)
            again = ws2.receive_json()
            assert again["state"] == "queued" and again["reason"] == "no_agent_online"


def test_agent_online_but_not_in_the_shoppers_language_counts_as_no_agent(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    add_user(app, "yuki", "agent", "ja")
    with TestClient(app) as c:
        c.post("/api/auth/login", json={"username": "yuki", "password": PASSWORD})  # yuki is online now
        with c.websocket_connect("/ws/shopper") as ws:
            hello(ws, "de")
            ws.send_json({"type": "message", "client_id": "m1", "text": "bitte einen agent"})
            assert frames_until(ws, "state")[-1]["reason"] == "no_agent_online"
        with c.websocket_connect("/ws/shopper") as ws:
            hello(ws, "ja")
            ws.send_json({"type": "message", "client_id": "m1", "text": "agent please"})
            assert frames_until(ws, "state")[-1]["reason"] is None  # yuki speaks Japanese


def test_outside_support_hours(tmp_path: Path) -> None:
    today = datetime.now(UTC).strftime("%a").lower()
    other_days = [d for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun") if d != today]
    app = make_app(tmp_path, support_hours=f"{','.join(other_days)} 00:00-24:00")
    add_user(app, "ana", "agent", "")
    with TestClient(app) as c:
        c.post("/api/auth/login", json={"username": "ana", "password": PASSWORD})  # online, but closed today
        with c.websocket_connect("/ws/shopper") as ws:
            hello(ws, "ja-JP")
            ws.send_json({"type": "message", "client_id": "m1", "text": "human please"})
            frames = frames_until(ws, "state")
            system = [f["message"] for f in frames if f["type"] == "message" and f["message"]["role"] == "system"]
            assert system[0]["code"] == "outside_hours" and system[0]["text"] == t("outside_hours", "ja")
            assert frames[-1]["reason"] == "outside_hours" and frames[-1]["state"] == "queued"


def test_support_hours_parsing() -> None:
    hours = SupportHours.parse("mon-fri 08:00-20:00; sat 09:00-17:00", "Europe/Amsterdam")
    # 2025-01-06 is a Monday; Amsterdam is UTC+1 in winter
    assert hours.is_open(datetime(2025, 1, 6, 7, 30, tzinfo=UTC))        # 08:30 local
    assert not hours.is_open(datetime(2025, 1, 6, 6, 30, tzinfo=UTC))    # 07:30 local
    assert not hours.is_open(datetime(2025, 1, 6, 19, 0, tzinfo=UTC))    # 20:00 local
    assert hours.is_open(datetime(2025, 1, 11, 10, 0, tzinfo=UTC))       # Saturday 11:00
    assert not hours.is_open(datetime(2025, 1, 12, 10, 0, tzinfo=UTC))   # Sunday
    night = SupportHours.parse("fri 22:00-02:00")
    assert night.is_open(datetime(2025, 1, 10, 23, 0, tzinfo=UTC))       # Friday night
    assert night.is_open(datetime(2025, 1, 11, 1, 0, tzinfo=UTC))        # after midnight
    assert not night.is_open(datetime(2025, 1, 11, 3, 0, tzinfo=UTC))
    assert SupportHours.parse("").is_open()
    for bad in ("weekdays 9-5", "mon 25:00-26:00", "funday 08:00-09:00"):
        with pytest.raises(ValueError):
            SupportHours.parse(bad)
    with pytest.raises(ValueError):
        SupportHours.parse("mon 08:00-09:00", "Mars/Olympus")
