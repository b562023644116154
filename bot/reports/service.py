"""Report figures over a date range in the viewer's time zone, computed from ``report_conversations``.

One pass over the range's summary rows (times are epoch seconds, so no per-row datetime parsing) gives the
overall figures, the same figures per shopper language and the weekday x hour grid; 100k conversations take
well under a second (bench/reports_bench.py). Definitions (docs/privacy.md, "Reports"):

- a conversation belongs to the day (in ``tz``) it started;
- it *could hand off* once the bot decided at least once (or it was handed off);
- it is *contained* (bot-resolved) when it could hand off, was never handed off and was not reopened within
  7 days; ``bot_resolved_rate`` and ``handoff_rate`` are over the conversations that could hand off;
- ``handoff_reasons`` counts each handed-off conversation once, by its first handoff's reason;
- first response: the agent's first reply after the first handoff; resolution: from start to first resolve;
- CSAT: the latest rating of each rated conversation.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Integer, Select, and_, case, cast, exists, func, not_, or_, select
from sqlalchemy.orm import Session

from bot.auth.models import User
from bot.editor.content import fold
from bot.editor.models import MissedQuestion
from bot.reports.models import ReportConversation

REOPEN_WINDOW_SECONDS = 7 * 24 * 3600
MAX_RANGE_DAYS = 3660
MIN_YEAR, MAX_YEAR = 1970, 9000
TOP_MISSED = 10
C = ReportConversation
COLUMNS = (C.conversation_id, C.started_at, C.lang, C.bot_decisions, C.handoffs, C.handoff_reason, C.handoff_at,
           C.first_reply_at, C.resolved_at, C.reopened_at, C.rating, C.first_intent, C.first_topic, C.agent_id)


class ReportError(ValueError):
    """A bad range or time zone: ``code`` and a human ``message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Period:
    """``[start, end)`` in epoch seconds: from the first day's midnight to the day after the last, in ``tz``."""

    first: date
    last: date
    tz: ZoneInfo

    @classmethod
    def parse(cls, first: str, last: str, tz: str) -> Period:
        try:
            zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ReportError("bad_timezone", f"unknown time zone {tz[:60]!r}; use an IANA name such as "
                                              "Europe/Madrid") from None
        try:
            start, end = date.fromisoformat(first), date.fromisoformat(last)
        except ValueError:
            raise ReportError("bad_date", "from and to are dates: YYYY-MM-DD") from None
        if end < start:
            raise ReportError("bad_range", "to is before from")
        if start.year < MIN_YEAR or end.year > MAX_YEAR:
            raise ReportError("bad_range", f"dates are between {MIN_YEAR} and {MAX_YEAR}")
        if (end - start).days > MAX_RANGE_DAYS:
            raise ReportError("bad_range", f"a report covers at most {MAX_RANGE_DAYS} days")
        return cls(start, end, zone)

    @property
    def start(self) -> float:
        return datetime.combine(self.first, time(), self.tz).timestamp()

    @property
    def end(self) -> float:
        return datetime.combine(self.last + timedelta(days=1), time(), self.tz).timestamp()

    def local(self, ts: float) -> datetime:
        return datetime.fromtimestamp(ts, UTC).astimezone(self.tz)


def contained(handoffs: int, bot_decisions: int, resolved_at: float | None, reopened_at: float | None,
              started_at: float) -> bool | None:
    """True/False for a conversation that could hand off; None for one that could not (no bot decision)."""
    if not bot_decisions and not handoffs:
        return None
    if handoffs:
        return False
    return not (reopened_at is not None and reopened_at - (resolved_at or started_at) <= REOPEN_WINDOW_SECONDS)


@dataclass
class _Figures:
    """Sums of one slice (everything, a language, a day) and the durations whose medians it reports."""

    conversations: int = 0
    eligible: int = 0
    contained: int = 0
    handed: int = 0
    rating_sum: int = 0
    rating_count: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    first_response: list[float] = field(default_factory=list)
    resolution: list[float] = field(default_factory=list)

    def add_sums(self, sums: Any) -> None:
        n, eligible, kept, handed, rating_sum, rating_count = (int(v or 0) for v in sums)
        self.conversations += n
        self.eligible += eligible
        self.contained += kept
        self.handed += handed
        self.rating_sum += rating_sum
        self.rating_count += rating_count

    def to_json(self, durations: bool = True) -> dict[str, Any]:
        def rate(n: int) -> float | None:
            return round(n / self.eligible, 4) if self.eligible else None

        def p50(values: list[float]) -> float | None:
            return round(statistics.median(values), 1) if values else None

        out: dict[str, Any] = {
            "conversations": self.conversations,
            "could_hand_off": self.eligible,
            "bot_resolved": self.contained,
            "bot_resolved_rate": rate(self.contained),
            "handed_off": self.handed,
            "handoff_rate": rate(self.handed),
        }
        if durations:
            out.update({
                "handoff_reasons": dict(sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
                "first_response_seconds_p50": p50(self.first_response),
                "resolution_seconds_p50": p50(self.resolution),
            })
        out["csat_avg"] = round(self.rating_sum / self.rating_count, 2) if self.rating_count else None
        out["csat_count"] = self.rating_count
        return out


def _where(period: Period, store_key: str | None = None) -> list[Any]:
    conditions = [C.started_at >= period.start, C.started_at < period.end]
    return conditions + [C.store_key == store_key] if store_key else conditions


def _in_period(period: Period, store_key: str | None = None) -> Select[Any]:
    return select(*COLUMNS).where(*_where(period, store_key))


def _sums() -> tuple[Any, ...]:
    """conversations, could hand off, contained, handed off, rating sum, ratings: the rules of
    :func:`contained` in SQL, so the database adds up 100k rows instead of Python."""
    reopened = and_(C.reopened_at.is_not(None),
                    C.reopened_at - func.coalesce(C.resolved_at, C.started_at) <= REOPEN_WINDOW_SECONDS)
    eligible = case((or_(C.bot_decisions > 0, C.handoffs > 0), 1), else_=0)
    kept = case((and_(C.handoffs == 0, C.bot_decisions > 0, not_(reopened)), 1), else_=0)
    handed = case((C.handoffs > 0, 1), else_=0)
    return (func.count(), func.sum(eligible), func.sum(kept), func.sum(handed), func.sum(C.rating),
            func.count(C.rating))


def _quarter(session: Session) -> Any:
    """The quarter-hour since the epoch of a conversation's start (UTC offsets are whole quarter hours)."""
    if session.get_bind().dialect.name == "sqlite":
        return cast(C.started_at / 900, Integer)  # truncates, and started_at is positive
    return func.floor(C.started_at / 900)


def overview(session: Session, period: Period, store_key: str | None = None) -> dict[str, Any]:
    """Every figure of ``GET /api/reports/overview`` (module docstring for the definitions).

    The database sums per language and per quarter hour; Python only maps quarter hours to local weekdays,
    hours and days in ``tz`` and takes the medians of the handed-off conversations' durations.
    """
    where = _where(period, store_key)
    total = _Figures()
    by_lang: dict[str, _Figures] = {}
    # Three scans of the covering index: sums per language and handoff reason, sums per quarter hour, and the
    # durations of the conversations that have one.
    for lang, reason, *sums in session.execute(
        select(C.lang, C.handoff_reason, *_sums()).where(*where).group_by(C.lang, C.handoff_reason)
    ):
        figures = by_lang.setdefault(lang, _Figures())
        for target in (figures, total):
            target.add_sums(sums)
            if sums[3]:
                target.reasons[reason or "handoff"] += int(sums[3])
    for lang, first_response, resolution in session.execute(
        select(C.lang, C.first_reply_at - C.handoff_at, C.resolved_at - C.started_at)
        .where(*where, or_(C.first_reply_at.is_not(None), C.resolved_at.is_not(None)))
    ):
        for target in (by_lang[lang], total):
            if first_response is not None:
                target.first_response.append(first_response)
            if resolution is not None:
                target.resolution.append(resolution)

    by_hour = [[0] * 24 for _ in range(7)]
    by_day: dict[str, _Figures] = {}
    quarter = _quarter(session)
    for q, *sums in session.execute(select(quarter, *_sums()).where(*where).group_by(quarter)):
        local = period.local(int(q) * 900)
        by_hour[local.weekday()][local.hour] += int(sums[0])
        by_day.setdefault(local.date().isoformat(), _Figures()).add_sums(sums)

    out = total.to_json()
    out.update({"from": period.first.isoformat(), "to": period.last.isoformat(), "tz": period.tz.key})
    out["by_language"] = {lang: figures.to_json() for lang, figures in sorted(by_lang.items())}
    out["by_hour"] = by_hour
    out["by_day"] = [{"date": day, **by_day[day].to_json(durations=False)} for day in _days(period) if day in by_day]
    out["top_missed"] = top_missed(session, period)
    return out


def _days(period: Period) -> Iterator[str]:
    day = period.first
    while day <= period.last:
        yield day.isoformat()
        day += timedelta(days=1)


def top_missed(session: Session, period: Period, limit: int = TOP_MISSED) -> list[dict[str, Any]]:
    """The largest groups of missed questions of the period's conversations (same wording, case and accents
    folded). The editor groups paraphrases across languages with embeddings (``/api/editor/missed/groups``);
    a report needs no model, so it groups wordings.
    """
    rows = session.execute(
        select(MissedQuestion.text, MissedQuestion.lang, MissedQuestion.reason)
        # EXISTS, not JOIN: the database walks the (few) missed questions and looks each conversation up by key,
        # instead of walking every conversation of the period.
        .where(exists().where(C.conversation_id == MissedQuestion.conversation_id, *_where(period)))
        .limit(50_000)
    ).all()
    groups: dict[str, dict[str, Any]] = {}
    for text, lang, reason in rows:
        key = fold(" ".join(text.split()))[:300]
        group = groups.get(key)
        if group is None:
            group = groups[key] = {"text": text, "count": 0, "languages": Counter(), "reasons": Counter()}
        group["count"] += 1
        group["languages"][lang] += 1
        group["reasons"][reason] += 1
    top = sorted(groups.values(), key=lambda g: (-g["count"], g["text"]))[:limit]
    return [{"text": g["text"], "count": g["count"], "languages": dict(g["languages"].most_common()),
             "reasons": dict(g["reasons"].most_common())} for g in top]


# ---------------------------------------------------------------------------------------------- rows
@dataclass(frozen=True)
class Filters:
    """Which conversations of the period a chart's click-through lists."""

    lang: str | None = None
    day: str | None = None
    weekday: int | None = None
    hour: int | None = None
    handed_off: bool | None = None
    contained: bool | None = None
    rated: bool | None = None
    reason: str | None = None


CSV_HEADER = ("id", "started", "language", "first_intent", "first_topic", "handoff_reason", "agent",
              "first_response_seconds", "resolution_seconds", "rating", "contained")


def conversation_rows(session: Session, period: Period, filters: Filters = Filters(), limit: int | None = None,
                      batch: int = 2000) -> Iterator[dict[str, Any]]:
    """One dict per conversation of the period (oldest first), streamed in batches of ``batch`` rows."""
    agents = dict(session.execute(select(User.id, User.username)).all())
    query = _in_period(period).order_by(C.started_at, C.conversation_id)
    if filters.lang:
        query = query.where(C.lang == filters.lang)
    if filters.handed_off is not None:
        query = query.where(C.handoffs > 0 if filters.handed_off else C.handoffs == 0)
    if filters.rated is not None:
        query = query.where(C.rating.is_not(None) if filters.rated else C.rating.is_(None))
    if filters.reason:
        query = query.where(C.handoff_reason == filters.reason)
    emitted = 0
    for row in session.execute(query.execution_options(yield_per=batch)):
        local = period.local(row.started_at)
        if filters.day and local.date().isoformat() != filters.day:
            continue
        if filters.weekday is not None and local.weekday() != filters.weekday:
            continue
        if filters.hour is not None and local.hour != filters.hour:
            continue
        verdict = contained(row.handoffs, row.bot_decisions, row.resolved_at, row.reopened_at, row.started_at)
        if filters.contained is not None and verdict is not filters.contained:
            continue
        first_response = (row.first_reply_at - row.handoff_at
                          if row.first_reply_at is not None and row.handoff_at is not None else None)
        yield {
            "id": row.conversation_id,
            "started": local.isoformat(timespec="seconds"),
            "language": row.lang,
            "first_intent": row.first_intent,
            "first_topic": row.first_topic,
            "handoff_reason": row.handoff_reason,
            "agent": agents.get(row.agent_id) if row.agent_id is not None else None,
            "first_response_seconds": None if first_response is None else round(first_response, 1),
            "resolution_seconds": None if row.resolved_at is None else round(row.resolved_at - row.started_at, 1),
            "rating": row.rating,
            "contained": verdict,
        }
        emitted += 1
        if limit is not None and emitted >= limit:
            return

