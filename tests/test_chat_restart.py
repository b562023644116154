"""Kill the server process (SIGKILL) mid-conversation and start it again: nothing acknowledged is lost,
the conversation resumes, the queue survives. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from chat_support import ServeProcess, Shopper, auth, database_url_for, login


class ServerProcess(ServeProcess):
    """``python -m bot.serve`` in its own process, with the fake engine."""

    def __init__(self, data_dir: Path, database_url: str | None) -> None:
        super().__init__(data_dir, {
            "BORDERLESS_ENGINE_FACTORY": "chat_support:build_fake_engine",
            "BORDERLESS_ADMIN_PASSWORD": "admin-password",
            "BORDERLESS_STORE_KEYS": "demo",
            "BORDERLESS_SECRET_KEY": None,  # the generated key must survive the restart too
            "BORDERLESS_DATABASE_URL": database_url,
        })


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path, database_url_for(request.param, tmp_path))
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def test_kill_mid_conversation_then_restart_loses_nothing_acknowledged(server: ServerProcess) -> None:
    shopper = Shopper(server.ws, locale="es-ES")
    conv_id, token = shopper.conversation_id, shopper.token
    acked: dict[str, dict] = {}
    for i in range(3):
        cid = shopper.say(f"pregunta número {i}")
        acked[cid] = shopper.ack(cid)["message"]
        shopper.message_from("bot")
    # a second conversation waits in the queue
    other = Shopper(server.ws, locale="en")
    other.ack(other.say("I want a human"))
    other.wait_for(lambda f: f["type"] == "state" and f["state"] == "queued")
    # the bot takes 1.5 s over "slow": kill the server right after the acknowledgement, before the reply
    cid = shopper.say("una pregunta lenta (slow)")
    acked[cid] = shopper.ack(cid)["message"]
    server.kill()
    shopper.close()
    other.close()

    server.start()
    resumed = Shopper(server.ws, conversation_id=conv_id, token=token, last_seq=0, locale="es-ES")
    try:
        welcome = resumed.welcome
        assert welcome["type"] == "welcome" and welcome["conversation_id"] == conv_id
        stored = {m["client_id"]: m for m in welcome["messages"] if m["role"] == "shopper"}
        for client_id, message in acked.items():  # every acknowledged message, same id and seq
            assert stored[client_id]["id"] == message["id"] and stored[client_id]["seq"] == message["seq"]
        assert [m["seq"] for m in welcome["messages"]] == list(range(1, len(welcome["messages"]) + 1))
        # the message the bot never answered is answered now
        reply = resumed.message_from("bot", timeout=15)
        assert "slow" in reply["text"]
        # a resend of an acknowledged message is still stored once
        again = resumed.ack(resumed.say("una pregunta lenta (slow)", client_id=cid))
        assert again["message"]["id"] == acked[cid]["id"]
        # and the conversation goes on
        resumed.ack(resumed.say("¿y los gastos de envío?"))
        assert resumed.message_from("bot")["lang"] == "es"
    finally:
        resumed.close()
    # resume from a seq: only newer messages
    later = Shopper(server.ws, conversation_id=conv_id, token=token, last_seq=8)
    assert [m["seq"] for m in later.welcome["messages"]] == [9, 10]
    later.close()
    # the queue survived; the admin bootstrapped on the first start can log in
    h = auth(login(server.http, "admin", "admin-password"))
    assert [item["id"] for item in httpx.get(f"{server.http}/api/queue", headers=h, timeout=10).json()] == [
        other.conversation_id]
