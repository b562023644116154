"""Prometheus metrics of one server process: ``GET /metrics`` (admin token) or a separate private address.

Counted as things happen (cheap): bot reply latency and replies by action, handoffs by reason. Read when
scraped (never on the hot path): queue length, connected sockets, bot turns in flight, the relay's state, the
engine's status and knowledge-base revision. Each app has its own registry, so several apps in one process
(tests) do not clash; with several processes, scrape each one (they are summed by Prometheus).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

log = logging.getLogger(__name__)

#: Reply latency buckets (seconds): a paced reply takes tens of milliseconds, a saturated one seconds.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

__all__ = ["CONTENT_TYPE_LATEST", "ChatMetrics", "LATENCY_BUCKETS"]


class _StateCollector(Collector):
    """Gauges computed when scraped, from the runtime and the database."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[GaugeMetricFamily]:
        runtime = self.runtime
        sockets = GaugeMetricFamily("borderless_connected_sockets", "Open websockets on this process.",
                                    labels=["kind"])
        counts = {"shopper": 0, "agent": 0}
        for sock in list(runtime.sockets):
            kind = "agent" if type(sock).__name__ == "AgentSocket" else "shopper"
            counts[kind] += 1
        for kind, n in counts.items():
            sockets.add_metric([kind], n)
        yield sockets
        yield GaugeMetricFamily("borderless_bot_turns_in_flight", "Bot turns waiting for or inside the engine "
                                "(engine load).", value=runtime.turns_in_flight)
        yield GaugeMetricFamily("borderless_relay_degraded", "1 while the cross-process relay is down and "
                                "sockets poll the database.", value=1 if runtime.bus_degraded else 0)
        status = GaugeMetricFamily("borderless_engine_status", "1 for the answer engine's current status.",
                                   labels=["status"])
        for name in ("ready", "loading", "idle", "failed"):
            status.add_metric([name], 1 if runtime.engine_provider.status == name else 0)
        yield status
        queue, revision = self._from_database()
        if queue is not None:
            yield GaugeMetricFamily("borderless_queue_length", "Conversations waiting for an agent.", value=queue)
        if revision is not None:
            yield GaugeMetricFamily("borderless_kb_revision", "Published knowledge-base revision in the database.",
                                    value=revision)
        applied = self._applied_revision()
        if applied is not None:
            yield GaugeMetricFamily("borderless_engine_kb_revision", "Knowledge-base revision this process's "
                                    "engine answers from.", value=applied)

    def _from_database(self) -> tuple[int | None, int | None]:
        from bot.conversations.models import Conversation

        try:
            with self.runtime.db.read() as session:
                queue = session.scalar(select(func.count()).select_from(Conversation)
                                       .where(Conversation.state == "queued"))
                try:
                    from bot.editor.service import current_revision

                    revision: int | None = current_revision(session)
                except Exception:  # no knowledge tables (an old schema): leave the gauge out
                    revision = None
            return int(queue or 0), revision
        except Exception as exc:
            log.warning("metrics: database unavailable: %s", exc)
            return None, None

    def _applied_revision(self) -> int | None:
        engine = getattr(self.runtime.engine_provider, "_engine", None)
        if engine is None:
            return None
        from bot.editor.live import applied_revision

        return applied_revision(engine, self.runtime.db)


class ChatMetrics:
    """The metrics of one app (``app.state.metrics``)."""

    def __init__(self, runtime: Any) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.reply_seconds = Histogram(
            "borderless_reply_seconds", "Shopper message stored -> bot reply stored and relayed.",
            ["action"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.replies = Counter("borderless_replies", "Bot replies by action.", ["action"], registry=self.registry)
        self.handoffs = Counter("borderless_handoffs", "Bot handoffs to a person by reason.", ["reason"],
                                registry=self.registry)
        self.registry.register(_StateCollector(runtime))

    def bot_reply(self, action: str, seconds: float, reason: str | None) -> None:
        self.replies.labels(action).inc()
        self.reply_seconds.labels(action).observe(seconds)
        if action == "handoff":
            self.handoffs.labels(reason or "unknown").inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def serve_on(self, address: str) -> None:
        """Serve ``/metrics`` unauthenticated on ``host:port`` (a private interface) in a daemon thread."""
        from prometheus_client import start_http_server

        host, _, port = address.rpartition(":")
        start_http_server(int(port), addr=host.strip("[]") or "127.0.0.1", registry=self.registry)
        log.info("metrics on http://%s/metrics", address)
