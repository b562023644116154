"""Writing and reading the audit log. Rows are only inserted: no function here updates or deletes one."""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit.models import AuditEntry
from bot.db.types import iso, utcnow
from bot.events import Audited

log = logging.getLogger(__name__)


def record(session: Session, username: str, action: str, subject: str | None = None,
           detail: dict[str, Any] | None = None, user_id: int | None = None) -> AuditEntry:
    """Append one entry in the caller's transaction (it is kept exactly when the audited change is)."""
    entry = AuditEntry(at=utcnow(), actor=username[:64], actor_id=user_id, action=action[:32],
                       subject=None if subject is None else subject[:200], detail=detail)
    session.add(entry)
    log.info("audit: %s %s %s", username, action, subject or "")
    return entry


def record_event(session: Session, event: Audited) -> AuditEntry:
    entry = record(session, event.username, event.action, event.subject, event.detail, event.user_id)
    entry.at = event.at
    return entry


def email_subject(secret: bytes, email: str) -> str:
    """An email as an audit subject: a keyed hash, so the log proves which request without keeping the address
    (the same address always gives the same subject; nobody without the server's secret can reverse it)."""
    digest = hmac.new(secret, email.strip().lower().encode("utf-8"), hashlib.sha256).hexdigest()
    return f"email#{digest[:16]}"


def entry_json(e: AuditEntry) -> dict[str, Any]:
    return {"id": e.id, "at": iso(e.at), "actor": e.actor, "actor_id": e.actor_id, "action": e.action,
            "subject": e.subject, "detail": e.detail}


def entries(session: Session, action: str | None = None, before_id: int | None = None,
            limit: int = 100) -> list[dict[str, Any]]:
    """The newest entries first; ``before_id`` pages back."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(max(1, min(limit, 1000)))
    if action:
        query = query.where(AuditEntry.action == action)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return [entry_json(e) for e in session.scalars(query).all()]
