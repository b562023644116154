"""Response shapes of ``/api/reports`` (OpenAPI)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Figures(BaseModel):
    conversations: int
    could_hand_off: int = Field(description="Conversations where the bot decided at least once (or handed off).")
    bot_resolved: int
    bot_resolved_rate: float | None = Field(description="Containment: no handoff and not reopened within 7 days, "
                                                        "over could_hand_off.")
    handed_off: int
    handoff_rate: float | None
    handoff_reasons: dict[str, int] = Field(description="Handed-off conversations by their first handoff's reason.")
    first_response_seconds_p50: float | None = Field(description="Median of the agent's first reply after handoff.")
    resolution_seconds_p50: float | None = Field(description="Median time from start to resolution.")
    csat_avg: float | None
    csat_count: int


class DayFigures(BaseModel):
    """One day of the trend (in tz): counts and rates; medians and reasons are period-wide only."""

    date: str
    conversations: int
    could_hand_off: int
    bot_resolved: int
    bot_resolved_rate: float | None
    handed_off: int
    handoff_rate: float | None
    csat_avg: float | None
    csat_count: int


class MissedGroup(BaseModel):
    text: str
    count: int
    languages: dict[str, int]
    reasons: dict[str, int]


class Overview(Figures):
    from_: str = Field(alias="from")
    to: str
    tz: str
    by_language: dict[str, Figures]
    by_hour: list[list[int]] = Field(description="7 x 24 conversation starts: weekday (0 = Monday) x hour, in tz.")
    by_day: list[DayFigures]
    top_missed: list[MissedGroup]


class ConversationRow(BaseModel):
    id: str
    started: str
    language: str
    first_intent: str | None
    first_topic: str | None
    handoff_reason: str | None
    agent: str | None
    first_response_seconds: float | None
    resolution_seconds: float | None
    rating: int | None
    contained: bool | None
