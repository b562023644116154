"""What the services hand to the realtime relay, and the JSON shapes of messages.

Services never publish: they return an :class:`Outbox` that the caller publishes after the transaction
committed, so nothing is relayed (or acknowledged) before it is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.conversations.models import Conversation, Message, Note
from bot.db.types import iso

AGENTS_CHANNEL = "agents"


def conversation_channel(conversation_id: str) -> str:
    """The channel of one conversation's shopper sockets."""
    return f"conv:{conversation_id}"


def state_frame(conv: Conversation, agent_name: str | None = None, reason: str | None = None) -> dict[str, Any]:
    """The shopper's ``state`` frame."""
    return {"type": "state", "state": conv.state, "agent_name": agent_name, "reason": reason}


def public_message(m: Message) -> dict[str, Any]:
    """A message as the shopper sees it: no confidence, reason or intent."""
    return {
        "id": m.id,
        "seq": m.seq,
        "role": m.role,
        "text": m.text,
        "lang": m.lang,
        "created_at": iso(m.created_at),
        "client_id": m.client_id if m.role == "shopper" else None,
        "action": m.action,
        "faq_id": m.faq_id,
        "suggestions": list(m.suggestions or []),
        "code": m.code,
        "agent_name": m.author_name if m.role == "agent" else None,
        # Machine-translated from what the agent wrote (the shopper's widget marks it).
        "translated": m.original_text is not None,
    }


def agent_message(m: Message) -> dict[str, Any]:
    """A message as agents see it: the public fields plus the bot's decision."""
    out = public_message(m)
    out.update(
        client_id=m.client_id,
        intent=m.intent,
        confidence=None if m.confidence is None else round(float(m.confidence), 4),
        reason=m.reason,
        reply_to=m.reply_to,
        author_id=m.author_id,
        original_text=m.original_text,
        original_lang=m.original_lang,
        translation_engine=m.translation_engine,
    )
    return out


def note_json(n: Note) -> dict[str, Any]:
    """An internal note (agents only)."""
    return {
        "id": n.id,
        "text": n.text,
        "author_id": n.author_id,
        "author_name": n.author_name,
        "created_at": iso(n.created_at),
    }


@dataclass
class Outbox:
    """Frames to publish once the transaction has committed: ``(channel, envelope)`` pairs.

    Envelope: ``{"frame": <frame>, "origin": <connection id or None>, "agents": [ids] | None}``.
    ``origin`` lets the sending socket skip its own echo; ``agents`` restricts an agents-channel frame to
    the agents listed (None: every agent console).
    """

    items: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def to_shopper(self, conversation_id: str, frame: dict[str, Any], origin: str | None = None) -> None:
        self.items.append((conversation_channel(conversation_id), {"frame": frame, "origin": origin, "agents": None}))

    def to_agents(self, frame: dict[str, Any], agent_ids: list[int] | None = None, origin: str | None = None) -> None:
        self.items.append((AGENTS_CHANNEL, {"frame": frame, "origin": origin, "agents": agent_ids}))

    def queue_changed(self) -> None:
        if not any(ch == AGENTS_CHANNEL and env["frame"].get("type") == "queue_changed" for ch, env in self.items):
            self.to_agents({"type": "queue_changed"})

    def extend(self, other: Outbox) -> None:
        self.items.extend(other.items)
