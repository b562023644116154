"""What the widget shows before the shopper says anything: a greeting (``ui.yaml``) and a few popular questions.

Which questions is a per-store setting (``BORDERLESS_WIDGET_POPULAR``, FAQ ids); their titles come from the
knowledge base the bot answers from, in the shopper's language, so a click asks exactly a question the bot knows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from bot.knowledge.files import load
from bot.knowledge.models import KnowledgeBase

log = logging.getLogger(__name__)

#: Shown when the setting names nothing for a store: what shoppers of a cross-border store ask most.
DEFAULT_POPULAR: tuple[str, ...] = ("order-tracking", "shipping-times", "return-policy", "payment-methods")
MAX_POPULAR = 4


def parse_popular(spec: str) -> dict[str, list[str]]:
    """``"a,b"`` (every store) or ``"demo=a,b;other=c"`` (per store; ``*=`` for the rest) -> store -> FAQ ids."""
    out: dict[str, list[str]] = {}
    for part in (spec or "").split(";"):
        if not part.strip():
            continue
        store, sep, ids = part.partition("=")
        if not sep:
            store, ids = "*", part
        out[store.strip() or "*"] = [i.strip() for i in ids.split(",") if i.strip()][:MAX_POPULAR]
    return out


@cache
def _kb_from_files(path: Path) -> KnowledgeBase | None:
    try:
        return load(path)
    except Exception:  # a broken file must not break the chat: no popular questions then
        log.exception("popular questions: could not load the knowledge base at %s", path)
        return None


class PopularQuestions:
    """Store key + language -> ``[{"faq_id", "question"}]`` for the ``welcome`` frame."""

    def __init__(self, spec: str, kb_path: Path, live_kb: Callable[[], Any] | None = None) -> None:
        self.by_store = parse_popular(spec)
        self.kb_path = kb_path
        self.live_kb = live_kb  # the engine's current knowledge (follows the editor); else the files

    def _kb(self) -> Any:
        kb = self.live_kb() if self.live_kb is not None else None
        return kb if kb is not None and hasattr(kb, "get") else _kb_from_files(self.kb_path)

    def for_store(self, store_key: str | None, lang: str) -> list[dict[str, str]]:
        ids = self.by_store.get(store_key or "", self.by_store.get("*", list(DEFAULT_POPULAR)))
        kb = self._kb()
        if kb is None:
            return []
        out: list[dict[str, str]] = []
        for faq_id in ids:
            entry = kb.get(faq_id)
            if entry is None or getattr(entry, "status", "published") != "published":
                continue  # a stale setting must not offer a question the bot cannot answer
            content = entry.locales.get(lang) or entry.locales.get(getattr(kb, "default_locale", "en"))
            if content is None or not content.questions:
                continue
            out.append({"faq_id": faq_id, "question": content.questions[0]})
        return out
