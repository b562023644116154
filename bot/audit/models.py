"""The audit log table: rows are inserted, never updated or deleted through the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base
from bot.db.types import UTCDateTime, utcnow


class AuditEntry(Base):
    """Who (``actor``), when, what (``action``) and which subject."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"), Index("ix_audit_log_action", "action"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    #: The account's username, or ``system`` (scheduled purge) / ``cli``.
    actor: Mapped[str] = mapped_column(String(64), nullable=False)
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: login, login_failed, user_created, user_changed, export, erase, purge, kb_publish, kb_import...
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    #: What it was done to: ``user:ana``, ``conversation:<id>``, ``email#<keyed hash>``, ``entry:<id>``.
    subject: Mapped[str | None] = mapped_column(String(200), nullable=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
