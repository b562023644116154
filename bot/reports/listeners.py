"""Feeds the report tables from the chat's domain events (registered at app start by ``bot.app``).

Each event becomes one ``report_events`` row (append-only) and updates its conversation's summary row, in one
transaction after the chat's own commit. ``MessageStored`` is not kept: reports count decisions, not messages.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.db.session import Database
from bot.events import (
    AgentReplied,
    BotDecided,
    Claimed,
    ConversationStarted,
    DomainEvent,
    Event,
    EventBus,
    HandedOff,
    MessageStored,
    Rated,
    Reopened,
    Resolved,
)
from bot.reports.models import ReportConversation, ReportEvent


def event_row(event: DomainEvent) -> ReportEvent:
    """The append-only row of one event."""
    return ReportEvent(
        conversation_id=event.conversation_id, kind=event.name, at=event.at.timestamp(), lang=event.lang[:8],
        store_key=event.store_key[:64], agent_id=event.agent_id, actor=event.actor,
        action=getattr(event, "action", None), reason=(getattr(event, "reason", None) or None),
        intent=getattr(event, "intent", None), topic=getattr(event, "topic", None),
        faq_id=getattr(event, "faq_id", None), score=getattr(event, "score", None),
    )


def apply(session: Session, event: DomainEvent) -> None:
    """Store ``event`` and fold it into its conversation's summary row."""
    session.add(event_row(event))
    at = event.at.timestamp()
    summary = session.get(ReportConversation, event.conversation_id, with_for_update=True)
    if summary is None:  # conversation_started, or a conversation older than the report tables
        summary = ReportConversation(conversation_id=event.conversation_id, store_key=event.store_key[:64],
                                     lang=event.lang[:8], started_at=at, bot_decisions=0, handoffs=0)
        session.add(summary)
    if isinstance(event, ConversationStarted):
        summary.started_at = min(summary.started_at, at)
        return
    summary.lang = event.lang[:8]
    if isinstance(event, BotDecided):
        summary.bot_decisions = (summary.bot_decisions or 0) + 1
        if summary.first_intent is None and event.intent:
            summary.first_intent = event.intent[:32]
        if summary.first_topic is None and (event.topic or event.faq_id):
            summary.first_topic = (event.topic or event.faq_id or "")[:80]
    elif isinstance(event, HandedOff):
        summary.handoffs = (summary.handoffs or 0) + 1
        if summary.handoff_at is None:
            summary.handoff_at, summary.handoff_reason = at, event.reason[:200]
        if summary.first_topic is None and event.topic:
            summary.first_topic = event.topic[:80]
    elif isinstance(event, Claimed):
        summary.agent_id = event.agent_id
    elif isinstance(event, AgentReplied):
        if summary.first_reply_at is None and summary.handoff_at is not None:
            summary.first_reply_at = at
        summary.agent_id = summary.agent_id or event.agent_id
    elif isinstance(event, Resolved):
        if summary.resolved_at is None:
            summary.resolved_at = at
    elif isinstance(event, Reopened):
        if summary.reopened_at is None:
            summary.reopened_at = at
    elif isinstance(event, Rated):
        summary.rating = event.score


def register(bus: EventBus, db: Database) -> None:
    """Subscribe the report tables to every conversation event but ``MessageStored``: the events of one chat
    commit are stored in one transaction (one fsync, not one per event)."""

    def on_events(events: list[Event]) -> None:
        kept = [e for e in events if isinstance(e, DomainEvent) and not isinstance(e, MessageStored)]
        if kept:
            with db.session() as session:
                for event in kept:
                    apply(session, event)

    bus.subscribe_batch(on_events, "reports.on_events")
