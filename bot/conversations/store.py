"""Low-level writes shared by the chat and handoff services (inside the caller's transaction)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.conversations.errors import Conflict, NotFound
from bot.conversations.models import Conversation, Message
from bot.db.types import new_id, utcnow
from bot.events import MessageStored, emit

if TYPE_CHECKING:
    from bot.auth.service import Principal


ACTORS = {"shopper": "shopper", "bot": "bot", "agent": "person", "system": "system"}


def get_conversation(session: Session, conversation_id: str) -> Conversation:
    """Load a conversation (no lock); :class:`NotFound` when there is none."""
    conv = session.get(Conversation, conversation_id)
    if conv is None:
        raise NotFound("not_found", "no such conversation")
    return conv


def lock_conversation(session: Session, conversation_id: str) -> Conversation:
    """Load a conversation with a row lock (PostgreSQL; SQLite transactions are already exclusive)."""
    conv = session.get(Conversation, conversation_id, with_for_update=True, populate_existing=True)
    if conv is None:
        raise NotFound("not_found", "no such conversation")
    return conv


def lock_held(session: Session, conversation_id: str, user: Principal) -> Conversation:
    """Lock a conversation that ``user`` holds (an admin may act on any held one); :class:`Conflict` otherwise."""
    conv = lock_conversation(session, conversation_id)
    if conv.state != "agent":
        raise Conflict("not_held", f"the conversation is {conv.state}; claim it first")
    if conv.agent_id != user.id and user.role != "admin":
        raise Conflict("taken", "another agent holds this conversation")
    return conv


def append_message(session: Session, conv: Conversation, role: str, text: str, **fields: Any) -> Message:
    """Give the message the conversation's next seq and add it. ``conv`` must be locked by the caller."""
    now = utcnow()
    conv.last_seq = (conv.last_seq or 0) + 1
    conv.updated_at = now
    fields.setdefault("lang", conv.lang)
    msg = Message(id=new_id(), conversation_id=conv.id, seq=conv.last_seq, role=role, text=text, created_at=now,
                  **fields)
    session.add(msg)
    emit(session, MessageStored(conversation_id=conv.id, at=now, lang=msg.lang or conv.lang, store_key=conv.store_key,
                                agent_id=fields.get("author_id"), actor=ACTORS.get(role, "system"),
                                message_id=msg.id, role=role, text=text))
    return msg


def find_by_client_id(session: Session, conversation_id: str, client_id: str) -> Message | None:
    """The message stored earlier with this client id (idempotent resend)."""
    return session.scalar(
        select(Message).where(Message.conversation_id == conversation_id, Message.client_id == client_id)
    )
