"""The ``libretranslate`` backend: a self-hosted LibreTranslate server (https://libretranslate.com/docs).

``BORDERLESS_LIBRETRANSLATE_URL`` is the server's base URL; ``BORDERLESS_LIBRETRANSLATE_API_KEY`` is sent as
``api_key`` in the request body (never in the URL, which servers log). The server's pairs come from
``GET /languages`` (read once, then again after ``refresh()``); ``POST /translate`` translates one text.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import httpx

from bot.nlu.translate import TRANSLATORS

log = logging.getLogger(__name__)


class LibreTranslateError(RuntimeError):
    """The server refused or failed a request."""


@TRANSLATORS.register("libretranslate")
class LibreTranslateTranslator:
    """Calls a LibreTranslate server's REST API."""

    name = "libretranslate"
    RETRY_SECONDS = 30.0

    def __init__(self, url: str | None = None, api_key: str | None = None, timeout: float = 10.0,
                 settings: Any = None, **_: object) -> None:
        url = url or (getattr(settings, "libretranslate_url", None) if settings is not None else None)
        if not url:
            raise ValueError("libretranslate needs BORDERLESS_LIBRETRANSLATE_URL")
        self.url = url.rstrip("/")
        self.api_key = api_key or (getattr(settings, "libretranslate_api_key", None) if settings else None)
        self._client = httpx.Client(base_url=self.url, timeout=timeout)
        self._lock = threading.Lock()
        self._pairs: set[tuple[str, str]] | None = None
        self._retry_at = 0.0

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        if self.api_key:
            body = {**body, "api_key": self.api_key}
        response = self._client.post(path, json=body)
        if response.status_code != 200:
            try:
                detail = response.json().get("error")
            except ValueError:
                detail = response.text[:200]
            raise LibreTranslateError(f"LibreTranslate {path}: HTTP {response.status_code}: {detail}")
        return response.json()

    def refresh(self) -> None:
        with self._lock:
            self._pairs, self._retry_at = None, 0.0

    def pairs(self) -> list[tuple[str, str]]:
        """The server's pairs (read once). An unreachable server is asked again after ``RETRY_SECONDS``, not on
        every call, so each answer does not wait for a connect timeout."""
        with self._lock:
            if self._pairs is None:
                if time.monotonic() < self._retry_at:
                    raise LibreTranslateError(f"LibreTranslate at {self.url} was unreachable; retrying later")
                try:
                    response = self._client.get("/languages")
                    response.raise_for_status()
                    self._pairs = {(lang["code"], target) for lang in response.json()
                                   for target in lang.get("targets", []) if target != lang["code"]}
                except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                    self._retry_at = time.monotonic() + self.RETRY_SECONDS
                    raise LibreTranslateError(f"LibreTranslate /languages at {self.url} failed: {exc}") from None
            return sorted(self._pairs)

    def can_translate(self, source: str, target: str) -> bool:
        return (source, target) in self.pairs()

    def translate(self, text: str, source: str, target: str) -> str:
        data = self._post("/translate", {"q": text, "source": source, "target": target, "format": "text"})
        translated = data.get("translatedText") if isinstance(data, dict) else None
        if not isinstance(translated, str):
            raise LibreTranslateError(f"LibreTranslate /translate: unexpected answer {str(data)[:200]}")
        return translated
