"""Keeps ``Audited`` events (logins, user changes, knowledge-base publishes and imports) in the audit log."""

from __future__ import annotations

from bot.audit.service import record_event
from bot.db.session import Database
from bot.events import Audited, EventBus


def register(bus: EventBus, db: Database) -> None:
    def on_audited(event: Audited) -> None:
        with db.session() as session:
            record_event(session, event)

    bus.subscribe(Audited, on_audited, "audit.on_audited")
