"""What the translation domain stores: which knowledge-base locales a machine filled in (see editor.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base
from bot.db.types import UTCDateTime, utcnow


class MachineTranslation(Base):
    """One locale of one entry that was filled by machine translation."""

    __tablename__ = "kb_machine_translations"
    __table_args__ = (UniqueConstraint("entry_id", "locale", name="uq_kb_machine_translations_entry_locale"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(String(80), nullable=False, index=True)
    locale: Mapped[str] = mapped_column(String(16), nullable=False)
    source_locale: Mapped[str] = mapped_column(String(16), nullable=False)
    #: SHA-256 of the source answer the translation was made from (stale once it differs).
    source_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    #: SHA-256 of the machine-translated answer (an editor who rewrote it reviewed it).
    text_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    engine: Mapped[str] = mapped_column(String(40), nullable=False)
    created_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
