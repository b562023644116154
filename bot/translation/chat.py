"""Translated chat between a shopper and an agent without a common language.

An agent's reading language is their first language (none listed: the store's default). Shopper messages in
another language carry ``translation`` for them; an agent's reply sent with ``translate`` reaches the shopper
in the conversation's language. Everything here is synchronous and bounded by the service's time limit:
call it from a thread. Notes are never translated.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bot.handoff.scope import reading_language
from bot.translation.service import Translation, TranslationService

log = logging.getLogger(__name__)

#: Shown to the agent instead of a translation when the translator failed or was too slow.
UNAVAILABLE_NOTE = "Machine translation unavailable right now (the translator failed or was too slow); " \
                   "showing the original."
#: Roles whose messages an agent gets translated (the shopper's own words).
TRANSLATED_ROLES = ("shopper",)


@dataclass(frozen=True)
class Reply:
    """What goes to the shopper for an agent's reply, and what the agent wrote."""

    text: str
    lang: str
    original_text: str | None = None
    original_lang: str | None = None
    engine: str | None = None
    note: str | None = None


class ChatTranslation:
    """The chat's use of one :class:`TranslationService` (None: translation is off)."""

    #: The roles whose messages get translated (the socket layer asks the instance, not this module).
    roles: tuple[str, ...] = TRANSLATED_ROLES

    def __init__(self, service: TranslationService | None, default_locale: str = "en") -> None:
        self.service = service
        self.default_locale = default_locale

    def reading_lang(self, user: Any) -> str:
        return reading_language(user, self.default_locale)

    def needed(self, user: Any, lang: str | None) -> bool:
        """Whether ``user`` reads ``lang`` through the translator (it differs and a pair covers it)."""
        return (self.service is not None and bool(lang) and lang != self.reading_lang(user)
                and self.service.covers(lang, self.reading_lang(user)))

    def annotate(self, messages: list[dict[str, Any]], user: Any, lang: str | None = None) -> None:
        """Add ``translation`` to the shopper messages ``user`` cannot read (all within one time limit).

        ``lang``: the conversation's language (else each message's own)."""
        target = self.reading_lang(user)
        todo: dict[str, list[dict[str, Any]]] = {}
        for message in messages:
            source = lang or message.get("lang")
            if message.get("role") in TRANSLATED_ROLES and source and self.needed(user, source):
                todo.setdefault(source, []).append(message)
        for source, group in todo.items():
            assert self.service is not None
            for message, translation in zip(group, self.service.translate_many([m["text"] for m in group], source,
                                                                              target), strict=True):
                if translation is None:
                    message["translation"] = None
                    message["translation_note"] = UNAVAILABLE_NOTE
                else:
                    message["translation"] = translation.to_json()

    def reply(self, text: str, user: Any, shopper_lang: str) -> Reply:
        """The shopper's version of an agent's reply written in their reading language."""
        source = self.reading_lang(user)
        if self.service is None or source == shopper_lang or not self.service.covers(source, shopper_lang):
            note = None if source == shopper_lang else f"No translator covers {source} -> {shopper_lang}; sent as is."
            return Reply(text, shopper_lang if source == shopper_lang else source, note=note)
        translation = self.service.translate(text, source, shopper_lang)
        if translation is None:
            log.warning("agent reply %s->%s sent untranslated (translator failed or slow)", source, shopper_lang)
            return Reply(text, source, note=UNAVAILABLE_NOTE.replace("showing", "sent"))
        return Reply(translation.text, shopper_lang, original_text=text, original_lang=source,
                     engine=translation.engine)

    def preview(self, text: str, user: Any, shopper_lang: str) -> dict[str, Any]:
        """What the shopper would read, and that translated back, so the agent can check it before sending."""
        source = self.reading_lang(user)
        forward: Translation | None = None
        back: Translation | None = None
        if self.service is not None and source != shopper_lang and self.service.covers(source, shopper_lang):
            forward = self.service.translate(text, source, shopper_lang)
            if forward is not None:
                back = self.service.translate(forward.text, shopper_lang, source)
        note = None
        if source != shopper_lang and forward is None:
            note = UNAVAILABLE_NOTE if self.service is not None and self.service.covers(source, shopper_lang) \
                else f"No translator covers {source} -> {shopper_lang}."
        return {
            "source_lang": source,
            "target_lang": shopper_lang,
            "translation": forward.to_json() if forward else None,
            "back_translation": back.to_json() if back else None,
            "note": note,
        }
