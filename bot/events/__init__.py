"""Domain events: what happened in a conversation, published after the transaction that stored it committed.

Neutral ground every domain may import (it imports no other ``bot`` package): services emit events into their
session (:func:`emit`), the :class:`~bot.db.session.Database` dispatches them once the commit succeeded, and
domains that care (missed questions, reports, later translation) subscribe at app start.
"""

from bot.events.bus import EventBus, Listener, emit, take_pending
from bot.events.types import (
    AgentReplied,
    Audited,
    BotDecided,
    Claimed,
    ConversationStarted,
    DomainEvent,
    EmailLeft,
    Event,
    HandedBack,
    HandedOff,
    MessageStored,
    Rated,
    Released,
    Reopened,
    Resolved,
)

__all__ = [
    "AgentReplied", "Audited", "BotDecided", "Claimed", "ConversationStarted", "DomainEvent", "EmailLeft",
    "Event", "EventBus", "HandedBack", "HandedOff", "Listener", "MessageStored", "Rated", "Released", "Reopened",
    "Resolved", "emit", "take_pending",
]
