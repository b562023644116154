"""The chat: opening and resuming conversations, storing shopper and bot messages, email, rating.

What agents do (replies, notes, the console's reads) is in :mod:`bot.conversations.desk`.

Each public method is synchronous (call it from a thread, e.g. ``run_in_threadpool``), runs one transaction,
and returns what the caller needs to acknowledge plus an :class:`Outbox` to publish after the commit.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.auth.models import User
from bot.conversations.errors import Conflict, Invalid
from bot.conversations.events import Outbox, agent_message, public_message, state_frame
from bot.conversations.handoff_port import HandoffQueue
from bot.conversations.models import Conversation, Message
from bot.conversations.store import append_message, find_by_client_id, get_conversation, lock_conversation
from bot.conversations.texts import supported_locale, ui_text
from bot.db.session import Database
from bot.db.types import new_id, utcnow
from bot.events import BotDecided, ConversationStarted, EmailLeft, Rated, Reopened, emit
from bot.nlu.base import SUPPORTED_LOCALES, ConversationContext, Decision, Turn
from bot.settings import Settings

if TYPE_CHECKING:  # injected by bot.app: translation builds on handoff, which builds on conversations
    from bot.translation.chat import ChatTranslation

log = logging.getLogger(__name__)

EMAIL_PATTERN = re.compile(r"^[^@\s<>\"']{1,64}@[^@\s<>\"']{1,189}\.[^@\s<>\"'.]{2,}$")
CLIENT_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
WELCOME_HISTORY_LIMIT = 500


def client_id_taken() -> Conflict:
    """A client id names one author's message; someone else reusing it gets this (409 / ``bad_request``)."""
    return Conflict("client_id_taken", "this client_id belongs to another author's message")


@dataclass
class Opened:
    """A conversation a shopper socket is attached to."""

    conversation_id: str
    token: str
    created: bool
    state: str
    lang: str
    agent_name: str | None
    reason: str | None
    last_seq: int = 0  # the conversation's highest seq when it was opened


@dataclass
class Stored:
    """The result of storing a message: the message as its sender sees it, and what to do next."""

    message: dict[str, Any]
    created: bool
    needs_bot: bool = False
    message_id: str = ""
    text: str = ""
    outbox: Outbox = field(default_factory=Outbox)


def check_client_id(client_id: object) -> str:
    if not isinstance(client_id, str) or not CLIENT_ID_PATTERN.match(client_id):
        raise Invalid("bad_client_id", "client_id: 1-64 letters, digits or . _ : -")
    return client_id


class ChatService:
    """Conversations over one database; ``secret`` keys the conversation token hashes."""

    def __init__(self, db: Database, settings: Settings, secret: bytes, handoff: HandoffQueue,
                 translation: ChatTranslation, redact: Callable[[str], str] | None = None) -> None:
        self.db = db
        self.settings = settings
        self.secret = secret
        self.handoff = handoff
        self.translation = translation
        #: Masks card numbers, IBANs... (``bot.privacy.redact``) in every text before it is stored.
        self.redact = redact or (lambda text: text)
        self.store_keys = frozenset(settings.store_keys)

    # ------------------------------------------------------------------ tokens
    def token_hash(self, token: str) -> str:
        return hmac.new(self.secret, token.encode("utf-8"), hashlib.sha256).hexdigest()

    def check_text(self, text: object) -> str:
        if not isinstance(text, str) or not text.strip():
            raise Invalid("empty", "text must be a non-empty string")
        text = text.strip()
        if "\x00" in text:  # PostgreSQL refuses NUL in text: say so instead of failing on commit
            raise Invalid("bad_text", "text must not contain NUL characters")
        if len(text) > self.settings.max_message_chars:
            raise Invalid("text_too_long", f"text is {len(text)} characters; the limit is "
                                            f"{self.settings.max_message_chars}")
        return self.redact(text)

    # ------------------------------------------------------------------ shopper side
    def open(self, store_key: object, conversation_id: object, token: object, locale: object) -> Opened | None:
        """Start a conversation, or resume one whose token matches; None means unauthorized."""
        if not isinstance(store_key, str) or store_key not in self.store_keys:
            return None
        if conversation_id is not None or token is not None:
            if not isinstance(conversation_id, str) or not isinstance(token, str) or len(token) > 200:
                return None
            with self.db.read() as session:
                conv = session.get(Conversation, conversation_id[:64])
                # Always compare, so an unknown id costs the same as a wrong token.
                expected = conv.token_hash if conv is not None else "0" * 64
                if not hmac.compare_digest(expected, self.token_hash(token)) or conv is None:
                    return None
                if not hmac.compare_digest(conv.store_key, store_key):
                    return None
                return Opened(conv.id, token, False, conv.state, conv.lang, self.agent_name(session, conv),
                              self._queued_reason(session, conv), conv.last_seq)
        lang = supported_locale(locale if isinstance(locale, str) else None, self.settings.default_locale)
        token = secrets.token_urlsafe(32)
        now = utcnow()
        with self.db.session() as session:
            conv = Conversation(id=new_id(), store_key=store_key, token_hash=self.token_hash(token), state="bot",
                                lang=lang, locale_hint=(locale[:35] if isinstance(locale, str) else None),
                                created_at=now, updated_at=now)
            session.add(conv)
            emit(session, ConversationStarted(conversation_id=conv.id, at=now, lang=lang, store_key=store_key))
        log.info("conversation %s started (%s)", conv.id, lang)
        return Opened(conv.id, token, True, "bot", lang, None, None)

    def agent_name(self, session: Session, conv: Conversation) -> str | None:
        """The name of the agent holding ``conv``, if one does."""
        if conv.state != "agent" or conv.agent_id is None:
            return None
        return session.scalar(select(User.name).where(User.id == conv.agent_id))

    def _queued_reason(self, session: Session, conv: Conversation) -> str | None:
        if conv.state != "queued":
            return None
        return self.handoff.queued_reason(session, conv)

    def history(self, conversation_id: str, after_seq: int = 0) -> tuple[list[dict[str, Any]], str]:
        """Shopper-visible messages with ``seq > after_seq`` (the latest 500 at most) and the current state."""
        with self.db.read() as session:
            conv = get_conversation(session, conversation_id)
            rows = session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation_id, Message.seq > max(0, int(after_seq)))
                .order_by(Message.seq.desc())
                .limit(WELCOME_HISTORY_LIMIT)
            ).all()
            return [public_message(m) for m in reversed(rows)], conv.state

    def shopper_state(self, conversation_id: str) -> dict[str, Any]:
        """The shopper's current ``state`` frame (catching up after missed relay hints)."""
        with self.db.read() as session:
            conv = get_conversation(session, conversation_id)
            return state_frame(conv, self.agent_name(session, conv), self._queued_reason(session, conv))

    def unanswered(self, conversation_id: str) -> tuple[str, str] | None:
        """``(message id, text)`` of a last shopper message the bot never answered (e.g. a crash in between)."""
        with self.db.read() as session:
            conv = session.get(Conversation, conversation_id)
            if conv is None or conv.state != "bot":
                return None
            last = session.scalar(
                select(Message).where(Message.conversation_id == conversation_id).order_by(Message.seq.desc()).limit(1)
            )
            if last is None or last.role != "shopper":
                return None
            return last.id, last.text

    def add_shopper_message(
        self, conversation_id: str, client_id: object, text: object, faq_id: object = None, origin: str | None = None
    ) -> Stored:
        """Store a shopper message once per ``client_id``; a closed conversation reopens with the bot."""
        client_id = check_client_id(client_id)
        text = self.check_text(text)
        faq = faq_id if isinstance(faq_id, str) and 0 < len(faq_id) <= 80 else None
        for attempt in range(2):
            try:
                with self.db.session() as session:
                    existing = find_by_client_id(session, conversation_id, client_id)
                    if existing is not None:
                        if existing.role != "shopper":
                            raise client_id_taken()
                        return Stored(public_message(existing), created=False, message_id=existing.id)
                    conv = lock_conversation(session, conversation_id)
                    outbox = Outbox()
                    if conv.state == "closed":
                        conv.state, conv.agent_id, conv.bot_context_seq = "bot", None, conv.last_seq
                        outbox.to_shopper(conv.id, state_frame(conv))
                        emit(session, Reopened(conversation_id=conv.id, at=utcnow(), lang=conv.lang,
                                               store_key=conv.store_key))
                    msg = append_message(session, conv, "shopper", text, client_id=client_id, faq_id=faq)
                    session.flush()
                    public = public_message(msg)
                    outbox.to_shopper(conv.id, {"type": "message", "message": public}, origin=origin)
                    if conv.state == "agent" and conv.agent_id is not None:
                        outbox.to_agents({"type": "message", "conversation_id": conv.id, "message": agent_message(msg)},
                                         agent_ids=[conv.agent_id])
                    elif conv.state == "queued":
                        outbox.queue_changed()
                    return Stored(public, created=True, needs_bot=conv.state == "bot", message_id=msg.id,
                                  text=text, outbox=outbox)
            except IntegrityError:
                if attempt:
                    raise
                log.debug("concurrent resend of %s; reading the stored copy", client_id)
        raise AssertionError("unreachable")

    def bot_context(self, conversation_id: str) -> tuple[str, ConversationContext]:
        """The conversation's state and the engine context rebuilt from the bot's stored decisions."""
        with self.db.read() as session:
            conv = get_conversation(session, conversation_id)
            rows = session.execute(
                select(Message.lang, Message.action)
                .where(Message.conversation_id == conversation_id, Message.role == "bot",
                       Message.seq > conv.bot_context_seq, Message.action.is_not(None))
                .order_by(Message.seq)
            ).all()
            turns = [Turn(lang=lang or conv.lang, action=action, unresolved=action != "answer")
                     for lang, action in rows]
            lang = conv.lang if rows else None
            return conv.state, ConversationContext(lang=lang, locale_hint=conv.locale_hint or conv.lang, turns=turns)

    def record_decision(self, conversation_id: str, reply_to: str, decision: Decision, topic: str | None) -> Outbox:
        """Store the bot's reply to one shopper message (at most once) and, on handoff, queue the conversation.

        Nothing is stored when the conversation left the bot meanwhile (an agent holds it: the bot stays silent).
        """
        outbox = Outbox()
        with self.db.session() as session:
            conv = lock_conversation(session, conversation_id)
            if conv.state != "bot":
                log.info("conversation %s is %s; dropping the bot's reply", conv.id, conv.state)
                return outbox
            if session.scalar(select(Message.id).where(Message.reply_to == reply_to)) is not None:
                return outbox
            if decision.lang in SUPPORTED_LOCALES:
                conv.lang = decision.lang
            msg = append_message(
                session, conv, "bot", decision.reply,
                lang=decision.reply_lang or decision.lang or conv.lang,
                reply_to=reply_to, action=decision.action, intent=(decision.intent or "")[:32] or None,
                faq_id=decision.faq_id, confidence=float(decision.confidence), reason=decision.reason,
                suggestions=[{"faq_id": s.faq_id, "question": s.question} for s in decision.suggestions],
            )
            session.flush()
            # Missed questions (editor) and reports listen to this after the commit.
            emit(session, BotDecided(
                conversation_id=conv.id, at=msg.created_at, lang=conv.lang, store_key=conv.store_key,
                message_id=msg.id, reply_to=reply_to, action=decision.action, reason=decision.reason,
                intent=msg.intent, faq_id=decision.faq_id, confidence=float(decision.confidence), topic=topic,
                suggested_faq_ids=tuple(s.faq_id for s in decision.suggestions),
            ))
            outbox.to_shopper(conv.id, {"type": "message", "message": public_message(msg)})
            if decision.action == "handoff":
                self.handoff.enqueue(session, conv, decision.reason, topic, outbox)
        return outbox

    def set_email(self, conversation_id: str, email: object) -> Outbox:
        """Keep the shopper's email so an agent can answer later; confirms with a system message."""
        if (not isinstance(email, str) or len(email) > 254 or "\x00" in email
                or not EMAIL_PATTERN.match(email.strip())):
            raise Invalid("bad_email", "that does not look like an email address")
        outbox = Outbox()
        with self.db.session() as session:
            conv = lock_conversation(session, conversation_id)
            conv.contact_email = email.strip()
            emit(session, EmailLeft(conversation_id=conv.id, at=utcnow(), lang=conv.lang, store_key=conv.store_key))
            msg = append_message(session, conv, "system", ui_text("email_saved", conv.lang), code="email_saved")
            session.flush()
            outbox.to_shopper(conv.id, {"type": "message", "message": public_message(msg)})
            if conv.state == "queued":
                outbox.queue_changed()
            elif conv.agent_id is not None:
                outbox.to_agents({"type": "message", "conversation_id": conv.id, "message": agent_message(msg)},
                                 agent_ids=[conv.agent_id])
        return outbox

    def set_rating(self, conversation_id: str, score: object) -> None:
        """The shopper's 1-5 rating of the conversation (the latest one counts)."""
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise Invalid("bad_score", "score must be an integer from 1 to 5")
        with self.db.session() as session:
            conv = lock_conversation(session, conversation_id)
            conv.rating = score
            # Editor: answers rated <= 2 become missed questions; reports: CSAT.
            emit(session, Rated(conversation_id=conv.id, at=utcnow(), lang=conv.lang, store_key=conv.store_key,
                                agent_id=conv.agent_id, score=score))

    def holder(self, conversation_id: str) -> int | None:
        """The id of the agent holding the conversation, if any."""
        with self.db.read() as session:
            conv = session.get(Conversation, conversation_id)
            return conv.agent_id if conv is not None and conv.state == "agent" else None
