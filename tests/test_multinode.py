"""Two Borderless processes on one PostgreSQL, relayed through Redis, behind deploy/nginx.conf (issue 9).

Real parts on loopback ports: PostgreSQL, redis-server, nginx and two ``python -m bot.serve`` processes. The
engine is the editor-following stand-in (tests/multinode_support.py): these tests are about transport and
persistence, and an engine that answers in microseconds makes a lost or duplicated message the only way to fail.
Skipped (with the reason) only when a Debian binary is missing.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from chat_support import Shopper, agent_connect, auth, login, shared_postgres
from multinode_support import Nginx, Node, RedisServer, missing_binaries, workdir
from sqlalchemy import create_engine, text
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from bot.auth.service import DEMO_PASSWORD

pytestmark = pytest.mark.timeout(300)

LOAD_SHOPPERS = 50


@dataclass
class Cluster:
    redis: RedisServer
    a: Node
    b: Node
    nginx: Nginx
    database_url: str

    def db_rows(self, sql: str, **params: Any) -> list[Any]:
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(text(sql), params))
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    missing = missing_binaries()
    if missing:
        pytest.skip(f"missing Debian packages: {', '.join(missing)} (make system-deps)")
    pg = shared_postgres()
    assert pg is not None
    url = pg.create_database("mn_" + uuid.uuid4().hex[:10])
    tmp = workdir()
    redis = RedisServer(tmp)
    redis.start()
    env = {
        "BORDERLESS_DATABASE_URL": url,
        "BORDERLESS_REDIS_URL": redis.url,
        "BORDERLESS_SECRET_KEY": "multinode-secret",  # every process must share it (conversation tokens)
        "BORDERLESS_STORE_KEYS": "demo",
        "BORDERLESS_DEMO": "true",
        "BORDERLESS_ENGINE_FACTORY": "multinode_support:build_following_engine",
        "BORDERLESS_SHOPPER_RATE_PER_MINUTE": "10000",
        # every load shopper comes from 127.0.0.1: lift the per-address budgets (tests/test_hardening_ws.py)
        "BORDERLESS_ADDRESS_RATE_PER_MINUTE": "100000",
        "BORDERLESS_ADDRESS_CONVERSATIONS_PER_MINUTE": "100000",
        "BORDERLESS_ADDRESS_MAX_SOCKETS": "100000",
        "BORDERLESS_RELAY_POLL_SECONDS": "0.5",
        "BORDERLESS_SHUTDOWN_GRACE_SECONDS": "5",
        "BORDERLESS_LOGIN_MAX_FAILURES": "4",
    }
    a, b = Node("a", tmp, env), Node("b", tmp, env)
    nginx = Nginx(tmp / "nginx", [a.port, b.port])
    try:
        a.start()  # first: migrates and creates the demo accounts; b then starts on a ready database
        b.start()
        nginx.start()
        yield Cluster(redis, a, b, nginx, url.replace("postgresql+psycopg", "postgresql+psycopg"))
    finally:
        for part in (nginx, a, b, redis):
            part.stop()


# ---------------------------------------------------------------------------------------------- two nodes
def test_shopper_on_a_and_agent_on_b_talk_both_ways(cluster: Cluster) -> None:
    a, b = cluster.a, cluster.b
    token = login(b.http, "sam", DEMO_PASSWORD)  # sam serves every language
    with agent_connect(b.ws, token) as agent:
        def agent_frame(pred: Any, timeout: float = 5) -> dict[str, Any]:
            deadline = time.monotonic() + timeout
            while True:
                frame = json.loads(agent.recv(timeout=max(0.01, deadline - time.monotonic())))
                if pred(frame):
                    return frame

        agent_frame(lambda f: f["type"] == "queue")
        s = Shopper(a.ws)
        try:
            s.ack(s.say("I want to talk to a human"))
            s.wait_for(lambda f: f["type"] == "state" and f["state"] == "queued")
            # the queue change made on A reaches the console on B
            agent_frame(lambda f: f["type"] == "queue" and any(i["id"] == s.conversation_id for i in f["items"]))
            h = auth(token)
            assert httpx.post(f"{b.http}/api/conversations/{s.conversation_id}/claim", headers=h,
                              timeout=10).status_code == 200
            assert s.message_from("system", timeout=2)["code"] == "agent_joined"  # B -> A
            assert s.wait_for(lambda f: f["type"] == "state", timeout=2)["state"] == "agent"
            httpx.post(f"{b.http}/api/conversations/{s.conversation_id}/messages", headers=h,
                       json={"text": "Hi, Sam here"}, timeout=10).raise_for_status()
            assert s.message_from("agent", timeout=2)["text"] == "Hi, Sam here"  # agent on B -> shopper on A
            cid = s.say("my parcel is late")
            s.ack(cid)
            frame = agent_frame(lambda f: f["type"] == "message" and f["conversation_id"] == s.conversation_id
                                and f["message"]["role"] == "shopper", timeout=2)
            assert frame["message"]["client_id"] == cid  # shopper on A -> agent on B
        finally:
            s.close()


def test_entry_published_through_b_is_answered_on_a_within_2s(cluster: Cluster) -> None:
    a, b = cluster.a, cluster.b
    h = auth(login(b.http, "editor", DEMO_PASSWORD))
    entry_id = "zebra-" + uuid.uuid4().hex[:6]
    question = f"Do you ship striped parcels {entry_id}?"
    r = httpx.post(f"{b.http}/api/editor/entries", headers=h, timeout=10, json={
        "id": entry_id, "topic": "shipping",
        "locales": {"en": {"answer": "Yes, zebra parcels ship free.", "questions": [question]}}})
    assert r.status_code == 201, r.text
    s = Shopper(a.ws)
    try:
        s.ack(s.say(question))
        assert s.message_from("bot")["faq_id"] != entry_id  # a draft: not answered yet
        r = httpx.post(f"{b.http}/api/editor/entries/{entry_id}/publish", headers={**h, "If-Match": '"1"'},
                       timeout=10)
        assert r.status_code == 200, r.text
        published_at = time.monotonic()
        while True:
            s.ack(s.say(question))
            reply = s.message_from("bot")
            if reply["faq_id"] == entry_id:
                break
            assert time.monotonic() - published_at < 2.0, "the publish did not reach node A within 2 s"
            time.sleep(0.1)
        assert reply["text"] == "Yes, zebra parcels ship free."
        assert time.monotonic() - published_at < 2.0
    finally:
        s.close()


def test_login_throttle_is_shared_by_both_nodes(cluster: Cluster) -> None:
    codes = [httpx.post(f"{node.http}/api/auth/login", json={"username": "li", "password": "wrong-guess"},
                        timeout=10).status_code for node in (cluster.a, cluster.b, cluster.a, cluster.b, cluster.a)]
    assert codes == [401, 401, 401, 401, 429]  # 4 failures allowed in all, wherever they were tried


# ---------------------------------------------------------------------------------------------- load client
@dataclass
class LoadShopper:
    """A shopper through nginx that talks in closed loop and, like the widget, reconnects and resumes with
    ``last_seq``, resending an unacknowledged message with the same ``client_id``."""

    index: int
    conversation_id: str | None = None
    token: str | None = None
    seen: dict[int, dict[str, Any]] = field(default_factory=dict)  # seq -> message
    acked: dict[str, int] = field(default_factory=dict)  # client_id -> seq
    errors: list[dict[str, Any]] = field(default_factory=list)
    close_codes: list[int] = field(default_factory=list)
    connections: int = 0

    @property
    def last_seq(self) -> int:
        return max(self.seen, default=0)

    def answered(self, seq: int) -> bool:
        return any(m["role"] == "bot" and s > seq for s, m in self.seen.items())

    def _take(self, frame: dict[str, Any]) -> None:
        if frame.get("type") == "error":
            self.errors.append(frame)
        for m in frame.get("messages", []) if frame.get("type") == "welcome" else []:
            self.seen[m["seq"]] = m
        if frame.get("type") == "message":
            self.seen[frame["message"]["seq"]] = frame["message"]
        if frame.get("type") == "ack":
            self.acked[frame["client_id"]] = frame["message"]["seq"]
            self.seen[frame["message"]["seq"]] = frame["message"]

    async def run(self, url: str, until: float, reply_timeout: float = 20.0) -> None:
        pending: str | None = None  # client_id sent and not yet acknowledged and answered
        sent = 0
        while True:
            try:
                async with connect(f"{url}/ws/shopper", open_timeout=10, close_timeout=2) as ws:
                    self.connections += 1
                    await ws.send(json.dumps({"type": "hello", "store_key": "demo", "locale": "en",
                                              "conversation_id": self.conversation_id, "token": self.token,
                                              "last_seq": self.last_seq}))
                    welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    assert welcome["type"] == "welcome", welcome
                    self.conversation_id, self.token = welcome["conversation_id"], welcome["token"]
                    self._take(welcome)
                    while True:
                        if pending is not None and pending in self.acked and self.answered(self.acked[pending]):
                            pending = None
                        if pending is None:
                            if time.monotonic() >= until:
                                return
                            pending = f"s{self.index}-{sent}"
                            sent += 1
                        if pending not in self.acked:  # new, or resent after a reconnect: stored once
                            await ws.send(json.dumps({"type": "message", "client_id": pending,
                                                      "text": f"question {sent} from shopper {self.index}"}))
                        deadline = time.monotonic() + reply_timeout
                        while not (pending in self.acked and self.answered(self.acked[pending])):
                            remaining = deadline - time.monotonic()
                            if remaining <= 0:
                                self.errors.append({"type": "timeout", "client_id": pending})
                                return
                            self._take(json.loads(await asyncio.wait_for(ws.recv(), remaining)))
                        await asyncio.sleep(random.uniform(0.05, 0.25))
            except ConnectionClosed as exc:
                self.close_codes.append(exc.rcvd.code if exc.rcvd else 1006)
            except (OSError, TimeoutError) as exc:
                self.close_codes.append(-1)
                if time.monotonic() > until + 30:
                    self.errors.append({"type": "connect", "detail": repr(exc)})
                    return
            await asyncio.sleep(random.uniform(0.05, 0.3))  # the widget reconnects with jitter


def run_load(url: str, seconds: float, during: Any = None) -> list[LoadShopper]:
    """LOAD_SHOPPERS shoppers for ``seconds``; ``during()`` runs in a thread once they are talking."""

    async def main() -> list[LoadShopper]:
        shoppers = [LoadShopper(i) for i in range(LOAD_SHOPPERS)]
        until = time.monotonic() + seconds
        tasks = [asyncio.create_task(s.run(url, until)) for s in shoppers]
        if during is not None:
            await asyncio.sleep(min(2.0, seconds / 3))
            await asyncio.to_thread(during)
        await asyncio.wait_for(asyncio.gather(*tasks), seconds + 90)
        return shoppers

    return asyncio.run(main())


def check_nothing_lost(cluster: Cluster, shoppers: list[LoadShopper]) -> None:
    """Every acknowledged message stored exactly once and answered exactly once; no shopper saw an error."""
    assert [e for s in shoppers for e in s.errors] == []
    acked = {cid: s.conversation_id for s in shoppers for cid in s.acked}
    assert len(acked) >= LOAD_SHOPPERS
    ids = [s.conversation_id for s in shoppers]
    rows = cluster.db_rows(
        "SELECT m.client_id, m.conversation_id, "
        "(SELECT count(*) FROM messages r WHERE r.reply_to = m.id) AS replies "
        "FROM messages m WHERE m.role = 'shopper' AND m.conversation_id = ANY(:ids)", ids=ids)
    stored: dict[str, list[int]] = {}
    for client_id, _cid, replies in rows:
        stored.setdefault(client_id, []).append(replies)
    lost = [c for c in acked if c not in stored]
    duplicated = [c for c, r in stored.items() if len(r) != 1]
    unanswered = [c for c, r in stored.items() if r != [1]]
    assert (lost, duplicated, unanswered) == ([], [], [])
    for s in shoppers:  # and each shopper has every reply on screen, in a gap-free sequence
        assert sorted(s.seen) == list(range(1, s.last_seq + 1)), s.index


def test_sigkill_under_load_loses_nothing(cluster: Cluster) -> None:
    shoppers = run_load(cluster.nginx.ws, 8, during=cluster.a.kill)
    try:
        check_nothing_lost(cluster, shoppers)
        assert sum(s.connections > 1 for s in shoppers) > 0  # some shoppers were on A and moved to B
    finally:
        cluster.a.start()


def test_sigterm_under_load_finishes_turns_and_moves_sockets(cluster: Cluster) -> None:
    codes: list[int | None] = []
    shoppers = run_load(cluster.nginx.ws, 8, during=lambda: codes.append(cluster.a.terminate(30)))
    try:
        assert codes in ([0], [-15])  # a clean exit (uvicorn re-raises SIGTERM once it has shut down)
        check_nothing_lost(cluster, shoppers)
        moved = [s for s in shoppers if 1012 in s.close_codes]
        assert moved and all(s.connections > 1 for s in moved)  # told to reconnect, and did
        assert "Traceback" not in cluster.a.log_tail(20_000)
    finally:
        cluster.a.start()


def test_redis_outage_under_load_degrades_to_polling(cluster: Cluster) -> None:
    a, b = cluster.a, cluster.b
    # A conversation that crosses nodes: shopper on A, agent on B, so only the relay (or polling) connects them.
    token = login(b.http, "sam", DEMO_PASSWORD)
    h = auth(token)
    s = Shopper(a.ws)
    received: list[float] = []

    def outage() -> None:
        s.ack(s.say("a human please"))
        s.wait_for(lambda f: f["type"] == "state" and f["state"] == "queued")
        httpx.post(f"{b.http}/api/conversations/{s.conversation_id}/claim", headers=h, timeout=10).raise_for_status()
        s.message_from("system")
        cluster.redis.stop()
        time.sleep(1.0)
        sent_at = time.monotonic()
        httpx.post(f"{b.http}/api/conversations/{s.conversation_id}/messages", headers=h,
                   json={"text": "still here during the outage"}, timeout=10).raise_for_status()
        assert s.message_from("agent", timeout=5)["text"] == "still here during the outage"
        received.append(time.monotonic() - sent_at)
        assert httpx.get(f"{a.http}/healthz", timeout=5).json()["relay"] == "degraded"
        time.sleep(max(0.0, 10.0 - (time.monotonic() - sent_at) - 1.0))
        cluster.redis.start()

    try:
        shoppers = run_load(cluster.nginx.ws, 16, during=outage)
        check_nothing_lost(cluster, shoppers)
        assert received and received[0] < 3.0  # polled from the database while Redis was away
        # back on the relay: the next agent message arrives through Redis again
        deadline = time.monotonic() + 30  # reconnect backoff (at most 3 s) on a loaded machine
        while any(httpx.get(f"{n.http}/healthz", timeout=5).json()["relay"] != "ok" for n in (a, b)):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        httpx.post(f"{b.http}/api/conversations/{s.conversation_id}/messages", headers=h,
                   json={"text": "and after it"}, timeout=10).raise_for_status()
        assert s.message_from("agent", timeout=5)["text"] == "and after it"
        assert "relay unreachable" in a.log_tail(50_000)  # logged as a warning, not an error for anyone
    finally:
        s.close()
        if cluster.redis.proc is None:
            cluster.redis.start()
