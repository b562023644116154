"""Socket-frame fuzzing (issue 8, item 14): random frames on the shopper and agent sockets of a real server.

Valid types with random fields, junk text, non-object JSON, binary frames, frames above the size limit and lone
surrogates. Whatever arrives, the server never answers ``internal`` (a server error) and never closes a socket
except with a documented close code. Inputs are derandomized so CI is reproducible; set
``BORDERLESS_FUZZ_RANDOM=1`` to explore new ones. Bounded to well under 60 s.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from chat_support import PASSWORD, LiveServer, Shopper, add_user, agent_connect, login, make_app
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed

from bot.conversations.ws_frames import CLOSE_CODES

EXAMPLES = int(os.environ.get("BORDERLESS_FUZZ_EXAMPLES", "120"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                derandomize=not os.environ.get("BORDERLESS_FUZZ_RANDOM"),
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
           | st.text(max_size=40))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
surrogates = st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3)
weird_text = (st.text(max_size=300) | st.tuples(st.text(max_size=20), surrogates).map("".join)
              | st.text(max_size=3000).map(lambda s: s * 2))
client_ids = st.text("abcXYZ019_.:-", min_size=1, max_size=70)
#: Frames that pass the type checks, so the odd values reach the services (and the database).
NEAR_VALID = {
    "message": {"client_id": st.text("abcXYZ019_-", min_size=1, max_size=64), "text": weird_text},
    "email": {"email": st.emails() | weird_text},
    "rating": {"score": st.integers(-3, 9)},
    "typing": {},
    "hello": {"store_key": st.sampled_from(["demo", "nope"]), "locale": st.text(max_size=35)},
    "auth": {"token": weird_text},
    "queue": {},
    "ping": {},
}

SHOPPER_FIELDS = {
    "client_id": client_ids | json_values,
    "text": weird_text | json_values,
    "faq_id": st.text(max_size=90) | json_values,
    "email": st.emails() | weird_text | json_values,
    "score": st.integers(-3, 9) | json_values,
    "store_key": st.sampled_from(["demo", "nope"]) | json_values,
    "conversation_id": st.text(max_size=80) | json_values,
    "token": weird_text | json_values,
    "locale": st.text(max_size=40) | json_values,
    "last_seq": st.integers(-5, 2**40) | json_values,
}
AGENT_FIELDS = {
    "conversation_id": st.text(max_size=80) | json_values,
    "token": weird_text | json_values,
}


def frames(types: list[str], fields: dict[str, Any]) -> st.SearchStrategy[str | bytes]:
    typed = st.fixed_dictionaries(
        {"type": st.sampled_from(types) | st.text(max_size=12) | json_values},
        optional={**fields, "extra": json_values},
    ).map(json.dumps)  # ensure_ascii: lone surrogates travel as "\ud800" escapes, valid JSON
    near_valid = st.sampled_from(types).flatmap(
        lambda t: st.fixed_dictionaries({"type": st.just(t), **NEAR_VALID.get(t, {})})).map(json.dumps)
    return st.one_of(
        typed, typed, near_valid, near_valid,
        st.text(max_size=200),
        json_values.map(json.dumps),
        st.binary(max_size=200),
        st.integers(17_000, 60_000).map(lambda n: '{"type":"message","text":"' + "x" * n + '"}'),
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    app = make_app(tmp_path_factory.mktemp("fuzz"), sqlite_synchronous="NORMAL", shopper_rate_per_minute=10_000,
                   address_rate_per_minute=10_000, email_rate_per_minute=10_000,
                   address_conversations_per_minute=10_000, address_max_sockets=1000)
    add_user(app, "ana", "agent", "es,en")
    with LiveServer(app) as live:
        yield live


def exchange(conn: Any, raw: str | bytes) -> list[dict[str, Any]]:
    """Send ``raw`` then a ping; every frame up to the pong."""
    conn.send(raw)
    conn.send('{"type":"ping"}')
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while True:
        frame = json.loads(conn.recv(timeout=max(0.01, deadline - time.monotonic())))
        if frame == {"type": "pong"}:
            return got
        got.append(frame)


def check(frames_seen: list[dict[str, Any]], raw: str | bytes) -> None:
    for frame in frames_seen:
        assert not (frame.get("type") == "error" and frame.get("code") == "internal"), (raw[:200], frame)


class Reconnecting:
    """A socket that is reopened after a documented close (any other close fails the test)."""

    def __init__(self, opener: Any) -> None:
        self.opener = opener
        self.cm: Any = None
        self.conn: Any = None
        self.reopen()

    def reopen(self) -> None:
        self.close()
        self.cm, self.conn = self.opener()

    def exchange(self, raw: str | bytes) -> list[dict[str, Any]]:
        try:
            return exchange(self.conn, raw)
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else None
            assert code in CLOSE_CODES, (raw[:200], code)
            self.reopen()
            return []

    def close(self) -> None:
        if self.cm is not None:
            self.cm.__exit__(None, None, None)
            self.cm = None


def fuzz(sock: Reconnecting, strategy: Any) -> None:
    """Send every frame ``strategy`` draws through ``sock``: none may get an ``internal`` error."""

    @FUZZ
    @given(raw=strategy)
    def run(raw: str | bytes) -> None:
        check(sock.exchange(raw), raw)

    try:
        run()
    finally:
        sock.close()


def test_shopper_socket_survives_random_frames(server: LiveServer) -> None:
    def opener() -> tuple[Any, Any]:
        s = Shopper(server.ws)
        assert s.welcome["type"] == "welcome"
        return s._cm, s.conn

    fuzz(Reconnecting(opener), frames(["message", "typing", "email", "rating", "ping", "hello"], SHOPPER_FIELDS))


def test_agent_socket_survives_random_frames(server: LiveServer) -> None:
    token = login(server.http, "ana", PASSWORD)

    def opener() -> tuple[Any, Any]:
        cm = agent_connect(server.ws, token)
        conn = cm.__enter__()
        assert json.loads(conn.recv(timeout=10))["type"] == "welcome"
        return cm, conn

    fuzz(Reconnecting(opener), frames(["auth", "typing", "queue", "ping"], AGENT_FIELDS))


def test_frames_before_hello_and_auth_never_fail(server: LiveServer) -> None:
    """The handshake frames themselves, fuzzed on fresh sockets."""
    from websockets.sync.client import connect

    @settings(FUZZ, max_examples=max(10, EXAMPLES // 4))
    @given(raw=frames(["hello", "auth", "ping"], {**SHOPPER_FIELDS, **AGENT_FIELDS}), path=st.sampled_from(
        ["/ws/shopper", "/ws/agent"]))
    def run(raw: str | bytes, path: str) -> None:
        with connect(f"{server.ws}{path}", open_timeout=10) as ws:
            try:
                check(exchange(ws, raw), raw)
            except ConnectionClosed as exc:  # a failed hello/auth closes with 4401, a rate limit with 4429
                assert exc.rcvd is not None and exc.rcvd.code in CLOSE_CODES, (raw[:200], exc.rcvd)

    run()
