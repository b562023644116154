"""One row per handoff: when the bot (or the shopper) asked for a human, who took it, how it ended."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base
from bot.db.types import UTCDateTime, utcnow


class Handoff(Base):
    """A conversation's stay in the queue and with an agent. Open while ``ended_at`` is null."""

    __tablename__ = "handoffs"
    __table_args__ = (Index("ix_handoffs_conversation_id", "conversation_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False
    )
    lang: Mapped[str] = mapped_column(String(8), nullable=False)
    #: The decision reason that triggered it (human_request, low_confidence, ...).
    reason: Mapped[str] = mapped_column(String(200), nullable=False)
    #: The knowledge base topic (or intent) the shopper was asking about.
    topic: Mapped[str | None] = mapped_column(String(80), nullable=True)
    #: online, no_agent or outside_hours when it was queued.
    availability: Mapped[str] = mapped_column(String(16), nullable=False, default="online")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: resolved or handback.
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
