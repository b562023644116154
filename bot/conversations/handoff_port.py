"""The chat's port to the handoff domain: what it needs, as a protocol the app fills in (``HandoffService``)."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.orm import Session

from bot.auth.service import Principal
from bot.conversations.events import Outbox
from bot.conversations.models import Conversation


class HandoffQueue(Protocol):
    """What the chat needs from the handoff domain (``bot.handoff.service.HandoffService``), injected so that
    conversations never import handoff (handoff builds on conversations, not the other way round)."""

    def enqueue(self, session: Session, conv: Conversation, reason: str, topic: str | None,
                outbox: Outbox) -> None: ...

    def queued_reason(self, session: Session, conv: Conversation) -> str | None: ...

    def history(self, session: Session, conversation_id: str) -> list[dict[str, Any]]: ...

    def check_scope(self, conv: Conversation, user: Principal) -> None:
        """Raise ``Forbidden`` unless ``user`` serves the conversation's language or holds it."""
        ...

    def serves(self, user: Principal, lang: str | None, translator: Any = None) -> bool:
        """Whether ``user`` serves conversations in ``lang`` (``translator`` widens that)."""
        ...

    def visible_languages(self, user: Principal) -> list[str] | None:
        """The conversation languages ``user`` may see; None: every language."""
        ...
