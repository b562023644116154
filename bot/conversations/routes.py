"""``/api/conversations``: history with the bot's decisions, agent replies, internal notes (agents, admins)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from bot.auth.deps import AgentUser
from bot.conversations.errors import ChatError
from bot.conversations.runtime import ChatRuntime
from bot.conversations.schemas import (
    ConversationDetail,
    ConversationSummary,
    MessageOut,
    NoteOut,
    PreviewOut,
    ReplyBody,
    TextBody,
)

router = APIRouter(prefix="/api/conversations", tags=["conversations"])

ConversationId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def runtime_of(request: Request) -> ChatRuntime:
    return request.app.state.chat


def http_error(exc: ChatError) -> HTTPException:
    """The error format (docs/protocol.md): ``{"error": {"code", "message"}}`` once converted centrally."""
    return HTTPException(exc.status, detail={"code": exc.code, "message": exc.detail})


@router.get("", response_model=list[ConversationSummary])
async def list_conversations(
    request: Request,
    user: AgentUser,
    scope: Annotated[Literal["mine", "all"], Query()] = "mine",
    state: Annotated[Literal["bot", "queued", "agent", "closed"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict]:
    """The conversations you hold (``scope=mine``), or the latest of every one (``scope=all``)."""
    return await run_in_threadpool(runtime_of(request).desk.list_for, user, state, scope == "mine", limit)


@router.get("/{conversation_id}", response_model=ConversationDetail)
async def get_conversation(conversation_id: ConversationId, request: Request, user: AgentUser) -> dict:
    """Full history: messages with intent, confidence, reason and faq_id of each bot decision; notes; handoffs.

    403 ``out_of_scope`` for agents who neither serve the conversation's language nor hold it. Shopper messages
    in a language other than your reading language (your first language) carry ``translation`` when a translator
    covers the pair."""
    try:
        return await run_in_threadpool(runtime_of(request).desk.detail, conversation_id, user)
    except ChatError as exc:
        raise http_error(exc) from None


@router.post("/{conversation_id}/messages", response_model=MessageOut, status_code=201)
async def post_message(conversation_id: ConversationId, body: ReplyBody, request: Request, user: AgentUser) -> dict:
    """Reply to the shopper (you must hold the conversation; 409 otherwise). Relayed live once stored.

    With ``translate: true`` write in your reading language: the shopper gets the machine translation (marked
    translated) and the stored message keeps ``original_text``/``original_lang``. A failing or slow translator
    sends your text as written, with ``translation_note``."""
    runtime = runtime_of(request)
    try:
        stored = await run_in_threadpool(runtime.desk.agent_reply, conversation_id, user, body.text, body.client_id,
                                         body.translate)
    except ChatError as exc:
        raise http_error(exc) from None
    await runtime.publish(stored.outbox)
    return stored.message


@router.post("/{conversation_id}/translation-preview", response_model=PreviewOut)
async def translation_preview(conversation_id: ConversationId, body: TextBody, request: Request,
                              user: AgentUser) -> dict:
    """What the shopper would read if you sent ``text`` with ``translate``, and its back-translation into your
    reading language, so you can check it first. Nothing is stored or sent."""
    try:
        return await run_in_threadpool(runtime_of(request).desk.preview_reply, conversation_id, user, body.text)
    except ChatError as exc:
        raise http_error(exc) from None


@router.post("/{conversation_id}/notes", response_model=NoteOut, status_code=201)
async def post_note(conversation_id: ConversationId, body: TextBody, request: Request, user: AgentUser) -> dict:
    """An internal note; the shopper never sees it."""
    runtime = runtime_of(request)
    try:
        note, outbox = await run_in_threadpool(runtime.desk.add_note, conversation_id, user, body.text)
    except ChatError as exc:
        raise http_error(exc) from None
    await runtime.publish(outbox)
    return note
