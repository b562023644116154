"""Shopper websocket against a real uvicorn server: the protocol, isolation between shoppers, bad frames,
idempotent resends, resume, origins, and the live handoff to an agent."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from chat_support import PASSWORD, FakeEngine, LiveServer, Shopper, add_user, agent_connect, auth, login, make_app
from sqlalchemy import func, select
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from bot.conversations.models import Message
from bot.i18n import t


@pytest.fixture(scope="module")
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, engine: FakeEngine) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("chat-ws")
    app = make_app(data, engine=engine, allowed_origins="https://shop.example", shopper_rate_per_minute=30)
    add_user(app, "ana", "agent", "es,en", name="Ana")
    add_user(app, "ed", "editor")
    with LiveServer(app) as live:
        yield live


def count_messages(server: LiveServer, conversation_id: str, **where: Any) -> int:
    db = server.app.state.db
    with db.session() as session:
        q = select(func.count()).select_from(Message).where(Message.conversation_id == conversation_id)
        for key, value in where.items():
            q = q.where(getattr(Message, key) == value)
        return session.scalar(q)


def test_new_conversation_ack_then_bot_reply(server: LiveServer) -> None:
    s = Shopper(server.ws, locale="es-ES")
    try:
        w = s.welcome
        assert w["type"] == "welcome" and w["state"] == "bot" and w["lang"] == "es"
        assert w["conversation_id"] and len(w["token"]) >= 32 and w["messages"] == []
        assert w["ui"]["agent_joined"]  # localised widget strings come with the welcome
        cid = s.say("hola, ¿cuánto tarda el envío?")
        ack = s.ack(cid)
        assert ack["message"]["role"] == "shopper" and ack["message"]["seq"] == 1
        assert ack["message"]["client_id"] == cid
        # acknowledged means committed
        assert count_messages(server, s.conversation_id, client_id=cid) == 1
        s.wait_for(lambda f: f["type"] == "typing" and f["role"] == "bot")
        reply = s.message_from("bot")
        assert reply["seq"] == 2 and reply["action"] == "answer" and reply["lang"] == "es"
        assert "confidence" not in reply and "reason" not in reply and "intent" not in reply
    finally:
        s.close()


def test_resend_with_same_client_id_is_stored_once(server: LiveServer, engine: FakeEngine) -> None:
    s = Shopper(server.ws)
    try:
        first = s.ack(s.say("where is my parcel", client_id="resend-1"))["message"]
        s.message_from("bot")
        calls = len(engine.calls)
        for _ in range(3):
            again = s.ack(s.say("where is my parcel", client_id="resend-1"))["message"]
            assert again["id"] == first["id"] and again["seq"] == first["seq"]
        time.sleep(0.3)
        assert count_messages(server, s.conversation_id, client_id="resend-1") == 1
        assert count_messages(server, s.conversation_id, role="bot") == 1
        assert len(engine.calls) == calls  # the bot did not answer the resends
    finally:
        s.close()
    # also across a reconnect (the widget resends its outbox after welcome)
    r = Shopper(server.ws, conversation_id=s.conversation_id, token=s.token, last_seq=2)
    try:
        assert r.ack(r.say("where is my parcel", client_id="resend-1"))["message"]["id"] == first["id"]
    finally:
        r.close()


def test_shopper_cannot_read_or_write_another_conversation(server: LiveServer) -> None:
    a, b = Shopper(server.ws), Shopper(server.ws)
    try:
        b.ack(b.say("my secret address is 1 Main St"))
        b.message_from("bot")
        # A presents B's conversation id with A's own token: refused, socket closed 4401.
        intruder = Shopper(server.ws, conversation_id=b.conversation_id, token=a.token)
        assert intruder.welcome == {"type": "error", "code": "unauthorized",
                                    "detail": "unknown store key or conversation token"}
        with pytest.raises(ConnectionClosed) as closed:
            intruder.recv(timeout=5)
        assert closed.value.rcvd.code == 4401
        # A guessed token, a missing token, a token for another store: all refused.
        for conv_id, token, store in ((b.conversation_id, "x" * 43, "demo"), (b.conversation_id, None, "demo"),
                                      (b.conversation_id, b.token, "other"), ("nope", b.token, "demo")):
            probe = Shopper(server.ws, conversation_id=conv_id, token=token, store_key=store)
            assert probe.welcome["code"] == "unauthorized"
            probe.close()
        # A's stream never carries B's messages, and A writing only touches A's conversation.
        a.ack(a.say("hello from A"))
        a.message_from("bot")
        b.ack(b.say("another message from B"))
        b.message_from("bot")
        time.sleep(0.3)
        a.send({"type": "ping"})
        a.wait_for(lambda f: f["type"] == "pong")
        assert all("secret" not in json.dumps(f) and "from B" not in json.dumps(f) for f in a.frames)
        assert count_messages(server, b.conversation_id, role="shopper") == 2
        assert count_messages(server, a.conversation_id, role="shopper") == 1
        # the rightful owner can resume
        owner = Shopper(server.ws, conversation_id=b.conversation_id, token=b.token)
        assert owner.welcome["type"] == "welcome" and len(owner.welcome["messages"]) == 4
        owner.close()
    finally:
        a.close()
        b.close()


def test_unknown_store_key_is_refused(server: LiveServer) -> None:
    s = Shopper(server.ws, store_key="not-a-store")
    assert s.welcome["code"] == "unauthorized"
    with pytest.raises(ConnectionClosed):
        s.recv(timeout=5)


def test_bad_frames_get_error_frames_and_socket_and_server_survive(server: LiveServer) -> None:
    s = Shopper(server.ws)
    try:
        cases: list[tuple[str | bytes, str]] = [
            ("x" * 20_000, "too_large"),
            (json.dumps({"type": "message", "client_id": "big", "text": "é" * 9000}), "too_large"),
            ("{not json", "bad_json"),
            ("", "bad_json"),
            ("[1, 2, 3]", "bad_request"),
            (json.dumps({"no": "type"}), "bad_request"),
            (json.dumps({"type": "launch_missiles"}), "unknown_type"),
            (json.dumps({"type": "message", "client_id": "c-empty", "text": "   "}), "bad_request"),
            (json.dumps({"type": "message", "client_id": "c-long", "text": "a" * 2001}), "bad_request"),
            (json.dumps({"type": "message", "client_id": None, "text": "hi"}), "bad_request"),
            (json.dumps({"type": "message", "client_id": "c-num", "text": 42}), "bad_request"),
            (json.dumps({"type": "email", "email": "not-an-email"}), "bad_request"),
            (json.dumps({"type": "rating", "score": 9}), "bad_request"),
            (json.dumps({"type": "hello", "store_key": "demo"}), "bad_request"),
            ("[" * 5000 + "]" * 5000, "bad_json"),
            (b"\xff\xfe binary", "bad_json"),
        ]
        for raw, code in cases:
            s.send(raw)
            frame = s.recv()
            assert frame["type"] == "error" and frame["code"] == code, (raw[:40], frame)
        long_error = [f for f in cases if "c-long" in str(f[0])]
        assert long_error
        # still usable
        s.send({"type": "ping"})
        assert s.recv() == {"type": "pong"}
        s.ack(s.say("still here?"))
        s.message_from("bot")
    finally:
        s.close()
    assert httpx.get(f"{server.http}/healthz", timeout=5).json()["status"] == "ok"


def test_text_too_long_error_names_the_message(server: LiveServer) -> None:
    s = Shopper(server.ws)
    try:
        s.say("a" * 2001, client_id="too-long-1")
        frame = s.recv()
        assert frame["code"] == "bad_request" and frame["reason"] == "text_too_long"
        assert frame["client_id"] == "too-long-1"
        assert count_messages(server, s.conversation_id) == 0
    finally:
        s.close()


def test_frame_above_protocol_limit_closes_only_that_socket(server: LiveServer) -> None:
    s = Shopper(server.ws)
    s.send("x" * 2_000_000)  # above uvicorn's ws_max_size: refused at the protocol level (1009)
    with pytest.raises(ConnectionClosed):
        for _ in range(3):
            s.recv(timeout=5)
    other = Shopper(server.ws)
    other.ack(other.say("server still alive"))
    other.close()


def test_frames_before_hello_and_hello_timeout(server: LiveServer) -> None:
    with connect(f"{server.ws}/ws/shopper") as ws:
        ws.send(json.dumps({"type": "message", "client_id": "x", "text": "hi"}))
        assert json.loads(ws.recv(timeout=5))["code"] == "bad_request"
        ws.send("{oops")
        assert json.loads(ws.recv(timeout=5))["code"] == "bad_json"
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=5)) == {"type": "pong"}
        ws.send(json.dumps({"type": "hello", "store_key": "demo"}))
        assert json.loads(ws.recv(timeout=5))["type"] == "welcome"


def test_origin_policy(server: LiveServer) -> None:
    with pytest.raises(InvalidStatus) as refused:
        Shopper(server.ws, origin="https://evil.example")
    assert refused.value.response.status_code == 403
    for origin in ("https://shop.example", "http://localhost:3000", f"http://127.0.0.1:{server.port}"):
        s = Shopper(server.ws, origin=origin)
        assert s.welcome["type"] == "welcome"
        s.close()


def test_rate_limit(server: LiveServer) -> None:
    s = Shopper(server.ws)
    try:
        codes = []
        for i in range(35):
            s.say(f"msg {i}", client_id=f"rl-{i}")
        deadline = time.monotonic() + 10
        while len(codes) < 35 and time.monotonic() < deadline:
            f = s.recv()
            if f["type"] == "ack":
                codes.append("ack")
            elif f["type"] == "error":
                codes.append(f["code"])
        assert codes.count("ack") == 30 and codes.count("rate_limited") == 5
    finally:
        s.close()


def test_resume_returns_only_newer_messages_and_answers_a_leftover(server: LiveServer) -> None:
    s = Shopper(server.ws)
    s.ack(s.say("first question"))
    s.message_from("bot")
    s.ack(s.say("second question"))
    s.message_from("bot")
    s.close()
    r = Shopper(server.ws, conversation_id=s.conversation_id, token=s.token, last_seq=2)
    try:
        assert [m["seq"] for m in r.welcome["messages"]] == [3, 4]
        assert r.welcome["token"] == s.token
        r.send({"type": "ping"})  # the server has finished attaching once it answers
        r.wait_for(lambda f: f["type"] == "pong")
    finally:
        r.close()
    # a message stored but never answered (e.g. the server died in between) is answered on resume
    runtime = server.app.state.chat
    runtime.chat.add_shopper_message(s.conversation_id, "left-over", "a question nobody answered")
    r = Shopper(server.ws, conversation_id=s.conversation_id, token=s.token, last_seq=4)
    try:
        assert [m["client_id"] for m in r.welcome["messages"]] == ["left-over"]
        reply = r.message_from("bot")
        assert reply["seq"] == 6 and "nobody answered" in reply["text"]
    finally:
        r.close()


def test_engine_failure_hands_off_instead_of_crashing(server: LiveServer) -> None:
    s = Shopper(server.ws)
    try:
        s.ack(s.say("boom"))
        reply = s.message_from("bot")
        assert reply["action"] == "handoff"
        state = s.wait_for(lambda f: f["type"] == "state")
        assert state["state"] == "queued"
    finally:
        s.close()


def test_two_tabs_of_one_conversation_see_each_other(server: LiveServer) -> None:
    a = Shopper(server.ws)
    b = Shopper(server.ws, conversation_id=a.conversation_id, token=a.token)
    try:
        cid = a.say("from tab A")
        a.ack(cid)
        echoed = b.message_from("shopper")
        assert echoed["client_id"] == cid
        assert b.message_from("bot")["seq"] == 2
        assert a.message_from("bot")["seq"] == 2
        assert not any(f.get("type") == "message" and f["message"]["role"] == "shopper" for f in a.frames)
    finally:
        a.close()
        b.close()


def test_live_handoff_agent_joins_replies_notes_resolve_and_handback(server: LiveServer, engine: FakeEngine) -> None:
    token = login(server.http, "ana", PASSWORD)
    h = auth(token)
    agent_cm = agent_connect(server.ws, token)
    agent = agent_cm.__enter__()

    def agent_frame(pred: Any, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            f = json.loads(agent.recv(timeout=max(0.01, deadline - time.monotonic())))
            if pred(f):
                return f

    try:
        assert agent_frame(lambda f: f["type"] == "welcome")["user"]["username"] == "ana"
        agent_frame(lambda f: f["type"] == "queue")
        s = Shopper(server.ws, locale="es-ES")
        s.ack(s.say("hola, quiero hablar con una persona"))
        assert s.message_from("bot")["action"] == "handoff"
        state = s.wait_for(lambda f: f["type"] == "state")
        assert state == {"type": "state", "state": "queued", "agent_name": None, "reason": None}  # agent online
        queue = agent_frame(lambda f: f["type"] == "queue" and any(i["id"] == s.conversation_id for i in f["items"]))
        item = next(i for i in queue["items"] if i["id"] == s.conversation_id)
        assert item["lang"] == "es" and item["reason"] == "human_request" and item["waiting_seconds"] >= 0
        # queued: the bot is silent, the shopper's messages still get stored and acknowledged
        calls = len(engine.calls)
        s.ack(s.say("¿hola? ¿hay alguien?"))

        r = httpx.post(f"{server.http}/api/conversations/{s.conversation_id}/claim", headers=h, timeout=10)
        assert r.status_code == 200 and r.json()["claimed"] is True
        joined = s.message_from("system")
        assert joined["code"] == "agent_joined" and "Ana" in joined["text"] and joined["lang"] == "es"
        assert joined["text"] == t("agent_joined", "es", name="Ana")  # in the shopper's language
        assert s.wait_for(lambda f: f["type"] == "state") == {"type": "state", "state": "agent", "agent_name": "Ana",
                                                              "reason": None}
        # agent typing reaches the shopper
        agent.send(json.dumps({"type": "typing", "conversation_id": s.conversation_id}))
        s.wait_for(lambda f: f["type"] == "typing" and f["role"] == "agent")
        # shopper -> agent live, no bot
        cid = s.say("necesito cambiar la dirección")
        s.ack(cid)
        live = agent_frame(lambda f: f["type"] == "message" and f["conversation_id"] == s.conversation_id)
        assert live["message"]["client_id"] == cid
        # agent -> shopper live
        r = httpx.post(f"{server.http}/api/conversations/{s.conversation_id}/messages", headers=h,
                       json={"text": "<b>Claro</b>, dime la nueva dirección"}, timeout=10)
        assert r.status_code == 201
        msg = s.message_from("agent")
        assert msg["text"] == "<b>Claro</b>, dime la nueva dirección" and msg["agent_name"] == "Ana"
        # internal note: agents only
        r = httpx.post(f"{server.http}/api/conversations/{s.conversation_id}/notes", headers=h,
                       json={"text": "INTERNAL: VIP customer"}, timeout=10)
        assert r.status_code == 201
        agent_frame(lambda f: f["type"] == "note")
        detail = httpx.get(f"{server.http}/api/conversations/{s.conversation_id}", headers=h, timeout=10).json()
        assert detail["notes"][0]["text"] == "INTERNAL: VIP customer"
        bot_msgs = [m for m in detail["messages"] if m["role"] == "bot"]
        assert bot_msgs[0]["confidence"] == 0.95 and bot_msgs[0]["reason"] == "human_request"
        assert bot_msgs[0]["intent"] == "human_request"
        assert detail["handoffs"][0]["reason"] == "human_request" and detail["handoffs"][0]["agent_id"]
        time.sleep(0.3)
        assert len(engine.calls) == calls  # the bot stayed silent the whole time
        # hand back to the bot: it answers again
        assert httpx.post(f"{server.http}/api/conversations/{s.conversation_id}/handback", headers=h,
                          timeout=10).status_code == 200
        assert s.message_from("system")["code"] == "back_to_bot"
        assert s.wait_for(lambda f: f["type"] == "state")["state"] == "bot"
        s.ack(s.say("¿cuánto cuesta el envío?"))
        assert s.message_from("bot")["action"] == "answer"
        # ... hand off again, claim, resolve: closed (the widget asks for the rating), rating accepted
        s.ack(s.say("persona por favor"))
        s.message_from("bot")
        s.wait_for(lambda f: f["type"] == "state" and f["state"] == "queued")
        assert httpx.post(f"{server.http}/api/conversations/{s.conversation_id}/claim", headers=h,
                          timeout=10).status_code == 200
        assert httpx.post(f"{server.http}/api/conversations/{s.conversation_id}/resolve", headers=h,
                          timeout=10).status_code == 200
        codes = [s.message_from("system")["code"] for _ in range(2)]
        assert codes == ["agent_joined", "conversation_resolved"]  # the widget asks for the rating itself
        assert s.wait_for(lambda f: f["type"] == "state" and f["state"] == "closed")
        s.send({"type": "rating", "score": 5})
        assert s.wait_for(lambda f: f["type"] == "rated")["score"] == 5
        seen = json.dumps(s.frames)
        assert "INTERNAL" not in seen and "confidence" not in seen
        s.close()
        # a new message reopens the conversation with the bot
        s2 = Shopper(server.ws, conversation_id=s.conversation_id, token=s.token, last_seq=10_000)
        assert s2.welcome["state"] == "closed"
        s2.ack(s2.say("una pregunta más"))
        assert s2.wait_for(lambda f: f["type"] == "state")["state"] == "bot"
        assert s2.message_from("bot")["action"] == "answer"
        s2.close()
        detail = httpx.get(f"{server.http}/api/conversations/{s.conversation_id}", headers=h, timeout=10).json()
        assert detail["rating"] == 5
    finally:
        agent_cm.__exit__(None, None, None)


def test_agent_socket_refuses_anonymous_shopper_and_editor(server: LiveServer) -> None:
    s = Shopper(server.ws)
    s.close()
    editor = login(server.http, "ed", PASSWORD)
    for token in ("", "garbage", s.token, editor):
        with agent_connect(server.ws, token) as ws:
            assert json.loads(ws.recv(timeout=5))["code"] == "unauthorized"
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=5)
            assert closed.value.rcvd.code == 4401


def test_agent_socket_bad_frames(server: LiveServer) -> None:
    token = login(server.http, "ana", PASSWORD)
    with agent_connect(server.ws, token) as ws:
        json.loads(ws.recv(timeout=5))
        json.loads(ws.recv(timeout=5))
        for raw, code in (("{x", "bad_json"), ("y" * 20_000, "too_large"), ('{"type":"dance"}', "unknown_type"),
                          ('{"type":"typing"}', "bad_request")):
            ws.send(raw)
            frame = json.loads(ws.recv(timeout=5))
            while frame["type"] == "queue":
                frame = json.loads(ws.recv(timeout=5))
            assert frame["code"] == code
        ws.send('{"type":"ping"}')
        frame = json.loads(ws.recv(timeout=5))
        while frame["type"] == "queue":
            frame = json.loads(ws.recv(timeout=5))
        assert frame == {"type": "pong"}


def test_pages_and_docs_are_served(server: LiveServer) -> None:
    assert httpx.get(f"{server.http}/docs", timeout=5).status_code == 200
    spec = httpx.get(f"{server.http}/openapi.json", timeout=5).json()
    assert "/api/queue" in spec["paths"] and "/api/auth/login" in spec["paths"]
    r = httpx.get(f"{server.http}/healthz", timeout=5)
    assert r.json()["database"] == "ok" and r.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(f"{server.http}/api/i18n/es", timeout=5).json()["agent_joined"]
    root = Path(__file__).resolve().parents[1]
    if (root / "widget" / "borderless.js").is_file():
        assert httpx.get(f"{server.http}/widget/borderless.js", timeout=5).status_code == 200
    for page, name in (("/console", "console.html"), ("/demo", "demo.html")):
        exists = (root / "bot" / "web" / "static" / name).is_file()
        assert httpx.get(f"{server.http}{page}", timeout=5).status_code == (200 if exists else 404)


def test_unexpected_server_failure_costs_an_error_frame_not_the_socket(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = Shopper(server.ws)
    try:
        chat = server.app.state.chat.chat

        def broken(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("database unreachable")

        monkeypatch.setattr(chat, "add_shopper_message", broken)
        s.say("hello?", client_id="fails-once")
        frame = s.recv()
        assert frame["code"] == "internal" and frame["client_id"] == "fails-once"
        monkeypatch.undo()
        assert s.ack(s.say("hello?", client_id="fails-once"))["message"]["seq"] == 1  # the resend is stored
    finally:
        s.close()
