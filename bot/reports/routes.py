"""``/api/reports``: the overview figures, the per-conversation CSV and the conversations behind a chart (admins)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from bot.auth.deps import AdminUser
from bot.db.session import Database
from bot.reports import service
from bot.reports.csv_export import stream_csv
from bot.reports.schemas import ConversationRow, Overview

router = APIRouter(prefix="/api/reports", tags=["reports"])

From = Annotated[str, Query(alias="from", pattern=r"^\d{4}-\d{2}-\d{2}$", description="First day, YYYY-MM-DD.")]
To = Annotated[str, Query(pattern=r"^\d{4}-\d{2}-\d{2}$", description="Last day (included), YYYY-MM-DD.")]
Tz = Annotated[str, Query(max_length=64, description="IANA time zone of the days and hours, e.g. Europe/Madrid.")]


def _period(first: str, last: str, tz: str) -> service.Period:
    try:
        return service.Period.parse(first, last, tz)
    except service.ReportError as exc:
        raise HTTPException(422, detail={"code": exc.code, "message": exc.message}) from None


@router.get("/overview", response_model=Overview, response_model_by_alias=True)
async def overview(request: Request, _admin: AdminUser, first: From, to: To, tz: Tz = "UTC") -> dict[str, Any]:
    """Containment, handoffs, response times and CSAT, per language, with a weekday x hour grid, in ``tz``."""
    period = _period(first, to, tz)
    db: Database = request.app.state.db

    def compute() -> dict[str, Any]:
        with db.read() as session:
            return service.overview(session, period)

    return await run_in_threadpool(compute)


@router.get("/conversations", response_model=list[ConversationRow])
async def conversations(
    request: Request, _admin: AdminUser, first: From, to: To, tz: Tz = "UTC",
    lang: Annotated[str | None, Query(max_length=8)] = None,
    day: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None,
    weekday: Annotated[int | None, Query(ge=0, le=6, description="0 = Monday")] = None,
    hour: Annotated[int | None, Query(ge=0, le=23)] = None,
    handed_off: bool | None = None,
    contained: bool | None = None,
    rated: bool | None = None,
    reason: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    """The conversations behind a chart: the period's conversations filtered like the chart's bar or cell."""
    period = _period(first, to, tz)
    filters = service.Filters(lang=lang, day=day, weekday=weekday, hour=hour, handed_off=handed_off,
                              contained=contained, rated=rated, reason=reason)
    db: Database = request.app.state.db

    def rows() -> list[dict[str, Any]]:
        with db.read() as session:
            return list(service.conversation_rows(session, period, filters, limit=limit))

    return await run_in_threadpool(rows)


@router.get("/conversations.csv", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}}, "description": "One row per conversation."}})
def conversations_csv(request: Request, _admin: AdminUser, first: From, to: To, tz: Tz = "UTC") -> StreamingResponse:
    """One row per conversation started in the period (id, started, language, first intent and topic, handoff
    reason, agent, first response and resolution seconds, rating, contained), streamed."""
    period = _period(first, to, tz)
    db: Database = request.app.state.db

    def body() -> Iterator[str]:
        with db.read() as session:
            yield from stream_csv(service.conversation_rows(session, period))

    filename = f"conversations-{period.first.isoformat()}-{period.last.isoformat()}.csv"
    return StreamingResponse(body(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})
