"""Helpers for the Playwright browser tests (tests/test_browser_*.py, tests/test_editor_browser.py).

They drive Debian's chromium (``/usr/bin/chromium``, or ``$BORDERLESS_CHROMIUM``) through the ``playwright``
package; never ``playwright install``. Not a conftest, so it cannot clash with fixtures other parts of the
project define: a test module takes the ``browser`` fixture with ``browser = browser_fixture()``.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("BORDERLESS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = REPO / "docs" / "screenshots"
W = "#borderless-widget"  # the widget's host element; Playwright's CSS engine pierces its open shadow root

#: ``pytestmark`` of a browser test module: skipped without chromium or the playwright package.
NEEDS_CHROMIUM = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} missing: apt-get install -y chromium"),
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None, reason="pip install playwright"),
]


def _chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def browser_fixture() -> Any:
    """A module-scoped ``browser`` fixture: one headless chromium for all the tests of the module."""
    return pytest.fixture(scope="module", name="browser")(_chromium)


class Dialogs:
    """Records every alert/confirm a page opens (an XSS payload that runs would open one) and dismisses it."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, dialog: Any) -> None:
        self.seen.append(dialog.message)
        dialog.dismiss()


def new_page(
    browser: Any,
    locale: str,
    dialogs: Dialogs,
    width: int = 1280,
    height: int = 800,
    timeout_ms: int = 20_000,
    **context_options: Any,
) -> tuple[Any, Any]:
    """``(context, page)``: a fresh browser context (its own storage) in ``locale``; dialogs go to ``dialogs``."""
    ctx = browser.new_context(locale=locale, viewport={"width": width, "height": height}, **context_options)
    page = ctx.new_page()
    page.on("dialog", dialogs)
    page.set_default_timeout(timeout_ms)
    return ctx, page


def shot(page: Any, name: str, full_page: bool = False) -> None:
    """Screenshot to docs/screenshots/``name``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=full_page)


def open_widget(page: Any) -> None:
    """Open the widget's panel (unless it already is) and wait for its text box."""
    launcher = page.locator(f"{W} button.launcher")
    launcher.wait_for()
    if launcher.get_attribute("aria-expanded") != "true":
        launcher.click()
    page.locator(f"{W} textarea").wait_for()


def sign_in(page: Any, url: str, username: str, password: str, name: str) -> None:
    """Log in on the console's or editor's sign-in form at ``url``; returns once ``name`` shows as signed in."""
    page.goto(url)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.locator("#me-name", has_text=name).wait_for()
