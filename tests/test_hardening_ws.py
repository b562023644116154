"""Hardening of the sockets against a real uvicorn server and real websockets (issue 8, items 4, 5, 6, 11, 22):
rate limits per conversation and per address (not per socket), the agent's auth frame and scrubbed logs,
sockets closing on logout / deactivation / account changes (also from another process), client ids per
author, and the admin users API."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from chat_support import (
    PASSWORD,
    FakeEngine,
    LiveServer,
    Shopper,
    add_user,
    agent_connect,
    auth,
    free_port,
    login,
    make_app,
    queued_conversation,
)
from sqlalchemy import func, select
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from bot.conversations.models import Message

LIMITS = {
    "shopper_rate_per_minute": 6,
    "address_rate_per_minute": 10,
    "address_conversations_per_minute": 6,
    "address_max_sockets": 4,
    "email_rate_per_minute": 2,
}


def recv(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    return json.loads(ws.recv(timeout=timeout))


def wait_frame(ws: ClientConnection, pred: Any, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        frame = recv(ws, max(0.01, deadline - time.monotonic()))
        if pred(frame):
            return frame


def close_code(ws: ClientConnection, timeout: float = 8.0) -> int:
    """Read until the server closes the socket; its close code."""
    deadline = time.monotonic() + timeout
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.recv(timeout=max(0.01, deadline - time.monotonic()))
    assert closed.value.rcvd is not None, "the client timed out; the server never closed"
    return closed.value.rcvd.code


def outcomes(s: Shopper, client_ids: list[str], timeout: float = 10.0) -> dict[str, str]:
    """client id -> "ack" or the error code, for frames already sent."""
    found: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while len(found) < len(client_ids) and time.monotonic() < deadline:
        f = s.recv(max(0.01, deadline - time.monotonic()))
        if f.get("client_id") in client_ids and f["type"] in ("ack", "error"):
            found[f["client_id"]] = "ack" if f["type"] == "ack" else f["code"]
            if f["type"] == "error":
                assert f["code"] != "rate_limited" or f["retry_after"] >= 1
    return found


# ---------------------------------------------------------------------------------------------- rate limits
@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    app = make_app(tmp_path_factory.mktemp("ws-limits"), trusted_proxies="127.0.0.1", **LIMITS)
    with LiveServer(app) as live:
        yield live


def xff(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def Client(base_ws: str, address: str, **kwargs: Any) -> Shopper:  # noqa: N802 - reads like the class
    """A shopper whose address, as the trusted local proxy reports it, is ``address``."""
    return Shopper(base_ws, headers=xff(address), **kwargs)


def test_second_socket_on_a_conversation_shares_its_budget(limited: LiveServer) -> None:
    a = Client(limited.ws, "203.0.113.1")
    b = Client(limited.ws, "203.0.113.1", conversation_id=a.conversation_id, token=a.token)
    try:
        sent_a = [a.say(f"a{i}", client_id=f"a{i}") for i in range(4)]
        assert set(outcomes(a, sent_a).values()) == {"ack"}
        sent_b = [b.say(f"b{i}", client_id=f"b{i}") for i in range(4)]
        got = outcomes(b, sent_b)
        # 6 a minute per conversation: a per-socket budget would have let all 4 of b's through
        assert list(got.values()).count("ack") == 2 and list(got.values()).count("rate_limited") == 2, got
    finally:
        a.close()
        b.close()


def test_address_budget_spans_conversations_and_other_addresses_are_unaffected(limited: LiveServer) -> None:
    shoppers = [Client(limited.ws, "203.0.113.2") for _ in range(3)]
    try:
        results: dict[str, str] = {}
        for n, s in enumerate(shoppers):
            ids = [s.say(f"q{n}-{i}", client_id=f"q{n}-{i}") for i in range(4)]  # 12 > 10 an address a minute
            results.update(outcomes(s, ids))
        assert list(results.values()).count("ack") == 10 and list(results.values()).count("rate_limited") == 2
        other = Client(limited.ws, "198.51.100.7")
        other.ack(other.say("another address is served"))
        other.close()
    finally:
        for s in shoppers:
            s.close()


def test_new_conversations_per_address(limited: LiveServer) -> None:
    opened = []
    try:
        for _ in range(LIMITS["address_conversations_per_minute"]):
            s = Client(limited.ws, "203.0.113.3")
            assert s.welcome["type"] == "welcome"
            s.close()
            opened.append(s)
        refused = Client(limited.ws, "203.0.113.3")
        assert refused.welcome["code"] == "rate_limited" and refused.welcome["retry_after"] >= 1
        assert close_code(refused.conn) == 4429
        # resuming an existing conversation is not a new one
        again = Client(limited.ws, "203.0.113.3", conversation_id=opened[0].conversation_id, token=opened[0].token)
        assert again.welcome["type"] == "welcome"
        again.close()
    finally:
        for s in opened:
            s.close()


def test_open_sockets_per_address_are_capped(limited: LiveServer) -> None:
    first = [Client(limited.ws, "203.0.113.4", conversation_id=None) for _ in range(1)]
    cid, token = first[0].conversation_id, first[0].token
    more = [Client(limited.ws, "203.0.113.4", conversation_id=cid, token=token) for _ in range(3)]
    try:
        with connect(f"{limited.ws}/ws/shopper", additional_headers=xff("203.0.113.4")) as ws:
            frame = recv(ws)
            assert frame["code"] == "rate_limited" and frame["limit"] == "address_sockets"
            assert close_code(ws) == 4429
        # XFF from an untrusted peer is ignored... (here the peer is trusted, so another address is served)
        ok = Client(limited.ws, "203.0.113.5", conversation_id=cid, token=token)
        assert ok.welcome["type"] == "welcome"
        ok.close()
        more[0].close()
        deadline = time.monotonic() + 5
        while limited.app.state.chat.limits.open_sockets("203.0.113.4") > 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        again = Client(limited.ws, "203.0.113.4", conversation_id=cid, token=token)
        assert again.welcome["type"] == "welcome"  # a closed socket frees its slot
        again.close()
    finally:
        for s in first + more:
            s.close()


def test_email_frames_are_limited_per_conversation(limited: LiveServer) -> None:
    s = Client(limited.ws, "203.0.113.6")
    try:
        for i in range(5):
            s.send({"type": "email", "email": f"me{i}@example.com"})
        s.send({"type": "ping"})
        codes = []
        frame = s.recv()
        while frame["type"] != "pong":
            if frame["type"] == "error":
                codes.append(frame["code"])
            frame = s.recv()
        assert codes == ["rate_limited"] * 3
        with limited.app.state.db.session() as session:
            saved = session.scalar(select(func.count()).select_from(Message).where(
                Message.conversation_id == s.conversation_id, Message.code == "email_saved"))
        assert saved == 2
    finally:
        s.close()


def test_forwarded_for_is_ignored_from_untrusted_peers(tmp_path: Path) -> None:
    app = make_app(tmp_path, address_conversations_per_minute=2)  # no trusted proxies
    with LiveServer(app) as live:
        for i in range(2):
            Client(live.ws, f"192.0.2.{i}").close()
        refused = Client(live.ws, "192.0.2.99")  # a forged header does not buy a fresh budget
        assert refused.welcome["code"] == "rate_limited"
        refused.close()


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_two_processes_share_a_conversations_budget_through_redis(tmp_path: Path) -> None:
    port = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 10
        while subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout.strip() != b"PONG":
            assert time.monotonic() < deadline, "redis did not start"
            time.sleep(0.05)
        one = make_app(tmp_path, redis_url=url, shopper_rate_per_minute=4)
        two = make_app(tmp_path, redis_url=url, shopper_rate_per_minute=4)
        with LiveServer(one) as a_srv, LiveServer(two) as b_srv:
            a = Shopper(a_srv.ws)
            b = Shopper(b_srv.ws, conversation_id=a.conversation_id, token=a.token)
            assert set(outcomes(a, [a.say("x", client_id=f"r{i}") for i in range(3)]).values()) == {"ack"}
            got = outcomes(b, [b.say("y", client_id=f"s{i}") for i in range(3)])
            assert sorted(got.values()) == ["ack", "rate_limited", "rate_limited"], got
            a.close()
            b.close()
    finally:
        redis.terminate()
        redis.wait(timeout=10)


# ---------------------------------------------------------------------------------------------- agent auth
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("ws-harden")
    app = make_app(data, engine=FakeEngine(), ws_auth_check_seconds=0.3, ws_hello_timeout=2.0)
    add_user(app, "boss", "admin", name="Boss")
    add_user(app, "ana", "agent", "es,en", name="Ana")
    add_user(app, "li", "agent", "zh,en,ja,ko", name="Li")
    add_user(app, "ed", "editor")
    with LiveServer(app) as live:
        yield live


def agent_welcome(ws: ClientConnection) -> dict[str, Any]:
    welcome = recv(ws)
    assert welcome["type"] == "welcome", welcome
    assert recv(ws)["type"] == "queue"
    return welcome


def test_agent_socket_authenticates_with_a_first_frame_not_the_url(server: LiveServer) -> None:
    token = login(server.http, "ana", PASSWORD)
    with agent_connect(server.ws, token) as ws:
        assert agent_welcome(ws)["user"]["username"] == "ana"
    # a token in the URL authenticates nothing: the socket still waits for the auth frame
    with connect(f"{server.ws}/ws/agent?token={token}") as ws:
        ws.send('{"type":"ping"}')
        assert recv(ws) == {"type": "pong"}
        ws.send('{"type":"queue"}')
        assert recv(ws)["code"] == "bad_request"
        assert close_code(ws) == 4408  # no auth within the hello timeout
    for bad in ("garbage", "", login(server.http, "ed", PASSWORD)):
        with connect(f"{server.ws}/ws/agent") as ws:
            ws.send(json.dumps({"type": "auth", "token": bad}))
            assert recv(ws)["code"] == "unauthorized"
            assert close_code(ws) == 4401
    with connect(f"{server.ws}/ws/agent") as ws:
        ws.send(json.dumps({"type": "auth", "token": 42}))
        assert recv(ws)["code"] == "bad_request"


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_access_log_scrubs_token_like_query_values(tmp_path: Path) -> None:
    import uvicorn

    app = make_app(tmp_path)
    live = LiveServer(app)
    live.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=live.port, log_level="info",
                                                ws="websockets-sansio", lifespan="on", proxy_headers=False))
    import threading

    live.thread = threading.Thread(target=live.server.run, daemon=True)
    capture = Capture()
    loggers = [logging.getLogger(n) for n in ("uvicorn.access", "uvicorn.error")]
    with live:
        for logger in loggers:
            logger.addHandler(capture)
        try:
            httpx.get(f"{live.http}/healthz?token=SECRET-A&lang=es&api_key=SECRET-B", timeout=5)
            with connect(f"{live.ws}/ws/agent?token=SECRET-C") as ws:
                ws.send('{"type":"ping"}')
                recv(ws)
            time.sleep(0.2)
        finally:
            for logger in loggers:
                logger.removeHandler(capture)
    text = "\n".join(capture.lines)
    assert "/healthz?token=***&lang=es&api_key=***" in text, text
    assert "/ws/agent?token=***" in text, text
    assert "SECRET" not in text


# ---------------------------------------------------------------------------------------------- sessions end
def test_logout_and_deactivation_close_sockets_also_from_another_process(server: LiveServer, tmp_path: Path) -> None:
    token = login(server.http, "ana", PASSWORD)
    with agent_connect(server.ws, token) as ws:
        agent_welcome(ws)
        started = time.monotonic()
        assert httpx.post(f"{server.http}/api/auth/logout", headers=auth(token), timeout=5).status_code == 204
        frame = wait_frame(ws, lambda f: f["type"] == "error")
        assert frame["code"] == "session_ended"
        assert close_code(ws) == 4401 and time.monotonic() - started < 3

    # another process on the same database deactivates the user: this process's socket closes too
    other = make_app(server.app.state.settings.data_dir, ws_auth_check_seconds=0.3)
    with LiveServer(other) as second:
        token = login(server.http, "li", PASSWORD)
        admin = login(second.http, "boss", PASSWORD)
        li_id = next(u["id"] for u in httpx.get(f"{second.http}/api/users", headers=auth(admin)).json()
                     if u["username"] == "li")
        held = queued_conversation(server.app, "ja")
        assert httpx.post(f"{server.http}/api/conversations/{held}/claim", headers=auth(token)).status_code == 200
        with agent_connect(server.ws, token) as ws:
            agent_welcome(ws)
            r = httpx.patch(f"{second.http}/api/users/{li_id}", json={"active": False}, headers=auth(admin))
            assert r.status_code == 200 and r.json()["active"] is False
            assert wait_frame(ws, lambda f: f["type"] == "error")["code"] == "session_ended"
            assert close_code(ws) == 4401
        # nobody left holding her conversation: it is back in the queue, the shopper told the agent left
        detail = httpx.get(f"{server.http}/api/conversations/{held}", headers=auth(admin)).json()
        assert detail["state"] == "queued" and detail["messages"][-1]["code"] == "agent_left"
        assert httpx.get(f"{server.http}/api/queue", headers=auth(token)).status_code == 401
        assert httpx.post(f"{server.http}/api/auth/login", json={"username": "li", "password": PASSWORD}
                          ).status_code == 401
        r = httpx.patch(f"{second.http}/api/users/{li_id}", json={"active": True}, headers=auth(admin))
        assert r.json()["active"] is True
        assert login(server.http, "li", PASSWORD)


def test_role_or_language_change_closes_the_socket_and_the_new_scope_applies(server: LiveServer) -> None:
    admin = login(server.http, "boss", PASSWORD)
    users = {u["username"]: u for u in httpx.get(f"{server.http}/api/users", headers=auth(admin)).json()}
    ana = users["ana"]
    assert ana["active"] is True and ana["languages"] == ["es", "en"]
    de = queued_conversation(server.app, "de")
    token = login(server.http, "ana", PASSWORD)
    try:
        with agent_connect(server.ws, token) as ws:
            agent_welcome(ws)
            r = httpx.patch(f"{server.http}/api/users/{ana['id']}", json={"languages": ["de"]}, headers=auth(admin))
            assert r.status_code == 200 and r.json()["languages"] == ["de"]
            assert wait_frame(ws, lambda f: f["type"] == "error")["code"] == "account_changed"
            assert close_code(ws) == 4412
        with agent_connect(server.ws, token) as ws:  # the token is still good; the new scope applies
            agent_welcome(ws)
            ws.send('{"type":"queue"}')
            queue = wait_frame(ws, lambda f: f["type"] == "queue")
            assert de in [i["id"] for i in queue["items"]]
            httpx.patch(f"{server.http}/api/users/{ana['id']}", json={"role": "editor"}, headers=auth(admin))
            assert wait_frame(ws, lambda f: f["type"] == "error")["code"] == "session_ended"
            assert close_code(ws) == 4401
    finally:
        httpx.patch(f"{server.http}/api/users/{ana['id']}", json={"role": "agent", "languages": ["es", "en"]},
                    headers=auth(admin))


def test_password_reset_ends_sessions(server: LiveServer) -> None:
    admin = login(server.http, "boss", PASSWORD)
    users = {u["username"]: u for u in httpx.get(f"{server.http}/api/users", headers=auth(admin)).json()}
    token = login(server.http, "li", PASSWORD)
    with agent_connect(server.ws, token) as ws:
        agent_welcome(ws)
        r = httpx.post(f"{server.http}/api/users/{users['li']['id']}/password", json={"password": "a new secret!"},
                       headers=auth(admin))
        assert r.status_code == 204
        assert close_code(ws) == 4401
    assert httpx.get(f"{server.http}/api/auth/me", headers=auth(token)).status_code == 401
    assert login(server.http, "li", "a new secret!")
    httpx.post(f"{server.http}/api/users/{users['li']['id']}/password", json={"password": PASSWORD},
               headers=auth(admin))


def test_users_api_rules(server: LiveServer) -> None:
    admin = login(server.http, "boss", PASSWORD)
    users = {u["username"]: u for u in httpx.get(f"{server.http}/api/users", headers=auth(admin)).json()}
    base = f"{server.http}/api/users"
    r = httpx.patch(f"{base}/{users['boss']['id']}", json={"active": False}, headers=auth(admin))
    assert r.status_code == 409 and r.json()["error"]["code"] == "cannot_change_self"
    r = httpx.patch(f"{base}/{users['boss']['id']}", json={"role": "agent"}, headers=auth(admin))
    assert r.status_code == 409
    assert httpx.patch(f"{base}/999999", json={"active": False}, headers=auth(admin)).status_code == 404
    r = httpx.patch(f"{base}/{users['ed']['id']}", json={"languages": ["xx"]}, headers=auth(admin))
    assert r.status_code == 422
    assert httpx.patch(f"{base}/{users['ed']['id']}", json={"role": "root"}, headers=auth(admin)).status_code == 422
    r = httpx.patch(f"{base}/{users['ed']['id']}", json={"name": "Eddie E."}, headers=auth(admin))
    assert r.json() == {**users["ed"], "name": "Eddie E."}
    agent = login(server.http, "ana", PASSWORD)
    assert httpx.patch(f"{base}/{users['ed']['id']}", json={"active": False}, headers=auth(agent)).status_code == 403
    assert httpx.post(f"{base}/{users['ed']['id']}/password", json={"password": "short"},
                      headers=auth(admin)).status_code == 422


# ---------------------------------------------------------------------------------------------- client ids
def test_client_ids_are_namespaced_by_author(server: LiveServer) -> None:
    s = Shopper(server.ws)
    try:
        shared = "cid-" + uuid.uuid4().hex[:8]
        s.ack(s.say("my address is 1 Secret Street, please hand me to a human", client_id=shared))
        s.message_from("bot")
        ana = login(server.http, "ana", PASSWORD)
        url = f"{server.http}/api/conversations/{s.conversation_id}"
        # not held by ana: the shopper's message must not come back as hers
        r = httpx.post(f"{url}/messages", json={"text": "hi", "client_id": shared}, headers=auth(ana))
        assert r.status_code == 409 and "Secret" not in r.text
        assert httpx.post(f"{url}/claim", headers=auth(ana)).status_code == 200
        r = httpx.post(f"{url}/messages", json={"text": "hi", "client_id": shared}, headers=auth(ana))
        assert r.status_code == 409 and r.json()["error"]["code"] == "client_id_taken"
        first = httpx.post(f"{url}/messages", json={"text": "Hello!", "client_id": "agent-1"}, headers=auth(ana))
        again = httpx.post(f"{url}/messages", json={"text": "Hello!", "client_id": "agent-1"}, headers=auth(ana))
        assert first.status_code == again.status_code == 201 and first.json()["id"] == again.json()["id"]
        boss = login(server.http, "boss", PASSWORD)  # an admin may write in a held conversation, not as ana
        assert httpx.post(f"{url}/messages", json={"text": "x", "client_id": "agent-1"},
                          headers=auth(boss)).status_code == 409
        s.say("hello", client_id="agent-1")  # and the shopper cannot claim the agent's id either
        err = s.wait_for(lambda f: f["type"] == "error")
        assert err["reason"] == "client_id_taken" and err["client_id"] == "agent-1"
    finally:
        s.close()
