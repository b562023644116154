"""Data-subject requests (export, erase) and retention (purge), each audited.

Erasure keeps a tombstone: the conversation row (state, language, times, rating) and the report tables stay,
so report counts do not change; messages, notes, the contact email and missed questions go. Purge deletes
whole conversations past their retention (reports keep their figures: they hold no content). Both work in
batches of ``purge_batch_size`` conversations per transaction and can be re-run: what is gone stays gone, and
a second run finds nothing left to do. On SQLite, deleted content is zeroed (``secure_delete``) and the WAL is
checkpointed afterwards, so it is gone from the database files, not just unlinked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, func, or_, select
from sqlalchemy.orm import Session

from bot.audit.service import record
from bot.conversations.events import agent_message, note_json
from bot.conversations.models import Conversation, Message, Note
from bot.db.session import Database
from bot.db.types import iso, utcnow
from bot.editor.models import MissedQuestion
from bot.handoff.models import Handoff
from bot.privacy.models import Erasure

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Subject:
    """Whose data: a contact email or one conversation id (exactly one of them)."""

    email: str | None = None
    conversation_id: str | None = None

    def __post_init__(self) -> None:
        if (self.email is None) == (self.conversation_id is None):
            raise ValueError("give exactly one of email and conversation_id")

    def where(self) -> Any:
        if self.email is not None:
            return func.lower(Conversation.contact_email) == self.email.strip().lower()
        return Conversation.id == self.conversation_id


def _ids(session: Session, subject: Subject) -> list[str]:
    return list(session.scalars(select(Conversation.id).where(subject.where()).order_by(Conversation.created_at)))


def export(db: Database, subject: Subject) -> dict[str, Any]:
    """Everything stored about the subject: conversations with messages, notes, handoffs, email and rating."""
    with db.read() as session:
        out = []
        for conv in session.scalars(select(Conversation).where(subject.where()).order_by(Conversation.created_at)):
            messages = session.scalars(select(Message).where(Message.conversation_id == conv.id)
                                       .order_by(Message.seq)).all()
            notes = session.scalars(select(Note).where(Note.conversation_id == conv.id).order_by(Note.id)).all()
            handoffs = session.scalars(select(Handoff).where(Handoff.conversation_id == conv.id)
                                       .order_by(Handoff.id)).all()
            erased = session.get(Erasure, conv.id)
            out.append({
                "id": conv.id, "store_key": conv.store_key, "state": conv.state, "lang": conv.lang,
                "contact_email": conv.contact_email, "rating": conv.rating,
                "created_at": iso(conv.created_at), "updated_at": iso(conv.updated_at),
                "erased_at": iso(erased.erased_at) if erased else None,
                "messages": [agent_message(m) for m in messages],
                "notes": [note_json(n) for n in notes],
                "handoffs": [{"reason": h.reason, "topic": h.topic, "requested_at": iso(h.requested_at),
                              "claimed_at": iso(h.claimed_at), "ended_at": iso(h.ended_at), "outcome": h.outcome}
                             for h in handoffs],
            })
        return {"conversations": out}


def _forget(db: Database) -> None:
    """Make deleted content unrecoverable from the SQLite files: fold the WAL into the database and empty it."""
    if not db.is_sqlite:
        return
    raw = db.engine.raw_connection()  # autocommit: a checkpoint cannot run inside a transaction
    try:
        busy, _frames, _done = raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            log.warning("WAL checkpoint was blocked by a reader; erased content leaves the WAL at the next one")
    except Exception:
        log.exception("WAL checkpoint after erasure failed")
    finally:
        raw.close()


def erase(db: Database, subject: Subject, by: str, audit_subject: str, batch: int = 500) -> dict[str, int]:
    """Delete the subject's messages, notes, email and missed questions, leaving tombstones; audited."""
    with db.read() as session:
        ids = _ids(session, subject)
    counts = {"conversations": 0, "messages": 0, "notes": 0, "missed_questions": 0}
    for start in range(0, len(ids), batch):
        chunk = ids[start:start + batch]
        with db.session() as session:
            counts["messages"] += session.execute(delete(Message).where(Message.conversation_id.in_(chunk))).rowcount
            counts["notes"] += session.execute(delete(Note).where(Note.conversation_id.in_(chunk))).rowcount
            counts["missed_questions"] += session.execute(
                delete(MissedQuestion).where(MissedQuestion.conversation_id.in_(chunk))).rowcount
            for conv in session.scalars(select(Conversation).where(Conversation.id.in_(chunk))):
                conv.contact_email = None
                if session.get(Erasure, conv.id) is None:
                    session.add(Erasure(conversation_id=conv.id, erased_at=utcnow(), erased_by=by[:64]))
            counts["conversations"] += len(chunk)
    with db.session() as session:
        record(session, by, "erase", audit_subject, dict(counts))
    _forget(db)
    log.info("erased %s conversations (%s messages)", counts["conversations"], counts["messages"])
    return counts


# ---------------------------------------------------------------------------------------------- retention
@dataclass(frozen=True)
class RetentionPolicy:
    """Days after the last activity: closed conversations, and conversations never handed off (0: keep)."""

    closed_days: int = 0
    bot_only_days: int = 0

    @property
    def active(self) -> bool:
        return self.closed_days > 0 or self.bot_only_days > 0

    def expired(self, now: datetime) -> Any:
        """The SQL condition of conversations past retention at ``now``."""
        clauses = []
        if self.closed_days > 0:
            clauses.append((Conversation.state == "closed")
                           & (Conversation.updated_at < now - timedelta(days=self.closed_days)))
        if self.bot_only_days > 0:
            never_handed = ~exists().where(Handoff.conversation_id == Conversation.id)
            clauses.append(never_handed & (Conversation.updated_at < now - timedelta(days=self.bot_only_days)))
        return or_(*clauses) if clauses else Conversation.id.is_(None)


def purge(db: Database, policy: RetentionPolicy, by: str, dry_run: bool = False, batch: int = 500,
          progress: Progress | None = None, now: datetime | None = None) -> dict[str, int]:
    """Delete conversations past retention (with their messages, notes, handoffs and missed questions), one
    batch per transaction; ``dry_run`` only counts. Audited unless it was a dry run that found nothing."""
    now = now or utcnow()
    condition = policy.expired(now)
    with db.read() as session:
        total = session.scalar(select(func.count()).select_from(Conversation).where(condition)) or 0
        messages = session.scalar(
            select(func.count()).select_from(Message).join(Conversation, Conversation.id == Message.conversation_id)
            .where(condition)) or 0
    result = {"conversations": total, "messages": messages, "deleted": 0}
    if progress:
        progress(0, total)
    if dry_run or not policy.active:
        return result
    done = 0
    while True:
        with db.session() as session:
            ids = list(session.scalars(select(Conversation.id).where(condition).limit(batch)))
            if not ids:
                break
            session.execute(delete(MissedQuestion).where(MissedQuestion.conversation_id.in_(ids)))
            session.execute(delete(Erasure).where(Erasure.conversation_id.in_(ids)))
            # Explicitly, not through ON DELETE CASCADE: the deletes stay batched and visible in the counts.
            session.execute(delete(Message).where(Message.conversation_id.in_(ids)))
            session.execute(delete(Note).where(Note.conversation_id.in_(ids)))
            session.execute(delete(Handoff).where(Handoff.conversation_id.in_(ids)))
            done += session.execute(delete(Conversation).where(Conversation.id.in_(ids))).rowcount
        if progress:
            progress(min(done, total), max(total, done))
    result["deleted"] = done
    if done:
        with db.session() as session:
            record(session, by, "purge", f"{done} conversations",
                   {"closed_days": policy.closed_days, "bot_only_days": policy.bot_only_days, **result})
        _forget(db)
    log.info("retention: deleted %d conversations", done)
    return result
