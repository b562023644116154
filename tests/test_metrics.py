"""/metrics (issue 9): protected by an admin token, or served on a separate address; counts what happened."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from chat_support import PASSWORD, LiveServer, Shopper, add_user, auth, free_port, login, make_app
from prometheus_client.parser import text_string_to_metric_families


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    app = make_app(tmp_path)
    add_user(app, "boss", "admin")
    add_user(app, "ana", "agent", "en")
    with LiveServer(app) as live:
        yield live


def samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def test_metrics_need_an_admin_and_count_replies_handoffs_sockets_and_queue(server: LiveServer) -> None:
    assert httpx.get(f"{server.http}/metrics", timeout=10).status_code == 401
    agent = auth(login(server.http, "ana", PASSWORD))
    assert httpx.get(f"{server.http}/metrics", headers=agent, timeout=10).status_code == 403
    admin = auth(login(server.http, "boss", PASSWORD))

    s = Shopper(server.ws)
    try:
        s.ack(s.say("how long does shipping take?"))
        s.message_from("bot")
        s.ack(s.say("I want a human"))
        s.wait_for(lambda f: f["type"] == "state" and f["state"] == "queued")
        r = httpx.get(f"{server.http}/metrics", headers=admin, timeout=10)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        got = samples(r.text)
        assert got[("borderless_replies_total", (("action", "answer"),))] == 1
        assert got[("borderless_replies_total", (("action", "handoff"),))] == 1
        assert got[("borderless_handoffs_total", (("reason", "human_request"),))] == 1
        assert got[("borderless_reply_seconds_count", (("action", "answer"),))] == 1
        assert got[("borderless_connected_sockets", (("kind", "shopper"),))] == 1
        assert got[("borderless_queue_length", ())] == 1
        assert got[("borderless_engine_status", (("status", "ready"),))] == 1
        assert got[("borderless_relay_degraded", ())] == 0
    finally:
        s.close()


def test_metrics_on_a_separate_address_need_no_token(server: LiveServer) -> None:
    port = free_port()
    server.app.state.metrics.serve_on(f"127.0.0.1:{port}")
    r = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert r.status_code == 200 and "borderless_connected_sockets" in r.text
