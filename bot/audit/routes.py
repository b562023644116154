"""``GET /api/audit`` (admins). There is deliberately no route that changes or deletes an entry."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from bot.audit import service
from bot.auth.deps import AdminUser

router = APIRouter(tags=["audit"])


class AuditEntryOut(BaseModel):
    id: int
    at: str
    actor: str
    actor_id: int | None
    action: str
    subject: str | None
    detail: dict[str, Any] | None


@router.get("/api/audit", response_model=list[AuditEntryOut])
async def audit_log(
    request: Request, _admin: AdminUser,
    action: Annotated[str | None, Query(max_length=32, description="login, export, erase, purge, ...")] = None,
    before_id: Annotated[int | None, Query(ge=1, description="page back from this entry id")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Who did what to which subject, newest first: logins, user changes, exports, erasures, purges, knowledge
    base publishes and imports."""

    def read() -> list[dict[str, Any]]:
        with request.app.state.db.read() as session:
            return service.entries(session, action, before_id, limit)

    return await run_in_threadpool(read)
