"""``/api/privacy``: data-subject export and erasure (admins; both audited)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from bot.audit.service import email_subject, record
from bot.auth.deps import AdminUser
from bot.auth.service import resolve_secret_key
from bot.privacy import service

router = APIRouter(prefix="/api/privacy", tags=["privacy"])

Email = Annotated[str | None, Query(max_length=254, description="The contact email the shopper left.")]
ConversationId = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class EraseBody(BaseModel):
    email: str | None = Field(None, max_length=254)
    conversation_id: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class EraseResult(BaseModel):
    conversations: int
    messages: int
    notes: int
    missed_questions: int


def _subject(request: Request, email: str | None, conversation_id: str | None) -> tuple[service.Subject, str]:
    """The subject and how the audit log names it (an email only as a keyed hash)."""
    if email is not None and not email.strip():
        email = None
    try:
        subject = service.Subject(email=email, conversation_id=conversation_id)
    except ValueError:
        raise HTTPException(422, detail={"code": "bad_subject",
                                         "message": "Give exactly one of email and conversation_id."}) from None
    if subject.email is not None:
        return subject, email_subject(resolve_secret_key(request.app.state.settings), subject.email)
    return subject, f"conversation:{conversation_id}"


@router.get("/export")
async def export(request: Request, admin: AdminUser, email: Email = None,
                 conversation_id: ConversationId = None) -> dict[str, Any]:
    """All of one contact's (or one conversation's) conversations, messages, notes, handoffs and ratings."""
    subject, named = _subject(request, email, conversation_id)
    db = request.app.state.db

    def run() -> dict[str, Any]:
        data = service.export(db, subject)
        with db.session() as session:
            record(session, admin.username, "export", named, {"conversations": len(data["conversations"])},
                   user_id=admin.id)
        return data

    return await run_in_threadpool(run)


@router.post("/erase", response_model=EraseResult)
async def erase(body: EraseBody, request: Request, admin: AdminUser) -> dict[str, int]:
    """Delete the messages, notes, email and missed questions of one contact (or conversation). The
    conversations stay as tombstones, so report counts do not change. Safe to repeat."""
    subject, named = _subject(request, body.email, body.conversation_id)
    settings = request.app.state.settings
    return await run_in_threadpool(service.erase, request.app.state.db, subject, admin.username, named,
                                   settings.purge_batch_size)
