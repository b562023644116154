"""The domain events of a conversation's life, as frozen dataclasses.

Every event says which conversation, when (the time the transaction stored it), the shopper's language, the
store, the agent involved (if any) and who acted: ``bot``, ``person`` (an agent or admin) or ``shopper``.
Events carry identifiers and decisions, not message text, except :class:`MessageStored` (already redacted),
so a listener that keeps events (reports) keeps no content.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Actor = Literal["bot", "person", "shopper", "system"]


@dataclass(frozen=True, kw_only=True)
class Event:
    """Anything published on the bus: it happened at ``at``."""

    at: datetime

    @property
    def name(self) -> str:
        """The event's snake_case name (``bot_decided``), as stored by reports."""
        return EVENT_NAMES[type(self)]


@dataclass(frozen=True, kw_only=True)
class DomainEvent(Event):
    """What every conversation event carries."""

    conversation_id: str
    lang: str
    store_key: str = ""
    agent_id: int | None = None
    actor: Actor = "system"


@dataclass(frozen=True, kw_only=True)
class ConversationStarted(DomainEvent):
    actor: Actor = "shopper"


@dataclass(frozen=True, kw_only=True)
class MessageStored(DomainEvent):
    """Any message stored in the chat (shopper, bot, agent or system); ``text`` is the stored, redacted text."""

    message_id: str
    role: str
    text: str


@dataclass(frozen=True, kw_only=True)
class BotDecided(DomainEvent):
    """The bot's stored reply to one shopper message (answer, clarify or handoff)."""

    message_id: str
    reply_to: str
    action: str
    reason: str
    intent: str | None = None
    faq_id: str | None = None
    confidence: float = 0.0
    topic: str | None = None
    suggested_faq_ids: tuple[str, ...] = ()
    actor: Actor = "bot"


@dataclass(frozen=True, kw_only=True)
class HandedOff(DomainEvent):
    """The conversation entered the human queue; ``availability``: online, no_agent or outside_hours."""

    reason: str
    topic: str | None = None
    availability: str = "online"
    actor: Actor = "bot"


@dataclass(frozen=True, kw_only=True)
class Claimed(DomainEvent):
    actor: Actor = "person"


@dataclass(frozen=True, kw_only=True)
class Released(DomainEvent):
    """The agent put the conversation back in the queue."""

    actor: Actor = "person"


@dataclass(frozen=True, kw_only=True)
class HandedBack(DomainEvent):
    """The agent gave the conversation back to the bot."""

    actor: Actor = "person"


@dataclass(frozen=True, kw_only=True)
class AgentReplied(DomainEvent):
    message_id: str
    actor: Actor = "person"


@dataclass(frozen=True, kw_only=True)
class Resolved(DomainEvent):
    actor: Actor = "person"


@dataclass(frozen=True, kw_only=True)
class Reopened(DomainEvent):
    """A shopper wrote again in a closed conversation (it went back to the bot)."""

    actor: Actor = "shopper"


@dataclass(frozen=True, kw_only=True)
class Rated(DomainEvent):
    score: int
    actor: Actor = "shopper"


@dataclass(frozen=True, kw_only=True)
class EmailLeft(DomainEvent):
    actor: Actor = "shopper"


@dataclass(frozen=True, kw_only=True)
class Audited(Event):
    """Something the audit log keeps (a login, a user change, a knowledge-base publish or import): who did
    ``action`` to ``subject``. Domains that cannot import ``bot.audit`` (it builds on auth) emit this."""

    username: str
    user_id: int | None = None
    action: str
    subject: str | None = None
    detail: dict[str, Any] | None = None


EVENT_NAMES: dict[type[Event], str] = {
    ConversationStarted: "conversation_started",
    MessageStored: "message_stored",
    BotDecided: "bot_decided",
    HandedOff: "handed_off",
    Claimed: "claimed",
    Released: "released",
    HandedBack: "handed_back",
    AgentReplied: "agent_replied",
    Resolved: "resolved",
    Reopened: "reopened",
    Rated: "rated",
    EmailLeft: "email_left",
    Audited: "audited",
}
