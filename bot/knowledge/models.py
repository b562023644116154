"""In-memory model of the FAQ knowledge base."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
LOCALE_PATTERN = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")


class KnowledgeBaseError(ValueError):
    """A knowledge base file or row is broken; the message names where and why."""


@dataclass
class LocaleContent:
    """One entry's answer, question variants and display question (``title``; empty: the best-written
    variant, see :func:`display_title`) in one locale."""

    answer: str
    questions: list[str] = field(default_factory=list)
    title: str = ""

    def display_title(self) -> str:
        return self.title.strip() or display_title(self.questions)


_END_PUNCT = ("?", "？", "؟", "!", ".", "。")


def _written_score(q: str) -> tuple[int, int]:
    """How well a variant is written, for showing it: a capital, closing punctuation, accents and other
    non-ASCII letters (a variant typed without them has lost some), then a whole question over a keyword."""
    q = q.strip()
    capital = q[:1].isupper()
    cased = q[:1].lower() != q[:1].upper()
    score = 2 * (capital or not cased) + 2 * q.endswith(_END_PUNCT) + any(ord(c) > 127 and c.isalpha() for c in q)
    return score, min(len(q.split()), 8)


def display_title(questions: list[str]) -> str:
    """The best-written question variant, with a capital first letter: what a shopper is shown when an
    entry has no ``title`` in their language."""
    candidates = [q.strip() for q in questions if q and q.strip()]
    if not candidates:
        return ""
    best = max(candidates, key=_written_score)  # max keeps the first of equals
    return best[:1].upper() + best[1:]


@dataclass
class Entry:
    """One FAQ entry: a stable id and its content per locale."""

    id: str
    locales: dict[str, LocaleContent]
    topic: str = "general"
    status: str = "published"

    def answer_in(self, locale: str) -> str | None:
        content = self.locales.get(locale)
        return content.answer if content else None

    def validate(self, where: str = "") -> None:
        prefix = f"{where}: " if where else ""
        if not ID_PATTERN.match(self.id or ""):
            raise KnowledgeBaseError(f"{prefix}invalid entry id {self.id!r} (lowercase letters, digits, - and _)")
        if not self.locales:
            raise KnowledgeBaseError(f"{prefix}entry {self.id!r} has no locales")
        for locale, content in self.locales.items():
            if not LOCALE_PATTERN.match(locale):
                raise KnowledgeBaseError(f"{prefix}entry {self.id!r}: invalid locale {locale!r}")
            if not content.answer or not content.answer.strip():
                raise KnowledgeBaseError(f"{prefix}entry {self.id!r} locale {locale!r}: empty answer")
            if not content.questions or not all(q and q.strip() for q in content.questions):
                raise KnowledgeBaseError(f"{prefix}entry {self.id!r} locale {locale!r}: needs non-empty questions")


@dataclass
class Variant:
    """One question variant as the index sees it."""

    faq_id: str
    locale: str
    question: str


@dataclass
class KnowledgeBase:
    """A set of entries; only published ones reach shoppers."""

    entries: dict[str, Entry] = field(default_factory=dict)
    default_locale: str = "en"

    def published(self) -> list[Entry]:
        return [e for e in self.entries.values() if e.status == "published"]

    def variants(self) -> Iterator[Variant]:
        for entry in self.published():
            for locale, content in entry.locales.items():
                for q in content.questions:
                    yield Variant(entry.id, locale, q.strip())

    def locales(self) -> list[str]:
        return sorted({loc for e in self.entries.values() for loc in e.locales})

    def get(self, faq_id: str) -> Entry | None:
        return self.entries.get(faq_id)
