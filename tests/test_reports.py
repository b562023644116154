"""Reports through a real server: a scripted day of conversations (answers, handoffs, claims, replies,
ratings, a reopen) at set times; every overview figure and CSV column checked against hand-computed values in
UTC, Asia/Tokyo and America/New_York; admins only; formulas neutralised in the CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from chat_support import LiveServer, auth, database_url_for, login, make_app
from reports_support import Clock, scripted_day

from bot.auth.service import DEMO_PASSWORD
from bot.nlu.base import Decision
from bot.reports.csv_export import cell


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def day(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The scripted day over SQLite and over PostgreSQL (Debian's binaries in a temp dir; skipped without)."""
    data_dir = tmp_path_factory.mktemp("reports")
    app = make_app(data_dir, demo=True, database_url=database_url_for(request.param, data_dir))
    with pytest.MonkeyPatch.context() as mp, LiveServer(app) as live:
        ids = scripted_day(live.http, live.ws, Clock(mp))
        admin = auth(login(live.http, "admin", DEMO_PASSWORD))
        yield {"http": live.http, "ids": ids, "admin": admin, "app": app}


def get(day: dict[str, Any], path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.get(day["http"] + path, headers=headers if headers is not None else day["admin"], timeout=30)


def overview(day: dict[str, Any], first: str, last: str, tz: str) -> dict[str, Any]:
    r = get(day, f"/api/reports/overview?from={first}&to={last}&tz={tz}")
    assert r.status_code == 200, r.text
    return r.json()


FIGURES = ("conversations", "could_hand_off", "bot_resolved", "bot_resolved_rate", "handed_off", "handoff_rate",
           "handoff_reasons", "first_response_seconds_p50", "resolution_seconds_p50", "csat_avg", "csat_count")
EN = dict(zip(FIGURES, (2, 2, 1, 0.5, 1, 0.5, {"engine_error": 1}, 600.0, 1200.0, 4.5, 2), strict=True))
ES = dict(zip(FIGURES, (1, 1, 0, 0.0, 1, 1.0, {"human_request": 1}, 180.0, 600.0, 2.0, 1), strict=True))
FR = dict(zip(FIGURES, (1, 0, 0, None, 0, None, {}, None, None, None, 0), strict=True))
ALL = dict(zip(FIGURES, (4, 3, 1, 0.3333, 2, 0.6667, {"human_request": 1, "engine_error": 1}, 390.0, 900.0, 3.67,
                         3), strict=True))


def grid(*cells: tuple[int, int, int]) -> list[list[int]]:
    out = [[0] * 24 for _ in range(7)]
    for weekday, hour, n in cells:
        out[weekday][hour] = n
    return out


def test_overview_in_utc(day: dict[str, Any]) -> None:
    o = overview(day, "2026-03-02", "2026-03-03", "UTC")
    assert {k: o[k] for k in FIGURES} == ALL
    assert o["by_language"] == {"en": EN, "es": ES, "fr": FR}
    assert o["by_hour"] == grid((0, 23, 2), (1, 1, 1), (1, 12, 1))  # Monday 23h: A, B; Tuesday 1h: C, 12h: D
    assert [(d["date"], d["conversations"]) for d in o["by_day"]] == [("2026-03-02", 2), ("2026-03-03", 2)]
    assert o["top_missed"] == [{"text": "which size", "count": 1, "languages": {"en": 1},
                                "reasons": {"clarify": 1}}]
    only_3rd = overview(day, "2026-03-03", "2026-03-03", "UTC")  # C and D
    assert {k: only_3rd[k] for k in FIGURES} == dict(zip(FIGURES, (2, 1, 0, 0.0, 1, 1.0, {"engine_error": 1}, 600.0,
                                                                   1200.0, 4.0, 1), strict=True))


def test_overview_in_tokyo_and_new_york(day: dict[str, Any]) -> None:
    tokyo = overview(day, "2026-03-03", "2026-03-03", "Asia/Tokyo")  # +9: all four on Tuesday the 3rd
    assert {k: tokyo[k] for k in FIGURES} == ALL
    assert tokyo["by_hour"] == grid((1, 8, 2), (1, 10, 1), (1, 21, 1))
    assert [d["date"] for d in tokyo["by_day"]] == ["2026-03-03"]
    assert overview(day, "2026-03-02", "2026-03-02", "Asia/Tokyo")["conversations"] == 0

    ny = overview(day, "2026-03-02", "2026-03-02", "America/New_York")  # -5: A, B, C on Monday the 2nd
    assert {k: ny[k] for k in FIGURES} == {**ALL, "conversations": 3}
    assert ny["by_language"] == {"en": EN, "es": ES}
    assert ny["by_hour"] == grid((0, 18, 2), (0, 20, 1))


def test_csv_has_one_hand_computed_row_per_conversation(day: dict[str, Any]) -> None:
    ids = day["ids"]
    r = get(day, "/api/reports/conversations.csv?from=2026-03-02&to=2026-03-02&tz=America/New_York")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows == [
        ["id", "started", "language", "first_intent", "first_topic", "handoff_reason", "agent",
         "first_response_seconds", "resolution_seconds", "rating", "contained"],
        [ids["A"], "2026-03-02T18:30:00-05:00", "en", "faq_question", "faq_question", "", "", "", "", "5", "true"],
        [ids["B"], "2026-03-02T18:40:00-05:00", "es", "human_request", "human_request", "human_request", "ana",
         "180.0", "600.0", "2", "false"],
        [ids["C"], "2026-03-02T20:00:00-05:00", "en", "faq_question", "faq_question", "engine_error", "ana",
         "600.0", "1200.0", "4", "false"],
    ]
    tokyo = list(csv.DictReader(io.StringIO(get(day, "/api/reports/conversations.csv?from=2026-03-03&to=2026-03-03"
                                                     "&tz=Asia/Tokyo").text)))
    assert [(row["id"], row["started"], row["contained"]) for row in tokyo] == [
        (ids["A"], "2026-03-03T08:30:00+09:00", "true"), (ids["B"], "2026-03-03T08:40:00+09:00", "false"),
        (ids["C"], "2026-03-03T10:00:00+09:00", "false"), (ids["D"], "2026-03-03T21:00:00+09:00", "")]


def test_the_conversations_behind_a_chart(day: dict[str, Any]) -> None:
    ids = day["ids"]
    base = "/api/reports/conversations?from=2026-03-03&to=2026-03-03&tz=Asia/Tokyo"
    cell_rows = get(day, base + "&weekday=1&hour=8").json()
    assert [r["id"] for r in cell_rows] == [ids["A"], ids["B"]]
    assert [r["id"] for r in get(day, base + "&lang=en&contained=false").json()] == [ids["C"]]
    assert [r["id"] for r in get(day, base + "&handed_off=true&reason=human_request").json()] == [ids["B"]]
    assert [r["id"] for r in get(day, base + "&rated=true&lang=es").json()] == [ids["B"]]


def test_admins_only_and_clear_errors(day: dict[str, Any]) -> None:
    agent = auth(login(day["http"], "ana", DEMO_PASSWORD))
    for path in ("/api/reports/overview", "/api/reports/conversations.csv", "/api/reports/conversations"):
        query = path + "?from=2026-03-02&to=2026-03-03&tz=UTC"
        assert get(day, query, agent).status_code == 403
        assert get(day, query, {}).status_code == 401
    bad_tz = get(day, "/api/reports/overview?from=2026-03-02&to=2026-03-03&tz=Mars/Olympus")
    assert bad_tz.status_code == 422 and "bad_timezone" in bad_tz.text
    backwards = get(day, "/api/reports/overview?from=2026-03-03&to=2026-03-02&tz=UTC")
    assert backwards.status_code == 422 and "bad_range" in backwards.text
    assert get(day, "/api/reports/overview?from=March&to=2026-03-02").status_code == 422
    far = get(day, "/api/reports/overview?from=9999-12-30&to=9999-12-31&tz=America/New_York")
    assert far.status_code == 422 and far.json()["error"]["code"] == "bad_range"


def test_formula_cells_are_neutralised(tmp_path: Path) -> None:
    assert [cell(v) for v in ("=1+1", "+49 170", "-2", "@SUM(A1)", "plain", 5, -3.5, None, True)] == [
        "'=1+1", "'+49 170", "'-2", "'@SUM(A1)", "plain", "5", "-3.5", "", "true"]
    app = make_app(tmp_path, demo=True)
    chat = app.state.chat.chat
    opened = chat.open("demo", None, None, "en")
    stored = chat.add_shopper_message(opened.conversation_id, "c1", "hi")
    chat.record_decision(opened.conversation_id, stored.message_id,
                         Decision(lang="en", intent="=cmd|' /C calc'!A0", action="handoff", faq_id=None,
                                  confidence=0.1, reason="@SUM(1+1)", reply="..."), "+topic")
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        token = client.post("/api/auth/login", json={"username": "admin", "password": DEMO_PASSWORD}).json()["token"]
        today = opened_day(app, opened.conversation_id)
        text = client.get(f"/api/reports/conversations.csv?from={today}&to={today}&tz=UTC",
                          headers={"Authorization": f"Bearer {token}"}).text
    row = list(csv.DictReader(io.StringIO(text)))[0]
    assert (row["first_intent"], row["first_topic"], row["handoff_reason"]) == (
        "'=cmd|' /C calc'!A0", "'+topic", "'@SUM(1+1)")


def opened_day(app: Any, conversation_id: str) -> str:
    from datetime import UTC, datetime

    from bot.reports.models import ReportConversation

    with app.state.db.read() as session:
        started = session.get(ReportConversation, conversation_id).started_at
    return datetime.fromtimestamp(started, UTC).date().isoformat()
