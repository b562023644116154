"""Report tables: every domain event as a row (append-only), and one summary row per conversation.

Times are stored as seconds since the epoch (UTC, float): reports scan 100k rows and integer-like columns need
no per-row datetime parsing. Neither table holds message text, so reports survive erasure and retention.
"""

from __future__ import annotations

from sqlalchemy import Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base


class ReportEvent(Base):
    """One domain event of a conversation; rows are only ever inserted."""

    __tablename__ = "report_events"
    __table_args__ = (Index("ix_report_events_at", "at"), Index("ix_report_events_conversation_id", "conversation_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(String(64), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    at: Mapped[float] = mapped_column(Float, nullable=False)
    lang: Mapped[str] = mapped_column(String(8), nullable=False)
    store_key: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    agent_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: bot, person, shopper or system.
    actor: Mapped[str] = mapped_column(String(8), nullable=False)
    #: Decision action (answer, clarify, handoff) for bot_decided.
    action: Mapped[str | None] = mapped_column(String(8), nullable=True)
    #: Decision or handoff reason.
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    intent: Mapped[str | None] = mapped_column(String(32), nullable=True)
    topic: Mapped[str | None] = mapped_column(String(80), nullable=True)
    faq_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)


COVER = ("started_at", "lang", "handoffs", "bot_decisions", "rating", "reopened_at", "resolved_at", "handoff_reason",
         "handoff_at", "first_reply_at")


class ReportConversation(Base):
    """What reports need of one conversation, kept up to date from its events (a projection of report_events)."""

    __tablename__ = "report_conversations"
    #: Covering index: every report query reads only the index (no row lookups), range-filtered on started_at.
    __table_args__ = (Index("ix_report_conversations_started_at", *COVER),)

    conversation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    store_key: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    #: The shopper's language: the latest one an event carried.
    lang: Mapped[str] = mapped_column(String(8), nullable=False)
    started_at: Mapped[float] = mapped_column(Float, nullable=False)
    bot_decisions: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    first_intent: Mapped[str | None] = mapped_column(String(32), nullable=True)
    first_topic: Mapped[str | None] = mapped_column(String(80), nullable=True)
    handoffs: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    handoff_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    handoff_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    agent_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    first_reply_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    resolved_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    reopened_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)
