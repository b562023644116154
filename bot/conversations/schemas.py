"""Request and response bodies of the conversations API (agents' side)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class TextBody(BaseModel):
    text: str = Field(min_length=1, max_length=20_000)
    client_id: str | None = Field(None, max_length=64, description="Idempotency key: a resend is stored once.")


class ReplyBody(TextBody):
    translate: bool = Field(
        False, description="Write in your reading language; the shopper gets the machine translation."
    )


class TranslationOut(BaseModel):
    """A machine translation of a message for the reader."""

    lang: str
    text: str
    engine: str


class MessageOut(BaseModel):
    """A message with the bot's decision (agents only)."""

    id: str
    seq: int
    role: str
    text: str
    lang: str | None
    created_at: str | None
    client_id: str | None
    action: str | None
    faq_id: str | None
    suggestions: list[dict[str, Any]]
    code: str | None
    agent_name: str | None
    intent: str | None
    confidence: float | None
    reason: str | None
    reply_to: str | None
    author_id: int | None
    translated: bool = False
    original_text: str | None = None
    original_lang: str | None = None
    translation_engine: str | None = None
    translation: TranslationOut | None = Field(
        None, description="Shopper messages in a language other than your reading language, machine-translated."
    )
    translation_note: str | None = Field(None, description="Why a translation is missing (translator failed).")


class PreviewOut(BaseModel):
    """A draft reply's machine translation and back-translation (``note`` says why one is missing)."""

    source_lang: str
    target_lang: str
    translation: TranslationOut | None
    back_translation: TranslationOut | None
    note: str | None


class NoteOut(BaseModel):
    id: int
    text: str
    author_id: int | None
    author_name: str
    created_at: str | None


class HandoffOut(BaseModel):
    reason: str
    topic: str | None
    lang: str
    availability: str
    requested_at: str | None
    claimed_at: str | None
    agent_id: int | None
    ended_at: str | None
    outcome: str | None


class ConversationSummary(BaseModel):
    id: str
    state: str
    lang: str
    reading_lang: str | None = Field(None, description="Your reading language when this chat is translated for you.")
    locale_hint: str | None
    store_key: str
    agent_id: int | None
    agent_name: str | None
    contact_email: str | None
    rating: int | None
    created_at: str | None
    updated_at: str | None
    last_seq: int


class ConversationDetail(ConversationSummary):
    messages: list[MessageOut]
    notes: list[NoteOut]
    handoffs: list[HandoffOut]


class StateOut(BaseModel):
    id: str
    state: str
