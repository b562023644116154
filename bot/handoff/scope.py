"""Which conversations an agent may see and take: the one place that decides by language.

An admin serves every language. An agent serves the languages on their account (none listed: every language)
and, when a translator is given, every language it translates both to and from their reading language (their
first language): those conversations show in their queue marked "translated".
"""

from __future__ import annotations

from typing import Any, Protocol

from bot.auth.models import AGENT_ROLES  # noqa: F401  (re-exported: callers import it from here)
from bot.nlu.base import SUPPORTED_LOCALES


class Covers(Protocol):
    """What scope needs from a translator (``bot.translation.service.TranslationService``)."""

    def covers_both_ways(self, lang: str | None, other: str | None) -> bool: ...


def _languages(user: Any) -> tuple[str, ...]:
    langs = getattr(user, "languages", ())
    if isinstance(langs, str):  # a User row keeps them comma-separated
        return tuple(code for code in langs.split(",") if code)
    return tuple(langs or ())


def reading_language(user: Any, default: str = "en") -> str:
    """The language ``user`` reads translations in: their first language, else the store's default."""
    langs = _languages(user)
    return langs[0] if langs else default


def speaks(user: Any, lang: str | None) -> bool:
    """Whether ``user`` answers ``lang`` without translation."""
    if getattr(user, "role", None) == "admin":
        return True
    langs = _languages(user)
    return not langs or (lang or "") in langs


def translated_for(user: Any, lang: str | None, translator: Covers | None) -> bool:
    """Whether ``user`` can serve ``lang`` only through the translator (and it can)."""
    if translator is None or speaks(user, lang):
        return False
    return translator.covers_both_ways(lang, reading_language(user))


def serves(user: Any, lang: str | None, translator: Covers | None = None) -> bool:
    """Whether ``user`` may see, claim, read and answer a conversation in ``lang``."""
    return speaks(user, lang) or translated_for(user, lang, translator)


def queue_languages(user: Any, translator: Covers | None = None,
                    candidates: tuple[str, ...] = SUPPORTED_LOCALES) -> tuple[set[str], set[str]] | None:
    """``(spoken, translated)`` language sets of ``user``'s queue; None means every language, untranslated."""
    if getattr(user, "role", None) == "admin" or not _languages(user):
        return None
    spoken = set(_languages(user))
    translated = {lang for lang in candidates if lang not in spoken and translated_for(user, lang, translator)}
    return spoken, translated


def may_access(user: Any, lang: str | None, holder_id: int | None, translator: Covers | None = None) -> bool:
    """Read, note, reply: :func:`serves` the language, or ``user`` holds the conversation (its language may have
    changed since the claim). Editors never: they do not answer shoppers."""
    if getattr(user, "role", None) not in AGENT_ROLES:
        return False
    return (holder_id is not None and holder_id == user.id) or serves(user, lang, translator)
