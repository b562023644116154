"""Reading what a socket may have missed while the cross-process relay was down (see bot.realtime.redis).

Relay hints can be lost (Redis unreachable) or arrive out of order (two processes publish); sockets track the
``seq`` numbers they were sent (:class:`SeqTracker`) and read the rest from the database.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.conversations.events import agent_message
from bot.conversations.models import Conversation, Message
from bot.db.session import Database

HISTORY_LIMIT = 500  # as the welcome's history


class SeqTracker:
    """Which of a conversation's gap-free ``seq`` numbers a socket has been sent (relay hints can arrive out of
    order from two processes; catch-up reads everything above :attr:`contiguous` and skips what was sent)."""

    def __init__(self, contiguous: int = 0) -> None:
        self.contiguous = contiguous
        self._ahead: set[int] = set()

    def sent(self, seq: int) -> bool:
        return seq <= self.contiguous or seq in self._ahead

    def add(self, seq: object) -> bool:
        """Record ``seq``; False when it was already recorded (a duplicate to drop)."""
        if not isinstance(seq, int) or isinstance(seq, bool):
            return True
        if self.sent(seq):
            return False
        self._ahead.add(seq)
        while self.contiguous + 1 in self._ahead:
            self.contiguous += 1
            self._ahead.discard(self.contiguous)
        return True


def held_seqs(db: Database, agent_id: int) -> dict[str, int]:
    """The conversations ``agent_id`` holds and their last ``seq``."""
    with db.read() as session:
        return dict(session.execute(select(Conversation.id, Conversation.last_seq).where(
            Conversation.agent_id == agent_id, Conversation.state == "agent")).all())


def held_messages(db: Database, agent_id: int, known: dict[str, int]) -> list[tuple[str, dict[str, Any]]]:
    """``(conversation id, agent message)`` of the conversations ``agent_id`` holds, after the ``seq`` in
    ``known`` (0 for conversations not in it). Agent sockets catch up with it."""
    out: list[tuple[str, dict[str, Any]]] = []
    with db.read() as session:
        held = session.execute(select(Conversation.id, Conversation.last_seq).where(
            Conversation.agent_id == agent_id, Conversation.state == "agent")).all()
        for cid, last_seq in held:
            after = known.get(cid, 0)
            if last_seq <= after:
                continue
            rows = session.scalars(select(Message).where(Message.conversation_id == cid, Message.seq > after)
                                   .order_by(Message.seq).limit(HISTORY_LIMIT)).all()
            out.extend((cid, agent_message(m)) for m in rows)
    return out
