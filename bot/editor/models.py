"""The knowledge base as the editor stores it: entries (working copy + published copy), their versions,
a revision counter the running engines follow, and the shoppers' missed questions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base
from bot.db.types import UTCDateTime, new_id, utcnow

#: draft: never published (or unpublished); published: shoppers see the working copy; changed: shoppers see
#: an older published copy while the working copy has unpublished edits.
ENTRY_STATUSES: tuple[str, ...] = ("draft", "published", "changed")
MISSED_REASONS: tuple[str, ...] = ("clarify", "low_confidence", "bad_rating")
MISSED_STATUSES: tuple[str, ...] = ("open", "resolved", "dismissed")


class KbEntry(Base):
    """One FAQ entry. ``content`` is the editor's working copy; ``published`` what shoppers get (None: nothing).

    ``version`` grows with every change and is the optimistic lock (``If-Match``). A deleted entry keeps its
    row (``deleted``), so its history stays and it can be restored.
    """

    __tablename__ = "kb_entries"
    __table_args__ = (Index("ix_kb_entries_published_revision", "published_revision"),)

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    topic: Mapped[str] = mapped_column(String(80), nullable=False, default="general")
    #: {"locales": {locale: {"answer": str, "questions": [str]}}}; a draft may be incomplete.
    content: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    #: {"topic": str, "locales": {...}} as last published, or None.
    published: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="draft", index=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    #: The ``kb_state.revision`` at which ``published`` (or ``deleted``) last changed; engines follow it.
    published_revision: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    deleted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    #: Lowercased, accent-folded id, topic, answers and questions, for search.
    search_text: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    published_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class KbEntryVersion(Base):
    """One change of one entry: who, when, what (``changes``), and the entry as it was afterwards."""

    __tablename__ = "kb_entry_versions"
    __table_args__ = (UniqueConstraint("entry_id", "version", name="uq_kb_entry_versions_entry_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(String(80), nullable=False, index=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    #: created, edited, published, unpublished, deleted, restored, imported, seeded, variants_added.
    action: Mapped[str] = mapped_column(String(24), nullable=False)
    changes: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    #: {"topic", "locales", "status", "deleted"} after the change.
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class KbState(Base):
    """A single row (id 1): the knowledge base's revision counter and first-start seeding marker."""

    __tablename__ = "kb_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: Bumped in the transaction of every change of what shoppers see.
    revision: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    default_locale: Mapped[str] = mapped_column(String(16), nullable=False, default="en")
    seeded_from: Mapped[str | None] = mapped_column(Text, nullable=True)
    seeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class MissedQuestion(Base):
    """A shopper question the bot did not answer well: it asked to clarify, handed off for low confidence,
    or answered and the shopper rated the conversation badly."""

    __tablename__ = "missed_questions"
    __table_args__ = (
        UniqueConstraint("message_id", "reason", name="uq_missed_questions_message_reason"),
        Index("ix_missed_questions_status_created", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    conversation_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    #: The shopper's message (None for questions added by hand).
    message_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    lang: Mapped[str] = mapped_column(String(8), nullable=False)
    reason: Mapped[str] = mapped_column(String(16), nullable=False)
    #: The entry the bot answered with or suggested first, if any.
    faq_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    status: Mapped[str] = mapped_column(String(12), nullable=False, default="open")
    resolved_entry_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
