"""Tombstones of erased conversations: the conversation row stays (reports keep counting it), its content goes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base
from bot.db.types import UTCDateTime, utcnow


class Erasure(Base):
    """A conversation whose messages, notes, email and missed questions were erased (data-subject request)."""

    __tablename__ = "privacy_erasures"

    conversation_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    #: The username of the admin who asked for it.
    erased_by: Mapped[str] = mapped_column(String(64), nullable=False)
