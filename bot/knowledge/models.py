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
    """One entry's answer and question variants in one locale."""

    answer: str
    questions: list[str] = field(default_factory=list)


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
