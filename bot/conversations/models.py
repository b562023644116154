"""Conversations, their messages and the agents' internal notes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base
from bot.db.types import UTCDateTime, new_id, utcnow

#: bot: the bot answers; queued: waiting for an agent; agent: an agent holds it; closed: resolved.
STATES: tuple[str, ...] = ("bot", "queued", "agent", "closed")
ROLES: tuple[str, ...] = ("shopper", "bot", "agent", "system")


class Conversation(Base):
    """One shopper's chat with the store."""

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    store_key: Mapped[str] = mapped_column(String(64), nullable=False)
    #: HMAC-SHA256 (server secret) of the shopper's conversation token.
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="bot", index=True)
    lang: Mapped[str] = mapped_column(String(8), nullable=False, default="en")
    locale_hint: Mapped[str | None] = mapped_column(String(35), nullable=True)
    #: The highest message seq handed out; bumped atomically for each new message.
    last_seq: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    #: The bot's context (unresolved streak) only counts bot turns after this seq (reset on hand-back).
    bot_context_seq: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    contact_email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class Message(Base):
    """One message as shown in the chat; bot messages also keep the decision behind them."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),
        UniqueConstraint("conversation_id", "client_id", name="uq_messages_conversation_client_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False
    )
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    role: Mapped[str] = mapped_column(String(8), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    lang: Mapped[str | None] = mapped_column(String(8), nullable=True)
    #: The sender's idempotency key (shopper and agent messages); a resend with it is stored once.
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: For a bot message: the shopper message it answers (one bot reply per shopper message).
    reply_to: Mapped[str | None] = mapped_column(String(32), nullable=True, unique=True)
    action: Mapped[str | None] = mapped_column(String(8), nullable=True)
    intent: Mapped[str | None] = mapped_column(String(32), nullable=True)
    faq_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    suggestions: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    #: For a system message: which ui.yaml string it is (agent_joined, no_agent_online, email_saved...).
    code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    author_name: Mapped[str | None] = mapped_column(String(120), nullable=True)
    #: An agent message sent in translation: ``text``/``lang`` are what the shopper read, these what the agent wrote.
    original_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    original_lang: Mapped[str | None] = mapped_column(String(8), nullable=True)
    translation_engine: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class Note(Base):
    """An agent's internal note on a conversation; never sent to the shopper."""

    __tablename__ = "notes"
    __table_args__ = (Index("ix_notes_conversation_id", "conversation_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    author_name: Mapped[str] = mapped_column(String(120), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
