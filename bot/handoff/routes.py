"""``/api/queue`` and the agent actions on a conversation: claim, release, resolve, hand back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from bot.auth.deps import AgentUser
from bot.conversations.errors import ChatError
from bot.conversations.routes import http_error
from bot.conversations.runtime import ChatRuntime
from bot.handoff.service import QueueItem

router = APIRouter(tags=["queue"])

ConversationId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class ActionOut(BaseModel):
    id: str
    state: str
    claimed: bool | None = None


def _runtime(request: Request) -> ChatRuntime:
    return request.app.state.chat


@router.get("/api/queue", response_model=list[QueueItem])
async def get_queue(request: Request, user: AgentUser) -> list[QueueItem]:
    """Conversations waiting for a human in the languages you speak, longest waiting first."""
    return await run_in_threadpool(_runtime(request).handoff.queue, user)


@router.post("/api/conversations/{conversation_id}/claim", response_model=ActionOut)
async def claim(conversation_id: ConversationId, request: Request, user: AgentUser) -> ActionOut:
    """Take a queued conversation. Atomic: of agents claiming at once exactly one gets 200, the others 409."""
    runtime = _runtime(request)
    try:
        claimed, outbox = await run_in_threadpool(runtime.handoff.claim, conversation_id, user)
    except ChatError as exc:
        raise http_error(exc) from None
    await runtime.publish(outbox)
    return ActionOut(id=conversation_id, state="agent", claimed=claimed)


async def _act(request: Request, conversation_id: str, user: object, action: str, state: str) -> ActionOut:
    runtime = _runtime(request)
    try:
        outbox = await run_in_threadpool(getattr(runtime.handoff, action), conversation_id, user)
    except ChatError as exc:
        raise http_error(exc) from None
    await runtime.publish(outbox)
    return ActionOut(id=conversation_id, state=state)


@router.post("/api/conversations/{conversation_id}/resolve", response_model=ActionOut)
async def resolve(conversation_id: ConversationId, request: Request, user: AgentUser) -> ActionOut:
    """Close the conversation; the shopper is thanked and asked for a rating."""
    return await _act(request, conversation_id, user, "resolve", "closed")


@router.post("/api/conversations/{conversation_id}/handback", response_model=ActionOut)
async def handback(conversation_id: ConversationId, request: Request, user: AgentUser) -> ActionOut:
    """Give the conversation back to the bot."""
    return await _act(request, conversation_id, user, "handback", "bot")


@router.post("/api/conversations/{conversation_id}/release", response_model=ActionOut)
async def release(conversation_id: ConversationId, request: Request, user: AgentUser) -> ActionOut:
    """Put the conversation back in the queue for another agent."""
    return await _act(request, conversation_id, user, "release", "queued")
