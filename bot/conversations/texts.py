"""Localised strings the chat server stores as system messages or sends to the widget (``bot/i18n/ui.yaml``)."""

from __future__ import annotations

import logging

from bot import i18n
from bot.nlu import langid
from bot.nlu.base import SUPPORTED_LOCALES

log = logging.getLogger(__name__)

#: Used only when ui.yaml lacks a key (logged): the server must never fail a chat over a missing string.
_FALLBACK_EN: dict[str, str] = {
    "agent_joined": "{name} has joined the conversation.",
    "agent_left": "The agent has left the conversation. You'll be connected to the next available agent.",
    "no_agent_online": "No agent is online right now.",
    "outside_hours": "Our support team is outside its working hours right now.",
    "leave_email_prompt": "Leave your email and we'll get back to you.",
    "email_saved": "Thanks! We'll reply by email.",
    "conversation_resolved": "This conversation has been marked as resolved.",
    "back_to_bot": "You're chatting with the assistant again.",
    "rating_prompt": "How would you rate this conversation?",
}


def supported_locale(locale: str | None, default: str = "en") -> str:
    """Always a supported code: ``"es-ES"`` -> ``"es"`` (:func:`bot.nlu.langid.normalize_lang`, which may say None);
    anything unsupported -> ``default``."""
    code = langid.normalize_lang(locale) if isinstance(locale, str) else None
    return code or (default if default in SUPPORTED_LOCALES else "en")


def ui_text(key: str, lang: str | None, **fmt: object) -> str:
    """``ui.yaml``'s ``key`` in ``lang`` (English fallback); ``{name}``-style fields filled from ``fmt``."""
    try:
        text = i18n.t(key, lang, "ui")
    except (KeyError, FileNotFoundError) as exc:
        log.warning("ui string %r missing (%s); using the built-in English", key, exc)
        text = _FALLBACK_EN.get(key, key)
    if fmt:
        try:
            return text.format(**fmt)
        except (KeyError, IndexError, ValueError):
            log.warning("ui string %r in %s has unexpected placeholders", key, lang)
    return text


def ui_bundle(lang: str) -> dict[str, str]:
    """Every widget string in ``lang`` for the ``welcome`` frame."""
    try:
        return i18n.bundle(lang, "ui")
    except FileNotFoundError:
        return dict(_FALLBACK_EN)
