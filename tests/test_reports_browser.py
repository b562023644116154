"""The /reports page in Chromium (Debian's, via Playwright): an admin signs in, sees the scripted day's figures
in Asia/Tokyo, clicks a CSAT bar and a heatmap cell through to the conversations behind them, and downloads the
CSV; an agent is told reports are for admins. Screenshot: docs/screenshots/reports.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import NEEDS_CHROMIUM, Dialogs, browser_fixture, new_page, shot, sign_in
from chat_support import LiveServer, make_app
from reports_support import Clock, scripted_day

from bot.auth.service import DEMO_PASSWORD

pytestmark = NEEDS_CHROMIUM
browser = browser_fixture()

QUERY = "?from=2026-03-03&to=2026-03-03&tz=Asia/Tokyo"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    app = make_app(tmp_path_factory.mktemp("reports-browser"), demo=True)
    with pytest.MonkeyPatch.context() as mp, LiveServer(app) as live:
        ids = scripted_day(live.http, live.ws, Clock(mp))
        yield {"http": live.http, "ids": ids}


def _click_bar(page: Any, chart: str, index: int) -> None:
    """Click the centre of bar ``index`` of a Chart.js chart (canvas coordinates from the chart itself)."""
    x, y = page.evaluate(
        "([c, i]) => { const p = window.borderlessReports[c].getDatasetMeta(0).data[i].getCenterPoint();"
        " return [p.x, p.y]; }", [chart, index])
    page.locator(f"#{chart}").click(position={"x": x, "y": y})


def test_admin_reads_reports_and_clicks_through(server: dict[str, Any], browser: Any) -> None:
    dialogs = Dialogs()
    ctx, page = new_page(browser, "en-US", dialogs, 1400, 1000, accept_downloads=True)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    try:
        response = page.goto(server["http"] + "/reports" + QUERY)
        assert "script-src 'self'" in response.headers["content-security-policy"]  # no inline script allowed
        sign_in(page, server["http"] + "/reports" + QUERY, "admin", DEMO_PASSWORD, "Admin")
        page.locator("body[data-loaded=true]").wait_for()
        assert page.locator("#tz").input_value() == "Asia/Tokyo"
        assert page.locator(".kpi", has_text="Conversations").locator(".value").inner_text() == "4"
        assert page.locator(".kpi", has_text="Bot-resolved").locator(".value").inner_text() == "33.3%"
        assert page.locator(".kpi", has_text="CSAT").locator(".value").inner_text() == "3.67 (3)"
        assert page.evaluate("window.borderlessReports.csat.data.labels") == ["EN", "ES"]
        assert page.evaluate("window.borderlessReports.trend.data.labels") == ["2026-03-03"]

        _click_bar(page, "csat", 1)  # the Spanish bar: conversation B
        page.locator("#drill-title", has_text="rated, in es (1)").wait_for()
        assert page.locator("#drill-table tr[data-id]").evaluate_all("rows => rows.map(r => r.dataset.id)") == [
            server["ids"]["B"]]

        cell = page.locator("#heatmap button[data-weekday='1'][data-hour='8']")  # Tuesday 8:00 in Tokyo
        assert cell.inner_text() == "2"
        cell.click()
        page.locator("#drill-title", has_text="Tue 8:00 (2)").wait_for()
        assert page.locator("#drill-table tr[data-id]").evaluate_all("rows => rows.map(r => r.dataset.id)") == [
            server["ids"]["A"], server["ids"]["B"]]
        page.locator("#reasons button", has_text="engine error").click()
        page.locator("#drill-title", has_text="handed off: engine_error (1)").wait_for()
        shot(page, "reports.png", full_page=True)

        with page.expect_download() as download:
            page.locator("#csv").click()
        text = Path(download.value.path()).read_text(encoding="utf-8")
        assert text.splitlines()[0].startswith("id,started,language") and len(text.splitlines()) == 5
        assert errors == [] and dialogs.seen == []
    finally:
        ctx.close()


def test_agents_are_told_reports_are_for_admins(server: dict[str, Any], browser: Any) -> None:
    ctx, page = new_page(browser, "en-US", Dialogs())
    try:
        sign_in(page, server["http"] + "/reports" + QUERY, "ana", DEMO_PASSWORD, "Ana")
        page.locator("#forbidden").wait_for()
        assert page.locator(".kpi").count() == 0
    finally:
        ctx.close()
