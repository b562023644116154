"""The same code on SQLite and PostgreSQL: migrations, idempotent resends under concurrency,
gap-free message sequence numbers, and a full websocket conversation. PostgreSQL runs from Debian's binaries
in a temp dir (skipped only when none are installed)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from chat_support import (
    PASSWORD,
    LiveServer,
    Shopper,
    add_user,
    auth,
    database_url_for,
    login,
    make_app,
    make_settings,
)
from sqlalchemy import func, inspect, select

from bot.conversations.models import Message
from bot.db.migrate import downgrade, upgrade
from bot.db.session import Database

BACKENDS = ["sqlite", "postgresql"]
CHAT_TABLES = {"users", "auth_tokens", "conversations", "messages", "notes", "handoffs"}


@pytest.fixture(params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    url = database_url_for(request.param, tmp_path)
    app = make_app(tmp_path, database_url=url)
    assert app.state.db.engine.dialect.name == request.param
    add_user(app, "agent3", "agent", "en,es", name="Agent 3")
    with LiveServer(app) as live:
        yield live


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_up_down_up(backend: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, database_url=database_url_for(backend, tmp_path))
    db = Database.from_settings(settings)
    try:
        upgrade(db.engine)
        assert set(inspect(db.engine).get_table_names()) >= CHAT_TABLES
        downgrade(db.engine, "base")
        assert not CHAT_TABLES & set(inspect(db.engine).get_table_names())
        upgrade(db.engine)
        upgrade(db.engine)  # idempotent
        assert set(inspect(db.engine).get_table_names()) >= CHAT_TABLES
    finally:
        db.dispose()


def test_concurrent_messages_get_unique_gap_free_seqs_and_resends_store_once(server: LiveServer) -> None:
    chat = server.app.state.chat.chat
    opened = chat.open("demo", None, None, "en")
    cid = opened.conversation_id
    errors: list[BaseException] = []
    results: dict[int, list[str]] = {}

    def writer(n: int) -> None:
        try:
            ids = []
            for k in range(10):
                # every client id is sent by two threads at once: stored once
                stored = chat.add_shopper_message(cid, f"m-{n % 4}-{k}", f"text {n % 4} {k}")
                ids.append(stored.message["id"])
            results[n] = ids
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert not errors, errors
    for n in range(4):
        assert results[n] == results[n + 4]  # the twin thread got the very same messages
    with server.app.state.db.session() as session:
        seqs = session.scalars(select(Message.seq).where(Message.conversation_id == cid).order_by(Message.seq)).all()
        assert seqs == list(range(1, 41))
        assert session.scalar(select(func.count(func.distinct(Message.client_id))).where(
            Message.conversation_id == cid)) == 40


def test_full_conversation_over_websockets(server: LiveServer) -> None:
    s = Shopper(server.ws, locale="es")
    try:
        first = s.ack(s.say("hola, ¿cuánto tarda?", client_id="pg-1"))["message"]
        assert s.message_from("bot")["action"] == "answer"
        assert s.ack(s.say("hola, ¿cuánto tarda?", client_id="pg-1"))["message"]["id"] == first["id"]
        s.ack(s.say("quiero una persona"))
        s.wait_for(lambda f: f["type"] == "state" and f["state"] == "queued")
        h = auth(login(server.http, "agent3", PASSWORD))
        assert httpx.post(f"{server.http}/api/conversations/{s.conversation_id}/claim", headers=h,
                          timeout=10).status_code == 200
        s.wait_for(lambda f: f["type"] == "message" and f["message"]["code"] == "agent_joined")
        httpx.post(f"{server.http}/api/conversations/{s.conversation_id}/messages", headers=h,
                   json={"text": "¡Hola!"}, timeout=10)
        assert s.message_from("agent")["agent_name"] == "Agent 3"
        detail = httpx.get(f"{server.http}/api/conversations/{s.conversation_id}", headers=h, timeout=10).json()
        roles = [m["code"] or m["role"] for m in detail["messages"]]
        assert roles == ["shopper", "bot", "shopper", "bot", "no_agent_online", "leave_email_prompt", "agent_joined",
                         "agent"]
        assert detail["messages"][1]["confidence"] == 0.91
    finally:
        s.close()
