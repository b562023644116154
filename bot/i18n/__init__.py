"""Localised strings the bot and the widget show, one YAML catalogue per audience.

``bot.yaml``: what the answer engine says (clarify, handoff, fallback notes).
``ui.yaml``: the widget's labels and the chat's system messages (agent joined, no agent...).
Each key maps locale -> text; a missing locale falls back to English.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

_DIR = Path(__file__).parent

#: Languages written right to left; the pages get this list from ``GET /api/i18n`` and the widget a ``dir``.
RTL_LANGUAGES: tuple[str, ...] = ("ar", "he", "fa", "ur")


def text_direction(lang: str | None) -> str:
    """``"rtl"`` or ``"ltr"`` for a language code or locale (``"ar-EG"`` -> ``"rtl"``)."""
    base = (lang or "").split("-")[0].split("_")[0].lower()
    return "rtl" if base in RTL_LANGUAGES else "ltr"


@cache
def catalogue(name: str) -> dict[str, dict[str, str]]:
    """All strings of one catalogue (``bot`` or ``ui``)."""
    data = yaml.safe_load((_DIR / f"{name}.yaml").read_text("utf-8")) or {}
    return {str(k): {str(loc): str(s) for loc, s in v.items()} for k, v in data.items()}


def t(key: str, lang: str | None, catalogue_name: str = "ui", **fmt: object) -> str:
    """The string ``key`` in ``lang`` (English when missing), formatted with ``fmt``."""
    entry = catalogue(catalogue_name)[key]
    text = entry.get(lang or "en") or entry["en"]
    return text.format(**fmt) if fmt else text


def bundle(lang: str, catalogue_name: str = "ui") -> dict[str, str]:
    """Every string of a catalogue in one language, for the widget."""
    return {key: v.get(lang) or v["en"] for key, v in catalogue(catalogue_name).items()}
