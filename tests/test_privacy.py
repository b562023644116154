"""Privacy end to end: a card number and an IBAN never reach the database files, the log or any API response;
export and erasure (audited, tombstones keep report counts, content gone from the SQLite file); retention purge
from the CLI (--dry-run and real, batched, re-runnable) and the server's job; the audit log is admin-only and
append-only."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from chat_support import REPO, FakeEngine, LiveServer, Shopper, auth, login, make_app
from sqlalchemy import update

from bot.auth.service import DEMO_PASSWORD
from bot.conversations.models import Conversation
from bot.db.types import utcnow
from bot.privacy.redact import Redactor, mask
from bot.privacy.service import RetentionPolicy, purge

CARD = "4111 1111 1111 1111"
IBAN = "DE89 3704 0044 0532 0130 00"
ORDER = "order 4012888888881881"  # Luhn-valid, but an order number: kept
#: Yesterday to tomorrow (UTC): every conversation the tests create.
PERIOD = "from={}&to={}&tz=UTC".format(*((utcnow() + timedelta(days=d)).date().isoformat() for d in (-1, 1)))
SECRETS = ("4111 1111 1111", "4111111111111111", "4111-1111", "3704 0044 0532", "370400440532", "SECRET-99123")


def files_of(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob("borderless.db*")))


def leaks(blob: bytes | str, needles: tuple[str, ...] = SECRETS) -> list[str]:
    data = blob.encode("utf-8") if isinstance(blob, str) else blob
    return [n for n in needles if n.encode("utf-8") in data]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data_dir = tmp_path_factory.mktemp("privacy")
    log_file = data_dir / "server.log"
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    engine = FakeEngine()
    app = make_app(data_dir, engine=engine, demo=True, redact_patterns=[r"\bSECRET-\d+\b"])
    try:
        with LiveServer(app) as live:
            yield {"http": live.http, "ws": live.ws, "app": app, "engine": engine, "data_dir": data_dir,
                   "log": log_file, "admin": auth(login(live.http, "admin", DEMO_PASSWORD))}
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()


def test_redaction_rules() -> None:
    r = Redactor.from_settings([r"\bSECRET-\d+\b"], None)
    assert r.redact(f"pay {CARD} now") == "pay **** **** **** 1111 now"
    assert r.redact("4111-1111-1111-1111") == "****-****-****-1111"
    assert r.redact(f"iban {IBAN} THANKS") == "iban **** **** **** **** **30 00 THANKS"
    assert r.redact("GB82WEST12345698765432") == "******************5432"
    assert r.redact("4111 1111 1111 1112") == "4111 1111 1111 1112"  # fails Luhn: not a card
    assert r.redact("DE89 3704 0044 0532 0130 01") == "DE89 3704 0044 0532 0130 01"  # bad checksum
    assert r.redact(ORDER) == ORDER and r.redact("#4012888888881881") == "#4012888888881881"
    assert r.redact("call +34 612 345 678") == "call +34 612 345 678"
    assert r.redact("code SECRET-99123") == "code ******-*9123"
    assert mask("ab-12") == "ab-12" and mask("abcdef") == "**cdef"
    with pytest.raises(ValueError, match="does not compile"):
        Redactor.from_settings(["(unclosed"], None)


def test_card_and_iban_never_stored_logged_or_returned(server: dict[str, Any]) -> None:
    http, admin = server["http"], server["admin"]
    raw = f"my card is {CARD}, iban {IBAN}, code SECRET-99123, {ORDER}; I need a human"
    shopper = Shopper(server["ws"], locale="en-US")
    try:
        cid = shopper.conversation_id
        client_id = shopper.say(raw)
        acked = shopper.ack(client_id)["message"]["text"]  # the shopper sees their own message masked
        assert leaks(acked) == [] and "**** **** **** 1111" in acked and ORDER in acked
        shopper.message_from("bot")
        shopper.send({"type": "email", "email": "card-owner@example.com"})
        shopper.message_from("system")
    finally:
        shopper.close()
    assert leaks(server["engine"].calls[-1][0]) == []  # the bot answered the redacted text
    logging.getLogger("bot.test").warning("a careless log line: %s", raw)  # any logger, any handler
    logging.getLogger("bot.test").warning('"GET /api/privacy/export?email=card-owner%40example.com HTTP/1.1"')

    ana = auth(login(http, "ana", DEMO_PASSWORD))
    assert httpx.post(f"{http}/api/conversations/{cid}/claim", headers=ana).status_code == 200
    for path, body in ((f"/api/conversations/{cid}/notes", {"text": f"customer pasted {CARD} again"}),
                       (f"/api/conversations/{cid}/messages", {"text": f"Please never send {IBAN} here"})):
        r = httpx.post(http + path, headers=ana, json=body)
        assert r.status_code == 201 and leaks(r.text) == [] and "**** ****" in r.text

    responses = [httpx.get(http + path, headers=admin, timeout=30).text for path in (
        f"/api/conversations/{cid}", "/api/queue", "/api/conversations?scope=all",
        f"/api/privacy/export?conversation_id={cid}", "/api/audit",
        f"/api/reports/conversations.csv?{PERIOD}")]
    assert all(leaks(text) == [] for text in responses)
    assert "**** **** **** 1111" in responses[0] and "1111" in responses[3]
    assert leaks(files_of(server["data_dir"])) == []
    log_text = server["log"].read_text(encoding="utf-8")
    assert "a careless log line: my card is **** **** **** 1111" in log_text and leaks(log_text) == []
    assert "email=***%40example.com" in log_text and "card-owner" not in log_text


def test_export_erase_audit(server: dict[str, Any]) -> None:
    http, admin, app = server["http"], server["admin"], server["app"]
    email = "erase.me@example.com"
    words = "zebra-quokka-marmalade"
    shopper = Shopper(server["ws"], locale="es-ES")
    try:
        cid = shopper.conversation_id
        shopper.ack(shopper.say(f"hola, {words}, quiero una persona"))
        shopper.message_from("bot")
        shopper.send({"type": "email", "email": email})
        shopper.message_from("system")
    finally:
        shopper.close()
    ana = auth(login(http, "ana", DEMO_PASSWORD))
    httpx.post(f"{http}/api/conversations/{cid}/claim", headers=ana).raise_for_status()
    httpx.post(f"{http}/api/conversations/{cid}/notes", headers=ana,
               json={"text": f"note about {words}"}).raise_for_status()
    before = httpx.get(f"{http}/api/reports/overview?{PERIOD}", headers=admin).json()
    assert before["conversations"] >= 1 and before["handed_off"] >= 1

    assert httpx.get(f"{http}/api/privacy/export?email={email}", headers=ana).status_code == 403
    assert httpx.get(f"{http}/api/privacy/export", headers=admin).status_code == 422
    exported = httpx.get(f"{http}/api/privacy/export?email={email.upper()}", headers=admin).json()
    [conv] = exported["conversations"]
    assert conv["id"] == cid and conv["contact_email"] == email and conv["erased_at"] is None
    assert any(words in m["text"] for m in conv["messages"]) and words in conv["notes"][0]["text"]
    assert conv["handoffs"][0]["reason"] == "human_request"
    assert words.encode() in files_of(server["data_dir"])

    assert httpx.post(f"{http}/api/privacy/erase", headers=ana, json={"email": email}).status_code == 403
    erased = httpx.post(f"{http}/api/privacy/erase", headers=admin, json={"email": email})
    assert erased.status_code == 200, erased.text
    assert erased.json()["conversations"] == 1 and erased.json()["messages"] >= 3 and erased.json()["notes"] == 1
    after = httpx.get(f"{http}/api/reports/overview?{PERIOD}", headers=admin).json()
    assert after == before  # tombstones: every report figure unchanged
    tomb = httpx.get(f"{http}/api/privacy/export?conversation_id={cid}", headers=admin).json()["conversations"][0]
    assert tomb["messages"] == [] and tomb["notes"] == [] and tomb["contact_email"] is None and tomb["erased_at"]
    db_files = files_of(server["data_dir"])
    assert words.encode() not in db_files and email.encode() not in db_files
    again = httpx.post(f"{http}/api/privacy/erase", headers=admin, json={"conversation_id": cid}).json()
    assert again == {"conversations": 1, "messages": 0, "notes": 0, "missed_questions": 0}  # safe to re-run

    audit = httpx.get(f"{http}/api/audit", headers=admin).json()
    actions = [(e["action"], e["actor"]) for e in audit]
    assert ("erase", "admin") in actions and ("export", "admin") in actions and ("login", "ana") in actions
    assert email not in json.dumps(audit) and email.upper() not in json.dumps(audit)
    subjects = {e["subject"] for e in audit if e["action"] in ("export", "erase")}
    assert any(s.startswith("email#") for s in subjects) and f"conversation:{cid}" in subjects
    assert httpx.get(f"{http}/api/audit", headers=ana).status_code == 403
    first = audit[-1]["id"]
    for method in ("PUT", "PATCH", "DELETE"):
        assert httpx.request(method, f"{http}/api/audit/{first}", headers=admin).status_code in (404, 405)
        assert httpx.request(method, f"{http}/api/audit", headers=admin).status_code == 405
    assert httpx.get(f"{http}/api/audit?action=erase&limit=1", headers=admin).json()[0]["action"] == "erase"
    with app.state.db.read() as session:
        assert session.get(Conversation, cid) is not None  # the tombstone


def _age(app: Any, ids: list[str], days: int) -> None:
    with app.state.db.session() as session:
        session.execute(update(Conversation).where(Conversation.id.in_(ids))
                        .values(updated_at=utcnow() - timedelta(days=days)))


def test_purge_cli_dry_run_then_real_batched_and_rerunnable(tmp_path: Path) -> None:
    from chat_support import queued_conversation

    app = make_app(tmp_path, demo=True)
    chat, handoff = app.state.chat.chat, app.state.chat.handoff
    from bot.auth.service import Principal

    admin = Principal(1, "admin", "Admin", "admin", ())
    old_closed = queued_conversation(app)
    assert handoff.claim(old_closed, admin)[0]
    handoff.resolve(old_closed, admin)
    old_bot = [chat.open("demo", None, None, "en").conversation_id for _ in range(2)]
    for conv in old_bot:
        chat.add_shopper_message(conv, "c1", "hello there")
    recent_closed = queued_conversation(app)
    old_open_handoff = queued_conversation(app)  # queued, handed off: neither rule applies
    _age(app, [old_closed, *old_bot, old_open_handoff], 60)
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        headers = {"Authorization": "Bearer " + client.post(
            "/api/auth/login", json={"username": "admin", "password": DEMO_PASSWORD}).json()["token"]}
        before = client.get(f"/api/reports/overview?{PERIOD}", headers=headers).json()
        assert before["conversations"] == 5
    app.state.db.dispose()

    env = {**os.environ, "PYTHONPATH": str(REPO), "BORDERLESS_RETENTION_DAYS": "30",
           "BORDERLESS_RETENTION_BOT_ONLY_DAYS": "7", "BORDERLESS_PURGE_BATCH_SIZE": "1"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot.cli", "purge", "--data-dir", str(tmp_path), *args],
                              env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)

    dry = cli("--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would delete 3 conversations" in dry.stdout
    real = cli()
    assert real.returncode == 0, real.stderr
    assert "deleted 3 conversations" in real.stdout
    assert [line.split("]")[1].split()[0] for line in real.stderr.splitlines() if "conversations" in line] == [
        "0/3", "1/3", "2/3", "3/3"]  # one batch (transaction) per conversation, with a progress bar
    rerun = cli()
    assert rerun.returncode == 0 and "deleted 0 conversations" in rerun.stdout

    app = make_app(tmp_path, demo=True)
    with app.state.db.read() as session:
        left = set(session.scalars(Conversation.__table__.select().with_only_columns(Conversation.id)))
    assert left == {recent_closed, old_open_handoff}
    with TestClient(app) as client:
        headers = {"Authorization": "Bearer " + client.post(
            "/api/auth/login", json={"username": "admin", "password": DEMO_PASSWORD}).json()["token"]}
        assert client.get(f"/api/reports/overview?{PERIOD}", headers=headers).json() == before
        purges = client.get("/api/audit?action=purge", headers=headers).json()
    assert [(p["actor"], p["detail"]["deleted"]) for p in purges] == [("cli", 3)]
    app.state.db.dispose()


def test_server_job_applies_retention(tmp_path: Path) -> None:
    from bot.privacy import retention

    app = make_app(tmp_path, retention_bot_only_days=7)
    chat = app.state.chat.chat
    old = chat.open("demo", None, None, "en").conversation_id
    new = chat.open("demo", None, None, "en").conversation_id
    _age(app, [old], 30)
    sleeps: list[float] = []

    async def fast_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) > 2:
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(retention.retention_loop(app.state.db, app.state.settings, fast_sleep))
    assert sleeps == [60.0, 3600.0, 3600.0]
    with app.state.db.read() as session:
        assert session.get(Conversation, old) is None and session.get(Conversation, new) is not None
    assert purge(app.state.db, RetentionPolicy(0, 7), "test")["deleted"] == 0  # nothing left: re-runnable
    app.state.db.dispose()


def test_cli_created_user_is_audited(tmp_path: Path) -> None:
    """An account added with ``borderless create-user`` is in the audit log like one an admin adds in the UI."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "BORDERLESS_NEW_PASSWORD": "violet-harbour-quietly-47"}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "create-user", "--data-dir", str(tmp_path),
                           "lena", "--role", "agent", "--languages", "de,en"],
                          env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    app = make_app(tmp_path, demo=True)
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        headers = {"Authorization": "Bearer " + client.post(
            "/api/auth/login", json={"username": "lena", "password": "violet-harbour-quietly-47"}).json()["token"]}
        assert client.get("/api/audit", headers=headers).status_code == 403  # an agent cannot read it
    with app.state.db.read() as session:
        from bot.audit.service import entries

        created = entries(session, action="user_created")
    assert [(e["actor"], e["subject"], e["detail"]["role"], e["detail"]["languages"]) for e in created] == [
        ("cli", "user:lena", "agent", ["de", "en"])]
    app.state.db.dispose()


def test_accounts_made_at_first_start_or_by_the_bare_auth_cli_are_audited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first admin (``BORDERLESS_ADMIN_PASSWORD``), the demo accounts and ``python -m bot.auth.cli`` write the
    same ``user_created`` entry as the admin API and ``borderless create-user``."""
    from bot.audit.service import entries
    from bot.auth.cli import main as auth_cli

    def created(app: Any) -> list[tuple[str, str, str, Any]]:
        with app.state.db.read() as session:
            return sorted((e["actor"], e["subject"], e["detail"]["role"], e["detail"].get("from"))
                          for e in entries(session, action="user_created"))

    first = make_app(tmp_path / "first", admin_password="violet-harbour-quietly-47", admin_username="root")
    assert created(first) == [("system", "user:root", "admin", "BORDERLESS_ADMIN_PASSWORD")]
    first.state.db.dispose()

    demo = make_app(tmp_path / "demo", demo=True)
    assert created(demo) == [("system", "user:admin", "admin", "demo"), ("system", "user:ana", "agent", "demo"),
                             ("system", "user:editor", "editor", "demo"), ("system", "user:li", "agent", "demo"),
                             ("system", "user:sam", "agent", "demo")]
    monkeypatch.setenv("BORDERLESS_NEW_PASSWORD", "violet-harbour-quietly-47")
    assert auth_cli(["mika", "--role", "editor", "--data-dir", str(tmp_path / "demo")]) == 0, capsys.readouterr().err
    with demo.state.db.read() as session:
        [latest] = entries(session, action="user_created", limit=1)
    assert (latest["actor"], latest["subject"], latest["detail"]["role"]) == ("cli", "user:mika", "editor")
    assert "os_user" in latest["detail"]
    demo.state.db.dispose()
