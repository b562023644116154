"""The handoff queue: entering it, claiming (atomically), releasing, resolving, handing back to the bot.

Every operation runs in one transaction and returns an :class:`~bot.conversations.events.Outbox` of frames
the caller publishes after the commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from bot.auth.models import User
from bot.auth.presence import AgentPresence
from bot.auth.service import Principal
from bot.conversations.errors import Conflict, Forbidden
from bot.conversations.events import Outbox, public_message, state_frame
from bot.conversations.models import Conversation, Message
from bot.conversations.store import append_message, get_conversation, lock_conversation, lock_held
from bot.conversations.texts import ui_text
from bot.db.session import Database
from bot.db.types import iso, utcnow
from bot.events import Claimed, HandedBack, HandedOff, Released, Resolved, emit
from bot.handoff.hours import SupportHours
from bot.handoff.models import Handoff
from bot.handoff.scope import Covers, may_access, queue_languages, reading_language, serves
from bot.settings import Settings

log = logging.getLogger(__name__)

#: Availability of humans when a conversation is queued.
ONLINE, NO_AGENT, OUTSIDE_HOURS = "online", "no_agent", "outside_hours"
AVAILABILITY_CODES = {NO_AGENT: "no_agent_online", OUTSIDE_HOURS: "outside_hours"}


@dataclass
class QueueItem:
    """One conversation waiting for an agent."""

    id: str
    lang: str
    reason: str
    topic: str | None
    waiting_seconds: int
    queued_at: str | None
    availability: str
    has_email: bool
    last_message: str | None
    #: The agent reads and answers this conversation through machine translation.
    translated: bool = False
    #: ``last_message`` in the agent's reading language (translated conversations; None if it failed).
    last_message_translation: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def open_handoff(session: Session, conversation_id: str) -> Handoff | None:
    """The conversation's current (not ended) handoff."""
    return session.scalar(
        select(Handoff)
        .where(Handoff.conversation_id == conversation_id, Handoff.ended_at.is_(None))
        .order_by(Handoff.id.desc())
        .limit(1)
    )


def _notice(session: Session, conv: Conversation, key: str, outbox: Outbox) -> None:
    """Store the system message ``key`` in the conversation's language and relay it to the shopper."""
    msg = append_message(session, conv, "system", ui_text(key, conv.lang), code=key)
    session.flush()
    outbox.to_shopper(conv.id, {"type": "message", "message": public_message(msg)})


def _unheld(conv: Conversation, holders: list[int], outbox: Outbox) -> None:
    """Tell the shopper the conversation's new state, and the agents in ``holders`` that nobody holds it now."""
    outbox.to_shopper(conv.id, state_frame(conv))
    outbox.to_agents(
        {"type": "state", "conversation_id": conv.id, "state": conv.state, "agent_id": None, "agent_name": None},
        agent_ids=holders,
    )


def check_scope(conv: Conversation, user: Principal, translator: Covers | None = None) -> None:
    """:class:`Forbidden` unless ``user`` serves the conversation's language (``translator`` widens that) or
    holds it: reading, notes."""
    holder = conv.agent_id if conv.state == "agent" else None
    if not may_access(user, conv.lang, holder, translator):
        raise Forbidden("out_of_scope", f"this conversation is in {conv.lang!r}, which you do not serve")


class HandoffService:
    """Queue operations over one database."""

    def __init__(self, db: Database, settings: Settings, translator: Covers | None = None,
                 presence: AgentPresence | None = None) -> None:
        self.db = db
        self.presence = presence
        self.settings = settings
        self.translator = translator
        self.hours = SupportHours.parse(settings.support_hours, settings.support_timezone)

    # ------------------------------------------------------------------ language scope (bot/handoff/scope.py)
    def check_scope(self, conv: Conversation, user: Principal) -> None:
        """:class:`Forbidden` unless ``user`` serves the conversation's language (or holds it): read, notes."""
        check_scope(conv, user, self.translator)

    def serves(self, user: Principal, lang: str | None, translator: Covers | None = None) -> bool:
        """Whether ``user`` serves ``lang`` (:func:`bot.handoff.scope.serves`; ``translator`` default: this one's)."""
        return serves(user, lang, translator if translator is not None else self.translator)

    def visible_languages(self, user: Principal) -> list[str] | None:
        """The conversation languages ``user`` may see (spoken and translated); None: every language."""
        scope = queue_languages(user, self.translator)
        return None if scope is None else sorted(scope[0] | scope[1])

    # ------------------------------------------------------------------ entering the queue
    def availability(self, session: Session, lang: str, now: datetime | None = None) -> str:
        """online, no_agent (nobody online serves ``lang``, even through translation) or outside_hours."""
        now = now or utcnow()
        if not self.hours.is_open(now):
            return OUTSIDE_HOURS
        agents = select(User).where(User.role.in_(("agent", "admin")), User.active.is_(True))
        # Redis heartbeats when shared (bot/auth/presence.py); users.last_seen_at without Redis or while it fails.
        live = None if self.presence is None else self.presence.online(
            session.scalars(agents.with_only_columns(User.id)).all())
        if live is None:
            cutoff = now - timedelta(seconds=self.settings.agent_presence_seconds)
            online = session.scalars(agents.where(User.last_seen_at >= cutoff)).all()
        else:
            online = session.scalars(agents.where(User.id.in_(live))).all() if live else []
        return ONLINE if any(serves(u, lang, self.translator) for u in online) else NO_AGENT

    def enqueue(self, session: Session, conv: Conversation, reason: str, topic: str | None, outbox: Outbox) -> None:
        """Put a locked conversation in the queue; tell the shopper if nobody can answer now."""
        now = utcnow()
        conv.state = "queued"
        conv.agent_id = None
        conv.updated_at = now
        availability = self.availability(session, conv.lang, now)
        session.add(Handoff(conversation_id=conv.id, lang=conv.lang, reason=(reason or "handoff")[:200],
                            topic=(topic or None) and topic[:80], availability=availability, requested_at=now))
        emit(session, HandedOff(conversation_id=conv.id, at=now, lang=conv.lang, store_key=conv.store_key,
                                reason=(reason or "handoff")[:200], topic=topic, availability=availability))
        code = AVAILABILITY_CODES.get(availability)
        if code:
            for key in (code, "leave_email_prompt") if not conv.contact_email else (code,):
                _notice(session, conv, key, outbox)
        outbox.to_shopper(conv.id, state_frame(conv, reason=code))
        outbox.queue_changed()
        log.info("conversation %s queued (%s, %s, agents %s)", conv.id, conv.lang, reason, availability)

    def queued_reason(self, session: Session, conv: Conversation) -> str | None:
        """Why nobody answers a queued conversation now (no_agent_online, outside_hours), or None."""
        handoff = open_handoff(session, conv.id)
        return AVAILABILITY_CODES.get(handoff.availability) if handoff is not None else None

    def history(self, session: Session, conversation_id: str) -> list[dict[str, Any]]:
        """The conversation's handoffs, oldest first, as the conversation detail shows them."""
        handoffs = session.scalars(
            select(Handoff).where(Handoff.conversation_id == conversation_id).order_by(Handoff.id)
        ).all()
        return [
            {
                "reason": h.reason, "topic": h.topic, "lang": h.lang, "availability": h.availability,
                "requested_at": iso(h.requested_at), "claimed_at": iso(h.claimed_at),
                "agent_id": h.agent_id, "ended_at": iso(h.ended_at), "outcome": h.outcome,
            }
            for h in handoffs
        ]

    # ------------------------------------------------------------------ the queue
    def queue(self, user: Principal, limit: int = 200) -> list[QueueItem]:
        """Queued conversations in the languages ``user`` serves (see bot/handoff/scope.py), longest waiting first;
        the ones they serve through machine translation are marked ``translated``."""
        last_text = (
            select(Message.text)
            .where(Message.conversation_id == Conversation.id, Message.role == "shopper")
            .order_by(Message.seq.desc())
            .limit(1)
            .correlate(Conversation)
            .scalar_subquery()
        )
        query = (
            select(Conversation, Handoff, last_text)
            .join(Handoff, and_(Handoff.conversation_id == Conversation.id, Handoff.ended_at.is_(None)))
            .where(Conversation.state == "queued")
            .order_by(Handoff.requested_at, Conversation.id)
            .limit(limit)
        )
        scope = queue_languages(user, self.translator)
        translated: set[str] = set()
        if scope is not None:
            spoken, translated = scope
            query = query.where(Conversation.lang.in_(sorted(spoken | translated)))
        now = utcnow()
        with self.db.read() as session:
            rows = session.execute(query).all()
        items = [
            QueueItem(
                id=conv.id,
                lang=conv.lang,
                reason=handoff.reason,
                topic=handoff.topic,
                waiting_seconds=max(0, int((now - handoff.requested_at).total_seconds())),
                queued_at=iso(handoff.requested_at),
                availability=handoff.availability,
                has_email=bool(conv.contact_email),
                last_message=(text or "")[:200] or None,
                translated=conv.lang in translated,
            )
            for conv, handoff, text in rows
        ]
        self._translate_previews(items, user)
        return items

    def _translate_previews(self, items: list[QueueItem], user: Principal) -> None:
        """The last message of each translated item in ``user``'s reading language (one time limit per language)."""
        translate_many = getattr(self.translator, "translate_many", None)
        if translate_many is None:
            return
        reading = reading_language(user, self.settings.default_locale)
        by_lang: dict[str, list[QueueItem]] = {}
        for item in items:
            if item.translated and item.last_message:
                by_lang.setdefault(item.lang, []).append(item)
        for lang, group in by_lang.items():
            for item, result in zip(group, translate_many([i.last_message for i in group], lang, reading), strict=True):
                item.last_message_translation = result.text if result is not None else None

    # ------------------------------------------------------------------ agent actions
    def claim(self, conversation_id: str, user: Principal) -> tuple[bool, Outbox]:
        """Take a queued conversation. Exactly one of several agents racing wins; the others get Conflict.

        Returns ``(newly_claimed, outbox)``; claiming one you already hold is a no-op.
        """
        outbox = Outbox()
        now = utcnow()
        with self.db.session() as session:
            current = get_conversation(session, conversation_id)
            # Claim rules follow the queue: only a conversation that would show in your queue (held ones say "taken").
            if current.state == "queued" and not serves(user, current.lang, self.translator):
                raise Forbidden("out_of_scope", f"you do not serve conversations in {current.lang!r}")
            # One conditional UPDATE: atomic on SQLite and PostgreSQL alike (the WHERE is re-checked under the
            # row lock, so a second claimer sees state='agent' and updates nothing).
            result = session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id, Conversation.state == "queued")
                .values(state="agent", agent_id=user.id, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                conv = get_conversation(session, conversation_id)
                if conv.state == "agent" and conv.agent_id == user.id:
                    return False, outbox
                if conv.state == "agent":
                    raise Conflict("taken", "another agent holds this conversation")
                raise Conflict("not_queued", f"the conversation is {conv.state}, not queued")
            conv = lock_conversation(session, conversation_id)
            handoff = open_handoff(session, conv.id)
            if handoff is not None:
                handoff.claimed_at = now
                handoff.agent_id = user.id
            emit(session, Claimed(conversation_id=conv.id, at=now, lang=conv.lang, store_key=conv.store_key,
                                  agent_id=user.id))
            msg = append_message(session, conv, "system", ui_text("agent_joined", conv.lang, name=user.name),
                                 code="agent_joined", author_id=user.id, author_name=user.name)
            session.flush()
            outbox.to_shopper(conv.id, {"type": "message", "message": public_message(msg)})
            outbox.to_shopper(conv.id, state_frame(conv, agent_name=user.name))
            outbox.to_agents({"type": "state", "conversation_id": conv.id, "state": "agent", "agent_id": user.id,
                              "agent_name": user.name}, agent_ids=[user.id])
            outbox.queue_changed()
        log.info("agent %s claimed conversation %s", user.username, conversation_id)
        return True, outbox

    def _end(self, session: Session, conv: Conversation, outcome: str) -> list[int]:
        handoff = open_handoff(session, conv.id)
        if handoff is not None:
            handoff.ended_at = utcnow()
            handoff.outcome = outcome
        return [conv.agent_id] if conv.agent_id is not None else []

    def release(self, conversation_id: str, user: Principal) -> Outbox:
        """Put a held conversation back in the queue (the agent has to leave)."""
        outbox = Outbox()
        with self.db.session() as session:
            conv = lock_held(session, conversation_id, user)
            holders = [conv.agent_id] if conv.agent_id is not None else []
            handoff = open_handoff(session, conv.id)
            conv.state, conv.agent_id, conv.updated_at = "queued", None, utcnow()
            if handoff is not None:
                handoff.claimed_at, handoff.agent_id = None, None
            emit(session, Released(conversation_id=conv.id, at=conv.updated_at, lang=conv.lang,
                                   store_key=conv.store_key, agent_id=user.id))
            _notice(session, conv, "agent_left", outbox)
            _unheld(conv, holders, outbox)
            outbox.queue_changed()
        return outbox

    def release_held(self, user: Principal) -> Outbox:
        """Put every conversation ``user`` holds back in the queue (they were deactivated or stopped being an
        agent), so no shopper waits on someone who cannot answer any more."""
        outbox = Outbox()
        with self.db.read() as session:
            held = session.scalars(
                select(Conversation.id).where(Conversation.agent_id == user.id, Conversation.state == "agent")
            ).all()
        for conversation_id in held:
            try:
                outbox.extend(self.release(conversation_id, user))
            except Conflict:  # resolved or handed back meanwhile
                continue
        if held:
            log.info("released %d conversations held by %s", len(held), user.username)
        return outbox

    def resolve(self, conversation_id: str, user: Principal) -> Outbox:
        """Close a held conversation; the shopper is asked for a rating."""
        outbox = Outbox()
        with self.db.session() as session:
            conv = lock_held(session, conversation_id, user)
            holders = self._end(session, conv, "resolved")
            conv.state, conv.updated_at = "closed", utcnow()
            emit(session, Resolved(conversation_id=conv.id, at=conv.updated_at, lang=conv.lang,
                                   store_key=conv.store_key, agent_id=holders[0] if holders else user.id))
            # One notice only: the widget asks for the rating itself (a card, on the "closed" state); a stored
            # "rating_prompt" message as well showed shoppers the same question twice.
            _notice(session, conv, "conversation_resolved", outbox)
            _unheld(conv, holders, outbox)
        log.info("agent %s resolved conversation %s", user.username, conversation_id)
        return outbox

    def handback(self, conversation_id: str, user: Principal) -> Outbox:
        """Give a held conversation back to the bot; its unresolved streak starts afresh."""
        outbox = Outbox()
        with self.db.session() as session:
            conv = lock_held(session, conversation_id, user)
            holders = self._end(session, conv, "handback")
            emit(session, HandedBack(conversation_id=conv.id, at=utcnow(), lang=conv.lang, store_key=conv.store_key,
                                     agent_id=conv.agent_id or user.id))
            conv.state, conv.agent_id, conv.updated_at = "bot", None, utcnow()
            _notice(session, conv, "back_to_bot", outbox)
            conv.bot_context_seq = conv.last_seq  # the bot's context starts after this message
            _unheld(conv, holders, outbox)
        log.info("agent %s handed conversation %s back to the bot", user.username, conversation_id)
        return outbox
