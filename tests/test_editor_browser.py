"""End to end in a real browser (Debian chromium via Playwright; never ``playwright install``):

1. an editor logs in on /editor, adds an entry in English and Spanish, tries it with "test your change",
   publishes it, and a shopper's widget gets that answer at once: same server, no restart;
2. a question the bot misses, asked in three languages, shows up as one group on the editor's page; turning the
   group into an entry (answers written in the form) makes the same questions answerable.

Skipped without /usr/bin/chromium or the playwright package. Screenshots go to docs/screenshots/editor-*.png.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from browser_support import NEEDS_CHROMIUM, Dialogs, W, browser_fixture, new_page, open_widget, shot, sign_in
from chat_support import LiveServer
from editor_support import editor_settings, private_models_dir

from bot.app import create_app

XSS = "<img src=x onerror=alert(1)>"

pytestmark = NEEDS_CHROMIUM
browser = browser_fixture()

GIFT_EN = "do you sell gift cards?"
GIFT_ES = "¿venden tarjetas regalo?"
STORE = {"en-US": "do you have a physical store I can visit?",
         "es-ES": "¿tienen una tienda física que pueda visitar?",
         "fr-FR": "avez-vous un magasin physique à visiter ?"}
STORE_ANSWERS = {"en": "We only sell online, so there is no store to visit.",
                 "es": "Solo vendemos en línea, así que no hay tienda que visitar.",
                 "fr": "Nous vendons uniquement en ligne : pas de magasin à visiter."}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("editor-e2e")
    settings = editor_settings(root / "data", models_dir=private_models_dir(root / "models"),
                               engine_factory="bot.editor.live:build_engine")
    app = create_app(settings)  # the server's own engine factory: built from the database at startup
    with LiveServer(app) as live:
        deadline = time.monotonic() + 240
        while httpx.get(f"{live.http}/healthz", timeout=10).json()["engine"] != "ready":
            assert time.monotonic() < deadline, "answer engine not ready"
            time.sleep(0.3)
        yield live.http


def _page(browser: Any, locale: str, dialogs: Dialogs, width: int = 1400, height: int = 900) -> tuple[Any, Any]:
    return new_page(browser, locale, dialogs, width, height, timeout_ms=30_000, accept_downloads=True)


def _ask_widget(browser: Any, server: str, locale: str, text: str, dialogs: Dialogs, expect: str | None = None
                ) -> str:
    """A new shopper (fresh browser context) asks one question in the widget; returns the bot's reply."""
    ctx, shop = _page(browser, locale, dialogs, 1100, 800)
    try:
        shop.goto(f"{server}/demo")
        open_widget(shop)
        box = shop.locator(f"{W} textarea")
        box.fill(text)
        box.press("Enter")
        reply = shop.locator(f"{W} .row.bot .bubble", has_text=expect) if expect else \
            shop.locator(f"{W} .row.bot .bubble").last
        reply.first.wait_for()
        return reply.first.inner_text()
    finally:
        ctx.close()


def _login_editor(page: Any, server: str) -> None:
    sign_in(page, f"{server}/editor", "editor", "borderless-demo", "Eddie")
    page.locator("#entry-list .item").first.wait_for()


def test_editor_publishes_and_the_widget_answers_without_restart(server: str, browser: Any) -> None:
    dialogs = Dialogs()
    before = _ask_widget(browser, server, "es-ES", GIFT_ES, dialogs)
    assert "tarjetas regalo de" not in before

    ctx, page = _page(browser, "en-GB", dialogs)
    try:
        _login_editor(page, server)
        page.locator("#new-entry").click()
        page.locator("#entry-id").fill("gift-cards")
        page.locator("#entry-topic").fill("payments")
        page.locator("#answer-en").fill("Yes: gift cards from 10 to 200 euros, sent by email.")
        page.locator("#questions-en").fill(f"{GIFT_EN}\ncan I buy a gift card\ngift voucher")
        page.locator("#add-locale").select_option("es")
        page.locator("#answer-es").fill("Sí: tarjetas regalo de 10 a 200 euros, enviadas por email.")
        page.locator("#questions-es").fill(f"{GIFT_ES}\n¿puedo comprar una tarjeta regalo?")
        page.locator("#save").click()
        page.locator("#entry-status", has_text="Draft").wait_for()
        page.locator("#entry-version", has_text="version 1").wait_for()

        # Test your change: the draft answers, what is published does not (yet).
        page.locator("#test-text").fill("¿Venden tarjetas de regalo?")
        page.locator("#test-scope").select_option("entry")
        page.locator("#test-run").click()
        page.locator("#test-draft", has_text="gift-cards").wait_for()
        assert "tarjetas regalo de 10 a 200" in page.locator("#test-draft").inner_text()
        assert "tarjetas regalo de 10 a 200" not in page.locator("#test-published").inner_text()
        shot(page, "editor-entry.png", full_page=True)

        page.locator("#publish").click()
        page.locator("#entry-status", has_text="Published").wait_for()
    finally:
        ctx.close()

    # The shopper's widget gets the new answer from the same running server.
    assert "tarjetas regalo de 10 a 200" in _ask_widget(browser, server, "es-ES", GIFT_ES, dialogs,
                                                        expect="tarjetas regalo")
    assert "gift cards from 10 to 200" in _ask_widget(browser, server, "en-US", GIFT_EN, dialogs,
                                                      expect="gift cards")
    assert dialogs.seen == []


def test_missed_questions_in_three_languages_become_one_group_then_an_answer(server: str, browser: Any) -> None:
    dialogs = Dialogs()
    for locale, text in STORE.items():
        reply = _ask_widget(browser, server, locale, text, dialogs)
        assert not any(a in reply for a in STORE_ANSWERS.values())
    _ask_widget(browser, server, "en-US", XSS, dialogs)  # hostile text must show as text on the editor's page

    ctx, page = _page(browser, "en-GB", dialogs)
    try:
        _login_editor(page, server)
        page.locator("#nav-missed").click()
        group = page.locator("#missed-groups .group", has_text=STORE["en-US"])
        group.wait_for()
        assert group.locator(".count.big").inner_text() == "3"
        chips = group.locator(".chips").inner_text().lower()
        assert all(lang in chips for lang in ("en 1", "es 1", "fr 1")), chips
        for text in STORE.values():
            group.locator(".examples", has_text=text).wait_for()
        page.locator("#missed-groups", has_text=XSS).wait_for()
        assert page.locator("#missed-groups img").count() == 0
        shot(page, "editor-missed.png", full_page=True)

        group.locator("input.new-id").fill("physical-store")
        group.locator("input.new-topic").fill("company")
        group.locator("button.to-entry").click()
        page.locator("#entry-id").wait_for()
        assert page.locator("#entry-id").input_value() == "physical-store"
        for loc, answer in STORE_ANSWERS.items():
            page.locator(f"#tab-{loc}").click()
            assert page.locator(f"#questions-{loc}").input_value() != ""
            page.locator(f"#answer-{loc}").fill(answer)
        page.locator("#save").click()
        page.locator("#entry-version", has_text="version 2").wait_for()
        page.locator("#publish").click()
        page.locator("#entry-status", has_text="Published").wait_for()

        page.locator("#nav-completeness").click()
        cell = page.locator('#grid td[data-entry="physical-store"][data-locale="de"]')
        assert cell.get_attribute("data-state") == "missing"
        shot(page, "editor-completeness.png", full_page=True)
    finally:
        ctx.close()

    for locale, text in STORE.items():
        answer = STORE_ANSWERS[locale[:2]]
        assert answer in _ask_widget(browser, server, locale, text, dialogs, expect=answer[:20])
    assert dialogs.seen == []


def test_a_conflicting_save_is_reported_and_merged_without_losing_either_edit(server: str, browser: Any) -> None:
    dialogs = Dialogs()
    ctx, page = _page(browser, "en-GB", dialogs)
    try:
        _login_editor(page, server)
        page.locator("#entry-list .item", has_text="size-guide").click()
        page.locator("#entry-id").wait_for()
        version = int(page.locator("#entry-version").inner_text().split()[-1])

        # Meanwhile another editor (the admin, through the API) changes the Spanish answer.
        token = httpx.post(f"{server}/api/auth/login", json={"username": "admin", "password": "borderless-demo"},
                           timeout=10).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        theirs = httpx.get(f"{server}/api/editor/entries/size-guide", headers=headers, timeout=10).json()
        theirs["locales"]["es"]["answer"] = "Respuesta nueva del admin."
        httpx.put(f"{server}/api/editor/entries/size-guide", headers={**headers, "If-Match": f'"{version}"'},
                  json={"topic": theirs["topic"], "locales": theirs["locales"]}, timeout=10).raise_for_status()

        page.locator("#answer-en").fill("My new English answer.")
        page.locator("#save").click()
        page.locator("#conflict", has_text="changed by admin").wait_for()
        page.locator("#conflict-merge").click()
        page.locator("#entry-version", has_text=f"version {version + 1}").wait_for()
        assert page.locator("#answer-en").input_value() == "My new English answer."
        page.locator("#tab-es").click()
        assert page.locator("#answer-es").input_value() == "Respuesta nueva del admin."
        page.locator("#save").click()
        page.locator("#entry-version", has_text=f"version {version + 2}").wait_for()
    finally:
        ctx.close()
    final = httpx.get(f"{server}/api/editor/entries/size-guide", headers=headers, timeout=10).json()
    assert final["locales"]["en"]["answer"] == "My new English answer."
    assert final["locales"]["es"]["answer"] == "Respuesta nueva del admin."
    assert dialogs.seen == []
