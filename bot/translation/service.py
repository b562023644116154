"""Translation for the live chat: one cache, a time limit, protected spans, and pivoting through English.

:class:`TranslationService` wraps a :class:`~bot.nlu.base.Translator` (``BORDERLESS_TRANSLATOR``). Every call
is synchronous and bounded: callers run it in a thread (``run_in_threadpool``), never on the event loop. A
translator that fails or takes longer than ``translation_timeout`` seconds costs a ``None`` (the caller shows the
untranslated text with a note), never an error.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from bot.nlu.base import SUPPORTED_LOCALES, Translator
from bot.nlu.time_limit import TimeLimitedPool, result_by
from bot.settings import Settings
from bot.translation.protect import compile_glossary, translate_protected

log = logging.getLogger(__name__)

PIVOT = "en"
#: After a backend failed to list its pairs (a LibreTranslate server down), list them again this much later.
PAIRS_RETRY_SECONDS = 60.0


@dataclass(frozen=True)
class Translation:
    """A machine translation as agents and shoppers see it: ``{"lang", "text", "engine"}``."""

    lang: str
    text: str
    engine: str

    def to_json(self) -> dict[str, str]:
        return {"lang": self.lang, "text": self.text, "engine": self.engine}


@dataclass(frozen=True)
class Pair:
    """A language pair a translator covers; ``via`` is the pivot language when there is no direct model."""

    source: str
    target: str
    engine: str
    via: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "engine": self.engine, "via": self.via}


def engine_of(translator: Translator, source: str, target: str) -> str:
    """The name of the backend that translates the pair (the chain's member, else the translator itself)."""
    for member in getattr(translator, "members", None) or ():
        try:
            if member.can_translate(source, target):
                return member.name
        except Exception:  # a member that cannot list its pairs is skipped, as the chain does
            continue
    return translator.name


def direct_pairs(translator: Translator, failed: list[str] | None = None) -> list[tuple[str, str, str]]:
    """``(source, target, engine)`` for every direct pair: the translator's own list where it has one
    (``pairs()``), else every pair of the languages Borderless supports that ``can_translate`` accepts.

    A chain member that cannot list its pairs is skipped and its name appended to ``failed``."""
    members = getattr(translator, "members", None)
    if members is not None:
        seen: dict[tuple[str, str], str] = {}
        for member in members:
            try:
                for source, target, engine in direct_pairs(member):
                    seen.setdefault((source, target), engine)
            except Exception as exc:
                log.warning("translator %s failed to list its pairs: %s", member.name, exc)
                if failed is not None:
                    failed.append(member.name)
        return [(s, t, e) for (s, t), e in sorted(seen.items())]
    listed = getattr(translator, "pairs", None)
    if callable(listed):
        return sorted((s, t, translator.name) for s, t in listed())
    return [(s, t, translator.name) for s in SUPPORTED_LOCALES for t in SUPPORTED_LOCALES
            if s != t and translator.can_translate(s, t)]


class TranslationService:
    """Cached, time-limited, span-protecting translation over one translator."""

    def __init__(self, translator: Translator, *, timeout: float = 3.0, glossary: Sequence[str] = (),
                 cache_size: int = 4096) -> None:
        self.translator = translator
        self.timeout = timeout
        self.glossary = compile_glossary(glossary)
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str, str, str], str] = OrderedDict()
        # Re-entrant: a translation that finishes at once runs its done-callback (which caches) in the submitting
        # thread, inside the lock.
        self._lock = threading.RLock()
        self._pairs: dict[tuple[str, str], Pair] | None = None
        self._inflight: dict[tuple[str, Pair], Future[str]] = {}
        self._retry_at = 0.0
        # Translations run here so a slow one can be abandoned after ``timeout`` (and cached when it finishes).
        self._pool = TimeLimitedPool(workers=4, name="translate")
        self.hits = 0
        self.misses = 0

    @classmethod
    def from_settings(cls, settings: Settings, translator: Translator | None = None) -> TranslationService:
        if translator is None:
            from bot.nlu.translate import TRANSLATORS

            translator = TRANSLATORS.create(settings.translator, settings=settings)
        return cls(translator, timeout=settings.translation_timeout, glossary=settings.translation_glossary,
                   cache_size=settings.translation_cache_size)

    # ------------------------------------------------------------------ pairs
    def pairs(self) -> list[Pair]:
        """Every pair this service translates: direct ones, and ``a -> en -> b`` where only those exist."""
        with self._lock:
            if self._pairs is not None and self._retry_at and time.monotonic() >= self._retry_at:
                self._pairs = None  # a backend could not list its pairs last time: ask again
            if self._pairs is None:
                table: dict[tuple[str, str], Pair] = {}
                failed: list[str] = []
                try:
                    direct = direct_pairs(self.translator, failed)
                except Exception as exc:
                    log.warning("translator %s failed to list its pairs: %s", self.translator.name, exc)
                    direct, failed = [], [self.translator.name]
                self._retry_at = time.monotonic() + PAIRS_RETRY_SECONDS if failed else 0.0
                for source, target, engine in direct:
                    table[(source, target)] = Pair(source, target, engine)
                into = {s: p for (s, t), p in table.items() if t == PIVOT}
                out = {t: p for (s, t), p in table.items() if s == PIVOT}
                for source, first in into.items():
                    for target, second in out.items():
                        if source != target and (source, target) not in table:
                            engine = first.engine if first.engine == second.engine \
                                else f"{first.engine}+{second.engine}"
                            table[(source, target)] = Pair(source, target, engine, via=PIVOT)
                self._pairs = table
            return sorted(self._pairs.values(), key=lambda p: (p.source, p.target))

    def refresh(self) -> None:
        """Forget the pair list (after installing packages); the cache stays valid (keyed by engine)."""
        refresh = getattr(self.translator, "refresh", None)
        for member in [self.translator, *(getattr(self.translator, "members", None) or ())]:
            refresh = getattr(member, "refresh", None)
            if callable(refresh):
                refresh()
        with self._lock:
            self._pairs, self._retry_at = None, 0.0

    def pair(self, source: str | None, target: str | None) -> Pair | None:
        if not source or not target or source == target:
            return None
        self.pairs()
        assert self._pairs is not None
        return self._pairs.get((source, target))

    def covers(self, source: str | None, target: str | None) -> bool:
        """Whether ``source -> target`` can be translated (directly or through English)."""
        return self.pair(source, target) is not None

    def covers_both_ways(self, lang: str | None, other: str | None) -> bool:
        return self.covers(lang, other) and self.covers(other, lang)

    # ------------------------------------------------------------------ translating
    def translate(self, text: str, source: str | None, target: str | None) -> Translation | None:
        """``text`` in ``target``, or None: no pair, the translator failed, or it took over ``timeout``."""
        return self.translate_many([text], source, target)[0]

    def translate_many(self, texts: list[str], source: str | None, target: str | None) -> list[Translation | None]:
        """Several texts of one pair within one ``timeout`` in all (a conversation's history), not one each.

        A translation still running at the deadline is left to finish in the background and cached, so the
        next read has it."""
        pair = self.pair(source, target)
        if pair is None:
            return [None] * len(texts)
        results: list[Translation | None] = [None] * len(texts)
        pending: dict[str, Future[str]] = {}
        with self._lock:
            for i, text in enumerate(texts):
                if not text.strip():
                    continue
                cached = self._cache.get((text, pair.source, pair.target, pair.engine))
                if cached is not None:
                    self._cache.move_to_end((text, pair.source, pair.target, pair.engine))
                    self.hits += 1
                    results[i] = Translation(pair.target, cached, pair.engine)
                elif text not in pending:
                    self.misses += 1
                    pending[text] = self._inflight.get((text, pair)) or self._submit(text, pair)
        if not pending:
            return results
        deadline = time.monotonic() + self.timeout
        for i, text in enumerate(texts):
            future = pending.get(text)
            if future is None or results[i] is not None:
                continue
            translated = result_by(future, deadline, limit=self.timeout, instead="showing the original",
                                   what=f"translation {pair.source}->{pair.target} ({pair.engine})")
            if translated is not None:
                results[i] = Translation(pair.target, translated, pair.engine)
        return results

    def _submit(self, text: str, pair: Pair) -> Future[str]:
        """Start translating (caller holds the lock); the result goes into the cache when it is done."""
        key = (text, pair)
        future: Future[str] = self._pool.submit(self._run, text, pair)
        self._inflight[key] = future

        def done(f: Future[str]) -> None:
            with self._lock:
                self._inflight.pop(key, None)
                if not f.cancelled() and f.exception() is None:
                    self._cache[(text, pair.source, pair.target, pair.engine)] = f.result()
                    while len(self._cache) > self.cache_size:
                        self._cache.popitem(last=False)

        future.add_done_callback(done)
        return future

    def _run(self, text: str, pair: Pair) -> str:
        steps = [(pair.source, pair.target)] if pair.via is None else [(pair.source, pair.via), (pair.via, pair.target)]
        for source, target in steps:
            text = translate_protected(text, lambda s, a=source, b=target: self.translator.translate(s, a, b),
                                       self.glossary)
        return text

    def close(self) -> None:
        self._pool.close()
