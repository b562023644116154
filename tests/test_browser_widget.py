"""Protocol-level tests of widget/borderless.js in Chromium, against a scripted websocket (no backend needed).

The widget is embedded cross-origin (store page on http://shop.test, script from http://chat.test), so these also
check that it derives the server origin from its own ``src``. Needs /usr/bin/chromium and the playwright package.
"""

from __future__ import annotations

import json
import queue
import re

import pytest
from browser_support import NEEDS_CHROMIUM, REPO, Dialogs, W, browser_fixture, new_page, open_widget

from bot.i18n import text_direction

pytestmark = NEEDS_CHROMIUM
browser = browser_fixture()

STORE_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>
<style>button{all:unset} .row{display:none}</style></head><body><h1>Shop</h1>
<script src="http://chat.test/widget/borderless.js" data-store-key="demo" async></script></body></html>"""
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def ui(lang: str) -> dict[str, str]:
    from bot.i18n import bundle

    return bundle(lang)


class FakeServer:
    """A scripted /ws/shopper: records client frames; tests push server frames."""

    def __init__(self) -> None:
        self.frames: queue.Queue[dict] = queue.Queue()
        self.sockets: list = []
        self.on_hello = None  # optional callable(ws, hello)

    def handler(self, ws) -> None:  # noqa: ANN001
        self.sockets.append(ws)

        def on_message(message: str | bytes) -> None:
            frame = json.loads(message)
            self.frames.put(frame)
            if frame["type"] == "hello" and self.on_hello is not None:
                self.on_hello(ws, frame)

        ws.on_message(on_message)

    @property
    def ws(self):  # noqa: ANN201
        return self.sockets[-1]

    def send(self, frame: dict) -> None:
        self.ws.send(json.dumps(frame))

    def next(self, page, kind: str | None = None, timeout: float = 10.0) -> dict:  # noqa: ANN001
        """The next client frame (of ``kind``), pumping the page's event loop while waiting."""
        waited = 0.0
        while waited < timeout:
            try:
                frame = self.frames.get_nowait()
            except queue.Empty:
                page.wait_for_timeout(50)
                waited += 0.05
                continue
            if kind is None or frame["type"] == kind:
                return frame
        raise AssertionError(f"no {kind or 'client'} frame within {timeout}s")


def msg(seq: int, role: str, text: str, **extra) -> dict:  # noqa: ANN003
    base = {
        "id": f"m{seq}",
        "seq": seq,
        "role": role,
        "text": text,
        "lang": "fr",
        "created_at": "2025-01-01T10:00:00Z",
        "client_id": None,
        "action": None,
        "faq_id": None,
        "suggestions": [],
        "code": None,
        "agent_name": None,
    }
    base.update(extra)
    return base


def welcome(conv: str = "c1", token: str = "tok", state: str = "bot", lang: str = "fr", messages=(), **extra) -> dict:  # noqa: ANN001, ANN003
    return {
        "type": "welcome",
        "conversation_id": conv,
        "token": token,
        "state": state,
        "lang": lang,
        "dir": text_direction(lang),  # the server's welcome carries it (docs/protocol.md); the widget follows it
        "agent_name": None,
        "reason": None,
        "ui": ui(lang),
        "messages": list(messages),
        **extra,
    }


@pytest.fixture
def shop(browser):  # noqa: ANN001, ANN201
    """(page, fake server) with the widget embedded cross-origin on a fake store page."""
    widget_js = (REPO / "widget" / "borderless.js").read_text("utf-8")
    dialogs = Dialogs()
    ctx, page = new_page(browser, "fr-FR", dialogs, 1200, 800, timeout_ms=10_000)
    server = FakeServer()
    ctx.route("http://shop.test/**", lambda route: route.fulfill(body=STORE_PAGE, content_type="text/html"))
    ctx.route(
        "http://chat.test/widget/borderless.js",
        lambda route: route.fulfill(body=widget_js, content_type="application/javascript"),
    )
    ctx.route_web_socket("ws://chat.test/ws/shopper", server.handler)
    page.goto("http://shop.test/")
    yield page, server, dialogs.seen
    ctx.close()


def test_hello_message_clarify_typing_and_rating(shop) -> None:  # noqa: ANN001
    page, server, dialogs = shop
    launcher = page.locator(f"{W} button.launcher")
    assert launcher.get_attribute("aria-label") == "Open chat"  # English defaults before the welcome
    assert server.sockets == []  # new visitors connect on first open
    open_widget(page)
    hello = server.next(page, "hello")
    assert hello == {
        "type": "hello",
        "store_key": "demo",
        "conversation_id": None,
        "token": None,
        "locale": "fr-FR",
        "last_seq": 0,
    }
    server.send(welcome())
    page.locator(f"{W} .title", has_text="Service client").wait_for()  # the server's ui strings
    assert launcher.get_attribute("aria-label") == "Fermer le chat"
    assert page.locator(f"{W} textarea").get_attribute("placeholder") == ui("fr")["placeholder"]
    assert page.locator(f"{W} [role=log]").get_attribute("aria-live") == "polite"

    page.locator(f"{W} textarea").fill("livraison ?")
    page.locator(f"{W} textarea").press("Enter")
    sent = server.next(page, "message")
    assert sent["text"] == "livraison ?" and UUID.match(sent["client_id"]) and "faq_id" not in sent
    page.locator(f"{W} .row.shopper.pending").wait_for()
    server.send(
        {
            "type": "ack",
            "client_id": sent["client_id"],
            "message": msg(1, "shopper", "livraison ?", client_id=sent["client_id"]),
        }
    )
    page.locator(f"{W} .row.shopper.pending").wait_for(state="detached")
    server.send({"type": "typing", "role": "bot"})
    page.locator(f"{W} .typing").wait_for()
    hostile = "<img src=x onerror=alert(1)>"
    server.send(
        {
            "type": "message",
            "message": msg(
                2,
                "bot",
                "Vous voulez dire :",
                action="clarify",
                suggestions=[
                    {"faq_id": "shipping-times", "question": "Quels sont les délais de livraison ?"},
                    {"faq_id": "shipping-costs", "question": hostile},
                ],
            ),
        }
    )
    page.locator(f"{W} .typing").wait_for(state="hidden")
    buttons = page.locator(f"{W} .sugg button")
    assert buttons.count() == 2
    assert buttons.nth(1).inner_text() == hostile  # text, not markup
    buttons.first.click()
    picked = server.next(page, "message")
    assert picked["faq_id"] == "shipping-times" and picked["text"] == "Quels sont les délais de livraison ?"
    assert buttons.first.is_disabled()  # one pick per clarify
    server.send(
        {
            "type": "ack",
            "client_id": picked["client_id"],
            "message": msg(3, "shopper", picked["text"], client_id=picked["client_id"]),
        }
    )
    server.send(
        {"type": "message", "message": msg(4, "bot", "3 à 5 jours ouvrés.", action="answer", faq_id="shipping-times")}
    )
    page.locator(f"{W} .card p", has_text=ui("fr")["rate_prompt"]).wait_for()
    page.locator(f"{W} .stars button").nth(3).click()
    assert server.next(page, "rating") == {"type": "rating", "score": 4}
    page.locator(f"{W} .card p", has_text=ui("fr")["rate_thanks"]).wait_for()
    assert page.locator(f"{W} .log img").count() == 0
    assert dialogs == []
    stored = page.evaluate("() => JSON.parse(localStorage.getItem('borderless:demo:session'))")
    assert stored == {"conversation_id": "c1", "token": "tok", "last_seq": 4}


def test_agent_states_system_messages_and_resolve(shop) -> None:  # noqa: ANN001
    page, server, _ = shop
    open_widget(page)
    server.next(page, "hello")
    server.send(welcome())
    server.send({"type": "message", "message": msg(1, "system", "Ana a rejoint la conversation", code="agent_joined")})
    server.send({"type": "state", "state": "agent", "agent_name": "Ana", "reason": None})
    page.locator(f"{W} .sub", has_text="Ana").wait_for()
    server.send({"type": "typing", "role": "agent"})
    page.locator(f"{W} .typing", has_text="Ana").wait_for()
    server.send({"type": "message", "message": msg(2, "agent", "Bonjour ! <b>gras</b>", agent_name="Ana")})
    row = page.locator(f"{W} .row.agent")
    row.wait_for()
    assert row.locator(".who").inner_text() == "Ana"
    assert row.locator(".bubble").inner_text() == "Bonjour ! <b>gras</b>"
    server.send(
        {
            "type": "message",
            "message": msg(3, "system", ui("fr")["conversation_resolved"], code="conversation_resolved"),
        }
    )
    server.send({"type": "state", "state": "closed", "agent_name": None, "reason": None})
    page.locator(f"{W} .card p", has_text=ui("fr")["rating_prompt"]).wait_for()
    page.locator(f"{W} .stars button").nth(4).click()
    assert server.next(page, "rating")["score"] == 5


def test_no_agent_shows_email_form(shop) -> None:  # noqa: ANN001
    page, server, _ = shop
    open_widget(page)
    server.next(page, "hello")
    server.send(welcome())
    email = page.locator(f"{W} input[type=email]")
    assert email.is_hidden()
    server.send({"type": "message", "message": msg(1, "system", ui("fr")["outside_hours"], code="outside_hours")})
    server.send(
        {"type": "message", "message": msg(2, "system", ui("fr")["leave_email_prompt"], code="leave_email_prompt")}
    )
    server.send({"type": "state", "state": "queued", "agent_name": None, "reason": "outside_hours"})
    email.wait_for()
    assert email.get_attribute("aria-label") == ui("fr")["email_placeholder"]
    email.fill("client@example.com")
    page.keyboard.press("Enter")
    assert server.next(page, "email") == {"type": "email", "email": "client@example.com"}
    email.wait_for(state="hidden")


def test_resume_after_reload_sends_last_seq_and_dedupes(shop) -> None:  # noqa: ANN001
    page, server, _ = shop
    open_widget(page)
    server.next(page, "hello")
    server.send(welcome(messages=[msg(1, "shopper", "bonjour", client_id="a"), msg(2, "bot", "Bonjour !")]))
    page.locator(f"{W} .row.bot").wait_for()

    server.on_hello = lambda ws, hello: ws.send(
        json.dumps(
            welcome(
                messages=[
                    msg(2, "bot", "Bonjour !"),  # already seen: must not show twice
                    msg(3, "agent", "Je suis là.", agent_name="Ana"),
                ]
            )
        )
    )
    page.reload()
    hello = server.next(page, "hello")
    assert hello["conversation_id"] == "c1" and hello["token"] == "tok" and hello["last_seq"] == 2
    page.locator(f"{W} .panel").wait_for()  # stays open across reloads
    page.locator(f"{W} .row.agent").wait_for()
    texts = page.locator(f"{W} .log .bubble").all_inner_texts()
    assert texts == ["bonjour", "Bonjour !", "Je suis là."]


def test_outbox_resent_with_same_client_id_after_reconnect(shop) -> None:  # noqa: ANN001
    page, server, _ = shop
    open_widget(page)
    server.next(page, "hello")
    server.send(welcome())
    page.locator(f"{W} textarea").fill("toujours là ?")
    page.locator(f"{W} textarea").press("Enter")
    first = server.next(page, "message")
    server.ws.close(code=1012, reason="restart")  # dropped before the ack
    page.locator(f"{W} .banner").wait_for()
    hello = server.next(page, "hello", timeout=15)
    assert hello["conversation_id"] == "c1" and hello["last_seq"] == 0
    server.send(welcome())
    again = server.next(page, "message")
    assert again["client_id"] == first["client_id"] and again["text"] == "toujours là ?"
    server.send(
        {
            "type": "ack",
            "client_id": again["client_id"],
            "message": msg(1, "shopper", "toujours là ?", client_id=again["client_id"]),
        }
    )
    page.locator(f"{W} .row.shopper.pending").wait_for(state="detached")
    assert page.locator(f"{W} .row.shopper").count() == 1
    assert page.evaluate("() => localStorage.getItem('borderless:demo:outbox')") == "[]"
    page.locator(f"{W} .banner").wait_for(state="hidden")


def test_unauthorized_resume_starts_a_new_conversation(shop) -> None:  # noqa: ANN001
    page, server, _ = shop
    page.evaluate("""() => {
        localStorage.setItem('borderless:demo:session', JSON.stringify({conversation_id: 'old', token: 'bad', last_seq: 3}));
        localStorage.setItem('borderless:demo:history', JSON.stringify([{id: 'x', seq: 3, role: 'bot', text: 'ancien'}]));
    }""")

    def refuse_old(ws, hello) -> None:  # noqa: ANN001
        if hello["conversation_id"] == "old":
            ws.send(json.dumps({"type": "error", "code": "unauthorized"}))
            ws.close(code=4401, reason="unauthorized")
        else:
            ws.send(json.dumps(welcome(conv="new", token="t2")))

    server.on_hello = refuse_old
    page.reload()
    first = server.next(page, "hello")
    assert first["conversation_id"] == "old"
    second = server.next(page, "hello")
    assert second["conversation_id"] is None and second["token"] is None and second["last_seq"] == 0
    page.wait_for_function(
        "() => JSON.parse(localStorage.getItem('borderless:demo:session'))?.conversation_id === 'new'"
    )
    open_widget(page)
    assert page.locator(f"{W} .log .bubble", has_text="ancien").count() == 0


def test_refused_message_is_marked_failed(shop) -> None:  # noqa: ANN001
    page, server, _ = shop
    open_widget(page)
    server.next(page, "hello")
    server.send(welcome())
    page.locator(f"{W} textarea").fill("x")
    page.locator(f"{W} textarea").press("Enter")
    sent = server.next(page, "message")
    server.send({"type": "error", "code": "bad_request", "detail": "message too long", "client_id": sent["client_id"]})
    page.locator(f"{W} .row.shopper.failed").wait_for()
    page.locator(f"{W} .row.system .bubble", has_text=ui("fr")["send_failed"]).wait_for()
    assert page.evaluate("() => localStorage.getItem('borderless:demo:outbox')") == "[]"


def test_escape_closes_and_returns_focus(shop) -> None:  # noqa: ANN001
    page, server, _ = shop
    page.locator(f"{W} button.launcher").focus()
    page.keyboard.press("Enter")
    server.next(page, "hello")
    server.send(welcome(lang="ar"))
    page.locator(f"{W} .root[dir=rtl][lang=ar]").wait_for(state="attached")
    page.keyboard.press("Escape")
    page.locator(f"{W} .panel").wait_for(state="hidden")
    assert (
        page.evaluate("() => document.querySelector('#borderless-widget').shadowRoot.activeElement.className")
        == "launcher"
    )
