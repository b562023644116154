"""What a first-time shopper, agent, editor and admin tripped over (issue 8, items 15-22), in a real browser.

One headless chromium (Debian's, through Playwright) and one real server in a thread (real database, sockets and
pages) with a scripted engine: these tests are about the pages, not the answers. Screenshots go to
docs/screenshots/ux-*.png.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from browser_support import NEEDS_CHROMIUM, REPO, Dialogs, W, browser_fixture, new_page, open_widget, shot, sign_in
from chat_support import PASSWORD, FakeEngine, LiveServer, Shopper, add_user, auth, login, make_app

from bot.i18n import bundle
from bot.knowledge.files import load
from bot.nlu.base import ConversationContext, Decision, Turn

pytestmark = NEEDS_CHROMIUM
browser = browser_fixture()

ANA = {"username": "ana", "name": "Ana", "languages": "es,en"}
KB = load(REPO / "knowledge_base")


class UxEngine(FakeEngine):
    """FakeEngine plus the two handoffs these tests need: "unsure" -> low confidence (a missed question), and a
    request for a person with the low confidence the real classifier often gives it (0.35)."""

    def respond(self, text: str, context: ConversationContext) -> Decision:
        low = text.lower()
        lang = "es" if ("¿" in text or "hola" in low or "persona" in low) else (context.lang or "en")
        if "unsure" in low or "regalo" in low:
            decision = Decision(lang=lang, intent="faq_question", action="handoff", faq_id=None, confidence=0.1,
                                reason="low_confidence", reply=f"[{lang}] a person will help")
        elif "persona" in low or "human" in low:
            decision = Decision(lang=lang, intent="human_request", action="handoff", faq_id=None, confidence=0.35,
                                reason="human_request", reply=f"[{lang}] connecting you to a person")
        else:
            return super().respond(text, context)
        context.lang = lang
        context.turns.append(Turn(lang=lang, action=decision.action, unresolved=True))
        return decision


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    app = make_app(tmp_path_factory.mktemp("ux"), engine=UxEngine(),
                   widget_popular="other=size-guide,no-such-entry,return-policy")
    add_user(app, "root", role="admin", name="Root")
    add_user(app, ANA["username"], languages=ANA["languages"], name=ANA["name"])
    add_user(app, "bo", languages="fr", name="Bo")
    add_user(app, "ed", role="editor", name="Ed")
    with LiveServer(app) as live:
        yield live


@pytest.fixture
def page_of(browser: Any) -> Iterator[Any]:
    """``page_of(locale, width=1280)``: a fresh context + page; all closed after the test."""
    contexts: list[Any] = []
    dialogs = Dialogs()

    def make(locale: str = "en-GB", width: int = 1280, height: int = 800) -> Any:
        ctx, page = new_page(browser, locale, dialogs, width, height, timeout_ms=10_000)
        contexts.append(ctx)
        return page

    yield make
    for ctx in contexts:
        ctx.close()
    assert dialogs.seen == []


def _say(page: Any, text: str) -> None:
    box = page.locator(f"{W} textarea")
    box.fill(text)
    box.press("Enter")
    page.locator(f"{W} .row.shopper:not(.pending) .bubble", has_text=text).last.wait_for()


def _shopper_in_queue(page: Any, base: str, text: str) -> str:
    """A shopper on /demo writes ``text`` (a handoff); returns the conversation id."""
    page.goto(f"{base}/demo")
    open_widget(page)
    _say(page, text)
    page.locator(f"{W} .row.bot .bubble").first.wait_for()
    return page.evaluate("() => JSON.parse(localStorage.getItem('borderless:demo:session')).conversation_id")


def _console(page: Any, base: str) -> Any:
    sign_in(page, f"{base}/console", ANA["username"], PASSWORD, ANA["name"])
    page.locator("#live-dot.on").wait_for()
    return page


def _claim(console: Any, conv_id: str) -> None:
    console.locator(f'#queue .queue-item[data-id="{conv_id}"] button.claim').click()
    console.locator("#conv-title", has_text=conv_id[:6]).wait_for()


# ---------------------------------------------------------------------------------------------- console (15, 19)
def test_console_switch_resets_to_reply_and_note_mode_is_unmistakable(server: Any, page_of: Any) -> None:
    first = _shopper_in_queue(page_of("es-ES"), server.http, "quiero hablar con una persona")
    second = _shopper_in_queue(page_of("es-ES"), server.http, "necesito una persona, por favor")
    console = _console(page_of(width=1360, height=860), server.http)
    _claim(console, first)
    console.locator(f'#queue .queue-item[data-id="{second}"]').wait_for()
    _claim(console, second)

    console.get_by_role("tab", name="Internal note").click()
    composer = console.locator("#composer")
    assert "note-mode" in (composer.get_attribute("class") or "")
    assert "NOT see" in console.locator("#compose-mode").inner_text()
    assert console.locator("#compose-send").inner_text() == "Add note"
    assert "internal note" in (console.locator("#compose-text").get_attribute("placeholder") or "").lower()
    note_bg = composer.evaluate("el => getComputedStyle(el).backgroundColor")
    console.locator("#compose-text").fill("VIP, be gentle")
    shot(console, "ux-console-note-mode.png")

    # Switch to the other conversation: back in Reply mode, with nothing half-written carried over.
    console.locator("#mine .mine-item", has_text=first[:6]).click()
    console.locator("#conv-title", has_text=first[:6]).wait_for()
    assert console.locator("#tab-reply").get_attribute("aria-selected") == "true"
    assert "note-mode" not in (composer.get_attribute("class") or "")
    assert composer.evaluate("el => getComputedStyle(el).backgroundColor") != note_bg
    assert console.locator("#compose-send").inner_text() == "Send"
    assert console.locator("#compose-text").input_value() == ""
    console.locator("#compose-text").fill("Hola, te escribo yo.")
    console.locator("#compose-text").press("Enter")
    console.locator("#timeline .msg.agent .bubble", has_text="te escribo yo").wait_for()
    token = login(server.http, "root", PASSWORD)
    detail = httpx.get(f"{server.http}/api/conversations/{first}", headers=auth(token)).json()
    assert [m["text"] for m in detail["messages"] if m["role"] == "agent"] == ["Hola, te escribo yo."]
    assert not detail.get("notes")

    # Back to the second: the unsent note did not come back as a reply; an unsent reply does come back.
    def switch(conv: str) -> None:
        console.locator("#mine .mine-item", has_text=conv[:6]).click()
        console.locator("#conv-title", has_text=conv[:6]).wait_for()

    switch(second)
    assert console.locator("#compose-text").input_value() == ""
    console.locator("#compose-text").fill("Un borrador")
    switch(first)
    assert console.locator("#compose-text").input_value() == ""
    switch(second)
    assert console.locator("#compose-text").input_value() == "Un borrador"
    assert console.locator("#tab-reply").get_attribute("aria-selected") == "true"


def test_console_says_why_honestly_and_can_release(server: Any, page_of: Any) -> None:
    shopper = page_of("es-ES")
    conv = _shopper_in_queue(shopper, server.http, "quiero hablar con una persona")
    console = _console(page_of(width=1360, height=860), server.http)
    item = console.locator(f'#queue .queue-item[data-id="{conv}"]')
    chip = item.locator(".chip.reason")
    assert chip.inner_text() == "asked for a person"
    assert "reason-asked" in (chip.get_attribute("class") or "")
    _claim(console, conv)
    decision = console.locator("#timeline .msg.bot .decision").last
    decision.wait_for()
    # The shopper's own choice is not painted as a bot failure: no red low-confidence pill.
    assert decision.locator(".lo").count() == 0
    assert "asked for a person" in decision.inner_text()
    red = decision.evaluate("el => [...el.querySelectorAll('.d')].some(d => getComputedStyle(d).backgroundColor"
                            " === 'rgb(254, 226, 226)')")
    assert red is False
    shot(console, "ux-console-reason.png")

    console.get_by_role("button", name="Release").click()
    console.locator("#toast", has_text="back in the queue").wait_for()
    console.locator(f'#queue .queue-item[data-id="{conv}"]').wait_for()
    assert console.locator("#mine .mine-item", has_text=conv[:6]).count() == 0
    shopper.locator(f"{W} .row.system .bubble", has_text=bundle("es")["agent_left"][:20]).wait_for()


# ---------------------------------------------------------------------------------------------- widget (16, 17, 18)
def _question(faq_id: str, lang: str) -> str:
    entry = KB.get(faq_id)
    assert entry is not None
    return entry.locales[lang].questions[0]


def test_widget_greets_in_the_shoppers_language_with_popular_questions(server: Any, page_of: Any) -> None:
    page = page_of("es-ES", width=1200)
    page.goto(f"{server.http}/demo")
    open_widget(page)
    greeting = page.locator(f"{W} .row.greeting")
    greeting.locator(".bubble", has_text=bundle("es")["greeting"]).wait_for()
    buttons = greeting.locator(".sugg button")
    defaults = ["order-tracking", "shipping-times", "return-policy", "payment-methods"]
    assert buttons.all_inner_texts() == [_question(f, "es") for f in defaults]
    assert greeting.locator(".sugg-title").inner_text() == bundle("es")["popular_title"]
    page.wait_for_timeout(200)
    shot(page, "ux-widget-greeting-es.png")

    buttons.nth(2).click()  # asks it, like typing it: the bot answers
    page.locator(f"{W} .row.shopper:not(.pending) .bubble", has_text=_question("return-policy", "es")).wait_for()
    page.locator(f"{W} .row.bot:not(.greeting) .bubble").first.wait_for()
    assert buttons.nth(0).is_disabled()

    # Another store, another list (unknown ids skipped), in that shopper's language: the welcome frame.
    other = Shopper(server.ws, store_key="other", locale="fr-FR")
    try:
        assert other.welcome["popular"] == [{"faq_id": "size-guide", "question": _question("size-guide", "fr")},
                                            {"faq_id": "return-policy", "question": _question("return-policy", "fr")}]
    finally:
        other.close()


def test_widget_says_reconnecting_within_two_seconds_when_the_connection_drops(server: Any, page_of: Any) -> None:
    page = page_of("fr-FR")
    page.goto(f"{server.http}/demo")
    open_widget(page)
    _say(page, "bonjour, une question")
    page.locator(f"{W} .row.bot:not(.greeting) .bubble").first.wait_for()
    banner = page.locator(f"{W} .banner")
    assert banner.is_hidden()

    page.context.set_offline(True)
    started = time.monotonic()
    banner.filter(has_text=bundle("fr")["reconnecting"]).wait_for(timeout=2_000)
    assert time.monotonic() - started < 2.0
    assert page.locator(f"{W} .sub").inner_text() == bundle("fr")["reconnecting"]
    shot(page, "ux-widget-reconnecting-fr.png")

    page.context.set_offline(False)
    banner.wait_for(state="hidden", timeout=10_000)
    _say(page, "toujours là ?")


def test_rating_is_asked_once(server: Any, page_of: Any) -> None:
    shopper = page_of("es-ES")
    conv = _shopper_in_queue(shopper, server.http, "quiero una persona")
    token = login(server.http, ANA["username"], PASSWORD)
    assert httpx.post(f"{server.http}/api/conversations/{conv}/claim", headers=auth(token)).status_code == 200
    assert httpx.post(f"{server.http}/api/conversations/{conv}/resolve", headers=auth(token)).status_code == 200
    prompt = bundle("es")["rating_prompt"]
    shopper.locator(f"{W} .card p", has_text=prompt).wait_for()
    shopper.locator(f"{W} .row.system .bubble", has_text=bundle("es")["conversation_resolved"][:20]).wait_for()
    shopper.wait_for_timeout(300)
    assert shopper.get_by_text(prompt).count() == 1
    # After a reload (history from the server), still once.
    shopper.reload()
    open_widget(shopper)
    shopper.locator(f"{W} .row.system .bubble", has_text=bundle("es")["conversation_resolved"][:20]).wait_for()
    shopper.wait_for_timeout(300)
    assert shopper.locator(f"{W} .row.system .bubble", has_text=prompt).count() == 0


# ---------------------------------------------------------------------------------------------- editor (20, 21)
def test_missed_question_draft_is_the_informative_reply_not_a_greeting(server: Any, page_of: Any) -> None:
    shopper = page_of("es-ES")
    conv = _shopper_in_queue(shopper, server.http, "¿venden tarjetas regalo?")
    token = login(server.http, ANA["username"], PASSWORD)
    assert httpx.post(f"{server.http}/api/conversations/{conv}/claim", headers=auth(token)).status_code == 200
    answer = "Sí: las tarjetas regalo se compran en la web y llegan por email en cinco minutos."
    for i, text in enumerate(["Hola, soy Ana, ¿en qué puedo ayudarte?", answer, "¡Gracias a ti!"]):
        r = httpx.post(f"{server.http}/api/conversations/{conv}/messages", headers=auth(token),
                       json={"text": text, "client_id": f"ux-{i}"})
        assert r.status_code == 201, r.text

    editor = page_of(width=1400, height=900)
    sign_in(editor, f"{server.http}/editor", "ed", PASSWORD, "Ed")
    editor.locator("#nav-missed").click()
    group = editor.locator("#missed-groups .group", has_text="tarjetas regalo")
    first = group.locator(".agent-answer").first
    first.wait_for()
    assert answer in first.inner_text()
    group.locator("input.new-id").fill("gift-cards")
    group.locator("button.to-entry").click()
    editor.locator("#entry-id").wait_for()
    editor.locator("#tab-es").click()
    assert editor.locator("#answer-es").input_value() == answer


def test_editor_nav_fits_at_1400px_and_every_page_has_a_favicon(server: Any, page_of: Any) -> None:
    editor = page_of(width=1400, height=900)
    sign_in(editor, f"{server.http}/editor", "root", PASSWORD, "Root")
    editor.wait_for_function("() => document.getElementById('live-status').textContent.length > 0")
    # The widest header: a two-digit missed-questions count, the longest live status.
    editor.evaluate("""() => {
        const c = document.getElementById('missed-count'); c.hidden = false; c.textContent = '12';
        document.getElementById('live-status').textContent = 'Live: 120 entries · updating';
    }""")
    boxes = [editor.locator(f"#nav-{v}").bounding_box() for v in ("entries", "completeness", "missed", "transfer")]
    assert max(b["y"] for b in boxes) - min(b["y"] for b in boxes) < 4, boxes  # one row
    assert max(b["height"] for b in boxes) < 40, boxes  # no label wraps inside its tab
    bar = editor.locator("header.topbar").bounding_box()
    assert bar["height"] <= 57, bar
    for part in ("header.topbar", "header.topbar nav.nav", "#live-status"):  # nothing cut off or scrolled away
        assert editor.locator(part).evaluate("el => el.scrollWidth - el.clientWidth") <= 0, part
    assert editor.locator("#missed-count").is_visible()
    shot(editor, "ux-editor-nav-1400.png")

    for path in ("/", "/demo", "/console", "/editor", "/users"):
        editor.goto(server.http + path)
        href = editor.locator("link[rel=icon]").get_attribute("href")
        res = httpx.get(server.http + href)
        assert res.status_code == 200 and res.headers["content-type"].startswith("image/svg+xml"), path
    assert httpx.get(f"{server.http}/favicon.ico").status_code == 200


def test_staff_pages_share_one_module_and_read_the_error_format(server: Any, page_of: Any) -> None:
    static = REPO / "bot" / "web" / "static"
    for html in ("console.html", "editor.html", "users.html"):
        text = (static / html).read_text("utf-8")
        assert "/static/common.js" in text and "/static/base.css" in text, html
        # CSP without 'unsafe-inline': no inline script, no on* handlers.
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), html
        assert not re.search(r"\son[a-z]+\s*=", text), html
    page = page_of()
    page.goto(f"{server.http}/console")
    read = "r => Borderless.errText(r)"
    assert page.evaluate(read, {"status": 409, "data": {"error": {"code": "taken", "message": "Taken."}}}) == "Taken."
    assert page.evaluate(read, {"status": 409, "data": {"detail": {"code": "not_queued", "detail": "Gone."}}}) == "Gone."
    assert page.evaluate(read, {"status": 401, "data": {"detail": "not logged in"}}) == "not logged in"
    assert page.evaluate(read, {"status": 500, "data": None}) == "HTTP 500"
    assert page.evaluate("r => Borderless.errCode(r)", {"status": 409, "data": {"error": {"code": "x"}}}) == "x"


# ---------------------------------------------------------------------------------------------- users (22)
def test_admin_deactivates_reactivates_and_edits_users(server: Any, page_of: Any) -> None:
    bo_token = login(server.http, "bo", PASSWORD)
    page = page_of(width=1280)
    sign_in(page, f"{server.http}/users", "root", PASSWORD, "Root")
    row = page.locator('#users-body tr[data-username="bo"]')
    row.wait_for()
    assert row.locator(".status").inner_text() == "active"
    assert page.locator('#users-body tr[data-username="root"] button.toggle').is_disabled()  # not yourself

    row.get_by_role("button", name="Deactivate").click()
    row.locator(".status", has_text="deactivated").wait_for()
    assert httpx.get(f"{server.http}/api/auth/me", headers=auth(bo_token)).status_code == 401  # session ended
    assert httpx.post(f"{server.http}/api/auth/login", json={"username": "bo", "password": PASSWORD}).status_code == 401
    shot(page, "ux-users.png")

    row.get_by_role("button", name="Reactivate").click()
    row.locator(".status", has_text="active").wait_for()
    row.locator("input.langs-in").fill("fr, es")
    row.locator("select.role-in").select_option("editor")
    row.get_by_role("button", name="Save").click()
    page.locator("#toast", has_text="Saved bo").wait_for()
    token = login(server.http, "bo", PASSWORD)
    me = httpx.get(f"{server.http}/api/auth/me", headers=auth(token)).json()
    assert me["languages"] == ["fr", "es"] and me["role"] == "editor"

    # Bad input: a clear message, nothing changed.
    row.locator("input.langs-in").fill("xx")
    row.get_by_role("button", name="Save").click()
    page.locator("#toast", has_text="unknown language").wait_for()
    assert httpx.get(f"{server.http}/api/auth/me", headers=auth(token)).json()["languages"] == ["fr", "es"]


def test_users_api_contract(server: Any) -> None:
    admin = login(server.http, "root", PASSWORD)
    users = httpx.get(f"{server.http}/api/users", headers=auth(admin)).json()
    assert all(isinstance(u["active"], bool) for u in users)
    root = next(u for u in users if u["username"] == "root")
    r = httpx.patch(f"{server.http}/api/users/{root['id']}", headers=auth(admin), json={"active": False})
    assert r.status_code == 409
    assert httpx.patch(f"{server.http}/api/users/99999", headers=auth(admin), json={"name": "x"}).status_code == 404
    ana = login(server.http, ANA["username"], PASSWORD)
    assert httpx.patch(f"{server.http}/api/users/{root['id']}", headers=auth(ana), json={"name": "x"}).status_code == 403

