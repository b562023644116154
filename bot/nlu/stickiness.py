"""Per-conversation language stickiness: when a message may change the language a conversation is handled in.

Works on top of any detector of :mod:`bot.nlu.langid`; the pipeline calls :func:`resolve_language` once per message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.nlu.base import ConversationContext, LanguageGuess, LanguageIdentifier
from bot.nlu.langid import normalize_lang
from bot.nlu.scripts import LANGUAGE_SCRIPTS, MessageSignal, message_signal

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_POLICY", "StickinessPolicy", "resolve_language"]


@dataclass(frozen=True)
class StickinessPolicy:
    """When a message may change the language of a conversation (or override the widget's locale hint).

    Rationale: short chat replies ("ok", "merci", "ok gracias", "thanks") are the messages detectors get wrong
    most often, and they are also the ones that carry no intent to change language: a Spanish shopper who types
    "ok" still wants Spanish.  So the conversation's language is kept unless the message is long enough to be
    reliable *and* the detector is confident.  A change of script (Latin -> Han/Kana/Hangul/Arabic/Cyrillic) is
    unambiguous and always switches.  The widget's locale hint is a weaker prior than an established
    conversation language, so it yields to shorter confident messages.
    """

    #: Detector confidence needed to leave the conversation's language (Latin-script message).
    switch_confidence: float = 0.8
    #: ...and the message must have at least this many words and letters ("ok gracias" never switches).
    switch_min_words: int = 3
    switch_min_letters: int = 12
    #: Confidence and words needed to override the widget's locale hint on a first message.
    hint_confidence: float = 0.8
    hint_min_words: int = 2
    #: Confidence needed to trust a detection when there is neither a conversation language nor a hint.
    first_confidence: float = 0.5


DEFAULT_POLICY = StickinessPolicy()


def _confidence_of(guesses: list[LanguageGuess], lang: str) -> float:
    return next((g.confidence for g in guesses if g.lang == lang), 0.0)


def _script_switch(signal: MessageSignal, anchor: str) -> bool | None:
    """True/False when the script alone decides whether the message leaves ``anchor``; None when it cannot."""
    if not signal.decisive or signal.script is None:
        return None
    # Han-only text in a Japanese conversation is kanji, still Japanese; Kana in a Chinese one is Japanese.
    return signal.script not in LANGUAGE_SCRIPTS.get(anchor, frozenset())


def resolve_language(
    detector: LanguageIdentifier,
    text: str,
    context: ConversationContext | None,
    default: str,
    *,
    policy: StickinessPolicy = DEFAULT_POLICY,
) -> LanguageGuess:
    """The language to handle ``text`` in, given the conversation so far.

    * An established conversation language (``context.lang``) is kept unless the message clearly switches: a
      script change to a script of another language, or a Latin-script message of at least
      ``policy.switch_min_words`` words / ``switch_min_letters`` letters that the detector puts in another
      language with at least ``policy.switch_confidence``.
    * Otherwise the widget's locale hint (``context.locale_hint``, e.g. ``"es-ES"``) anchors the first message;
      a detection overrides it when the script says so, or with ``hint_confidence`` on ``hint_min_words`` words.
    * With neither, a detection with ``first_confidence`` wins, else ``default``.

    The returned confidence is the detector's confidence for the chosen language (0.0 when the choice comes from
    the context or the default alone, e.g. for "?" or "👍").
    """
    current = normalize_lang(context.lang) if context is not None else None
    hint = normalize_lang(context.locale_hint) if context is not None else None
    default_lang = normalize_lang(default) or default
    guesses = detector.detect(text)
    anchor = current or hint
    if not guesses:
        chosen = anchor or default_lang
        return LanguageGuess(chosen, 0.0)
    top = guesses[0]
    signal = message_signal(text)

    if anchor is None:
        if signal.decisive or top.confidence >= policy.first_confidence:
            return top
        return LanguageGuess(default_lang, _confidence_of(guesses, default_lang))

    if top.lang == anchor:
        return top
    by_script = _script_switch(signal, anchor)
    if by_script is not None:
        switch = by_script
    elif current is not None:
        switch = (
            top.confidence >= policy.switch_confidence
            and signal.words >= policy.switch_min_words
            and signal.letters >= policy.switch_min_letters
        )
    else:
        switch = top.confidence >= policy.hint_confidence and signal.words >= policy.hint_min_words
    if switch:
        logger.debug("language switch %s -> %s (%.2f) on %d words", anchor, top.lang, top.confidence, signal.words)
        return top
    return LanguageGuess(anchor, _confidence_of(guesses, anchor))
