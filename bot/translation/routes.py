"""``/api/translation``: the pairs the chat can translate (console, admin page) and re-reading them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from bot.auth.deps import AdminUser, AgentUser

router = APIRouter(prefix="/api/translation", tags=["translation"])


class PairOut(BaseModel):
    source: str
    target: str
    engine: str
    via: str | None


class PairsOut(BaseModel):
    translator: str
    pairs: list[PairOut]
    cache: dict[str, int]


def pairs_json(request: Request) -> dict[str, Any]:
    service = request.app.state.chat.translator
    return {
        "translator": request.app.state.settings.translator,
        "pairs": [p.to_json() for p in service.pairs()],
        "cache": {"hits": service.hits, "misses": service.misses},
    }


@router.get("/pairs", response_model=PairsOut)
async def get_pairs(request: Request, _user: AgentUser) -> dict[str, Any]:
    """Every language pair the chat translates, with its backend (``via: "en"``: pivoting through English)."""
    return await run_in_threadpool(pairs_json, request)


@router.post("/refresh", response_model=PairsOut)
async def refresh(request: Request, _user: AdminUser) -> dict[str, Any]:
    """Re-read the installed pairs (after ``borderless translate install``) without a restart."""
    await run_in_threadpool(request.app.state.chat.translator.refresh)
    return await run_in_threadpool(pairs_json, request)
