"""The agent's desk: replies (translated or not), reply previews, internal notes, and what the console reads.

Split from :mod:`bot.conversations.service` (the shopper's side and the bot's turns): both write the same
conversations through the same store functions, but agents act only on conversations they may see
(``handoff.check_scope``) or hold (``lock_held``). Like the chat service, every method is synchronous and runs
one transaction; what it returns carries an :class:`Outbox` to publish after the commit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.auth.service import Principal
from bot.conversations.errors import Forbidden
from bot.conversations.events import Outbox, agent_message, note_json, public_message
from bot.conversations.models import Conversation, Message, Note
from bot.conversations.service import ChatService, Stored, check_client_id, client_id_taken
from bot.conversations.store import append_message, find_by_client_id, get_conversation, lock_held
from bot.db.types import iso, utcnow
from bot.events import AgentReplied, emit

if TYPE_CHECKING:  # injected by bot.app: translation builds on handoff, which builds on conversations
    from bot.translation.chat import ChatTranslation


class AgentDesk:
    """What agents (and admins) do with conversations, over the chat service's database and rules."""

    def __init__(self, chat: ChatService) -> None:
        self.chat = chat
        self.db = chat.db
        self.handoff = chat.handoff
        self.translation: ChatTranslation = chat.translation

    def agent_reply(self, conversation_id: str, user: Principal, text: object, client_id: object = None,
                    translate: bool = False) -> Stored:
        """An agent's message to the shopper; only the agent holding the conversation (or an admin) may send.

        With ``translate`` the agent writes in their reading language and the shopper gets the machine
        translation (translated before the transaction, so a slow translator holds no lock).
        """
        text = self.chat.check_text(text)
        cid = check_client_id(client_id) if client_id is not None else None
        reply = None
        if translate:
            if cid is not None:
                with self.db.read() as session:
                    existing = find_by_client_id(session, conversation_id, cid)
                    if existing is not None:
                        return Stored(agent_message(existing), created=False, message_id=existing.id)
            with self.db.read() as session:
                conv = get_conversation(session, conversation_id)
                holds = conv.state == "agent" and (conv.agent_id == user.id or user.role == "admin")
                shopper_lang = conv.lang
            # Only for the holder (anyone else gets lock_held's Conflict below, with nothing translated).
            reply = self.translation.reply(text, user, shopper_lang) if holds else None
        with self.db.session() as session:
            if cid is not None:
                existing = find_by_client_id(session, conversation_id, cid)
                if existing is not None:
                    # A client id names one author's message: a resend by that agent is idempotent, anyone
                    # else's reuse (the shopper's id, another agent's) is a conflict, never their message back.
                    if existing.role != "agent" or existing.author_id != user.id:
                        raise client_id_taken()
                    return Stored(agent_message(existing), created=False, message_id=existing.id)
            conv = lock_held(session, conversation_id, user)
            extra: dict[str, Any] = {}
            if reply is not None:
                extra = {"lang": reply.lang, "original_text": reply.original_text,
                         "original_lang": reply.original_lang, "translation_engine": reply.engine}
                text = reply.text
            msg = append_message(session, conv, "agent", text, client_id=cid, author_id=user.id, author_name=user.name,
                                 **extra)
            session.flush()
            emit(session, AgentReplied(conversation_id=conv.id, at=msg.created_at, lang=conv.lang,
                                       store_key=conv.store_key, agent_id=user.id, message_id=msg.id))
            outbox = Outbox()
            outbox.to_shopper(conv.id, {"type": "message", "message": public_message(msg)})
            outbox.to_agents({"type": "message", "conversation_id": conv.id, "message": agent_message(msg)},
                             agent_ids=[conv.agent_id] if conv.agent_id is not None else None)
            body = agent_message(msg)
            if reply is not None and reply.note:
                body["translation_note"] = reply.note
            return Stored(body, created=True, message_id=msg.id, outbox=outbox)

    def preview_reply(self, conversation_id: str, user: Principal, text: object) -> dict[str, Any]:
        """The machine translation an agent's draft would get, and its back-translation (nothing is stored)."""
        text = self.chat.check_text(text)
        with self.db.read() as session:
            shopper_lang = get_conversation(session, conversation_id).lang
        if not self.handoff.serves(user, shopper_lang, self.translation.service):
            raise Forbidden("out_of_scope", f"you do not serve conversations in {shopper_lang!r}")
        return self.translation.preview(text, user, shopper_lang)

    def add_note(self, conversation_id: str, user: Principal, text: object) -> tuple[dict[str, Any], Outbox]:
        """An internal note: stored apart from messages, relayed to agents only."""
        text = self.chat.check_text(text)
        with self.db.session() as session:
            conv = get_conversation(session, conversation_id)
            self.handoff.check_scope(conv, user)
            note = Note(conversation_id=conv.id, author_id=user.id, author_name=user.name, text=text,
                        created_at=utcnow())
            session.add(note)
            session.flush()
            body = note_json(note)
            outbox = Outbox()
            outbox.to_agents({"type": "note", "conversation_id": conv.id, "note": body},
                             agent_ids=[conv.agent_id] if conv.agent_id is not None else [user.id])
            return body, outbox

    def detail(self, conversation_id: str, user: Principal | None = None) -> dict[str, Any]:
        """Everything an agent sees: messages with the bot's decisions, notes, handoffs, contact email, rating.

        For ``user``: only agents serving the conversation's language, its holder, and admins (else
        :class:`Forbidden`); shopper messages in a language they do not read carry a machine ``translation``
        (translated after the database read, outside the transaction). Without a user the caller is the server.
        """
        out = self._detail(conversation_id, user)
        if user is not None and self.translation.needed(user, out["lang"]):
            out["reading_lang"] = self.translation.reading_lang(user)
            self.translation.annotate(out["messages"], user, out["lang"])
        return out

    def _detail(self, conversation_id: str, user: Principal | None) -> dict[str, Any]:
        with self.db.read() as session:
            conv = get_conversation(session, conversation_id)
            if user is not None:
                self.handoff.check_scope(conv, user)
            messages = session.scalars(
                select(Message).where(Message.conversation_id == conv.id).order_by(Message.seq)
            ).all()
            notes = session.scalars(select(Note).where(Note.conversation_id == conv.id).order_by(Note.id)).all()
            return {
                **self._summary(session, conv),
                "messages": [agent_message(m) for m in messages],
                "notes": [note_json(n) for n in notes],
                "handoffs": self.handoff.history(session, conv.id),
            }

    def _summary(self, session: Session, conv: Conversation) -> dict[str, Any]:
        return {
            "id": conv.id,
            "state": conv.state,
            "lang": conv.lang,
            "locale_hint": conv.locale_hint,
            "store_key": conv.store_key,
            "agent_id": conv.agent_id,
            "agent_name": self.chat.agent_name(session, conv),
            "contact_email": conv.contact_email,
            "rating": conv.rating,
            "created_at": iso(conv.created_at),
            "updated_at": iso(conv.updated_at),
            "last_seq": conv.last_seq,
        }

    def list_for(self, user: Principal, state: str | None = None, mine: bool = True,
                 limit: int = 100) -> list[dict[str, Any]]:
        """Conversations for the console: by default the ones ``user`` holds."""
        query = select(Conversation).order_by(Conversation.updated_at.desc()).limit(max(1, min(limit, 500)))
        if mine:
            query = query.where(Conversation.agent_id == user.id)
            query = query.where(Conversation.state == (state or "agent"))
        else:
            if state:
                query = query.where(Conversation.state == state)
            langs = self.handoff.visible_languages(user)
            if langs is not None:  # other languages' conversations (and their emails) stay out of sight
                query = query.where(or_(Conversation.lang.in_(langs), Conversation.agent_id == user.id))
        with self.db.read() as session:
            return [self._summary(session, c) for c in session.scalars(query).all()]
