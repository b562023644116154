"""Entry content as the editor handles it: normalising, checking, diffing, searching (files: :mod:`bot.editor.formats`).

Pure functions (no database). Content is ``{locale: LocaleContent}``; in JSON it is
``{"locales": {locale: {"answer": str, "questions": [str]}}}``. A draft may be incomplete (a locale
without an answer yet); :func:`publish_problems` says what must be fixed before it can be published.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from bot.knowledge.models import ID_PATTERN, LOCALE_PATTERN, Entry, KnowledgeBaseError, LocaleContent

MAX_ANSWER_CHARS = 4000
MAX_QUESTION_CHARS = 500
MAX_QUESTIONS_PER_LOCALE = 300
MAX_LOCALES = 40
MAX_TOPIC_CHARS = 80
MAX_TITLE_CHARS = 300

Locales = dict[str, LocaleContent]


class ContentError(ValueError):
    """Entry content breaks a rule; ``problems`` lists every rule broken."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


# ---------------------------------------------------------------------------------------------- normalising
def fold(text: str) -> str:
    """Lowercase without accents, for search (``"Envío"`` -> ``"envio"``)."""
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in text if not unicodedata.combining(c))


def clean_questions(questions: Iterable[str]) -> list[str]:
    """Stripped, non-empty, without duplicates (case-insensitive), order kept."""
    seen: set[str] = set()
    out: list[str] = []
    for q in questions:
        q = " ".join(str(q).split())
        key = q.casefold()
        if q and key not in seen:
            seen.add(key)
            out.append(q)
    return out


def normalize_topic(topic: object) -> str:
    text = " ".join(str(topic or "").split()) or "general"
    if len(text) > MAX_TOPIC_CHARS:
        raise ContentError([f"topic: at most {MAX_TOPIC_CHARS} characters"])
    return text


def check_id(entry_id: object) -> str:
    """The entry id, or :class:`ContentError` (lowercase letters, digits, - and _, at most 80)."""
    if not isinstance(entry_id, str) or not ID_PATTERN.match(entry_id):
        raise ContentError([f"invalid entry id {entry_id!r}: lowercase letters, digits, - and _ (at most 80)"])
    return entry_id


def normalize_locales(raw: object) -> Locales:
    """Draft rules: valid locale codes, size limits; answers may still be empty. Raises :class:`ContentError`."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ContentError(["locales must be a mapping of locale -> {answer, questions}"])
    problems: list[str] = []
    out: Locales = {}
    if len(raw) > MAX_LOCALES:
        problems.append(f"at most {MAX_LOCALES} locales")
    for locale, content in raw.items():
        loc = str(locale).strip()
        if not LOCALE_PATTERN.match(loc):
            problems.append(f"invalid locale {loc!r} (e.g. en, es, pt-BR)")
            continue
        if isinstance(content, LocaleContent):
            answer, questions, title = content.answer, content.questions, content.title
        elif isinstance(content, Mapping):
            answer, questions = content.get("answer") or "", content.get("questions") or []
            title = content.get("title") or ""
        else:
            problems.append(f"{loc}: expected answer and questions")
            continue
        if not isinstance(answer, str) or not isinstance(title, str):
            problems.append(f"{loc}: answer and title must be text")
            continue
        title = " ".join(title.split())
        if len(title) > MAX_TITLE_CHARS:
            problems.append(f"{loc}: title is {len(title)} characters; at most {MAX_TITLE_CHARS}")
        if isinstance(questions, str) or not isinstance(questions, list | tuple):
            problems.append(f"{loc}: questions must be a list")
            continue
        answer = answer.strip()
        qs = clean_questions(questions)
        if len(answer) > MAX_ANSWER_CHARS:
            problems.append(f"{loc}: answer is {len(answer)} characters; at most {MAX_ANSWER_CHARS}")
        if len(qs) > MAX_QUESTIONS_PER_LOCALE:
            problems.append(f"{loc}: at most {MAX_QUESTIONS_PER_LOCALE} questions")
        long = [q for q in qs if len(q) > MAX_QUESTION_CHARS]
        if long:
            problems.append(f"{loc}: question {long[0][:40]!r}... is over {MAX_QUESTION_CHARS} characters")
        if not answer and not qs:
            continue  # an empty tab is no locale
        out[loc] = LocaleContent(answer=answer, questions=qs, title=title)
    if problems:
        raise ContentError(problems)
    return out


def publish_problems(entry_id: str, locales: Locales) -> list[str]:
    """What keeps this content from being published (empty: it can be)."""
    problems: list[str] = []
    if not locales:
        problems.append("needs at least one language with an answer and questions")
    for loc, c in locales.items():
        if not c.answer:
            problems.append(f"{loc}: the answer is empty")
        if not c.questions:
            problems.append(f"{loc}: needs at least one question")
    if not problems:
        try:
            to_entry(entry_id, "general", locales).validate()
        except KnowledgeBaseError as exc:
            problems.append(str(exc))
    return problems


# ---------------------------------------------------------------------------------------------- JSON shapes
def locales_to_json(locales: Locales) -> dict[str, dict[str, Any]]:
    return {loc: {**({"title": c.title} if c.title else {}), "answer": c.answer, "questions": list(c.questions)}
            for loc, c in locales.items()}


def locales_from_json(data: Mapping[str, Any] | None) -> Locales:
    raw = (data or {}).get("locales") or {}
    return {
        str(loc): LocaleContent(answer=str(c.get("answer") or ""), questions=[str(q) for q in c.get("questions") or []],
                                title=str(c.get("title") or ""))
        for loc, c in raw.items()
    }


def to_entry(entry_id: str, topic: str, locales: Locales, status: str = "published") -> Entry:
    """The engine's :class:`Entry` for this content."""
    return Entry(
        id=entry_id,
        topic=topic,
        status=status,
        locales={loc: LocaleContent(answer=c.answer, questions=list(c.questions), title=c.title)
                 for loc, c in locales.items()},
    )


def search_text(entry_id: str, topic: str, locales: Locales) -> str:
    parts = [entry_id, topic]
    for c in locales.values():
        parts.append(c.title)
        parts.append(c.answer)
        parts.extend(c.questions)
    return fold("\n".join(parts))


def diff(old_topic: str | None, old: Locales, new_topic: str, new: Locales) -> list[str]:
    """Human-readable changes from one version of an entry to the next."""
    changes: list[str] = []
    if old_topic is not None and old_topic != new_topic:
        changes.append(f"topic: {old_topic} -> {new_topic}")
    for loc in sorted(set(old) | set(new)):
        before, after = old.get(loc), new.get(loc)
        if before is None and after is not None:
            changes.append(f"{loc}: added ({'answer, ' if after.answer else 'no answer, '}"
                           f"{len(after.questions)} question{'s' if len(after.questions) != 1 else ''})")
        elif after is None and before is not None:
            changes.append(f"{loc}: removed")
        elif before is not None and after is not None:
            parts = ["title edited"] if before.title != after.title else []
            if before.answer != after.answer:
                parts.append("answer edited" if before.answer and after.answer else
                             "answer added" if after.answer else "answer cleared")
            added = [q for q in after.questions if q not in before.questions]
            removed = [q for q in before.questions if q not in after.questions]
            if added:
                parts.append(f"+{len(added)} question{'s' if len(added) != 1 else ''}")
            if removed:
                parts.append(f"-{len(removed)} question{'s' if len(removed) != 1 else ''}")
            if not added and not removed and before.questions != after.questions:
                parts.append("questions reordered")
            if parts:
                changes.append(f"{loc}: {', '.join(parts)}")
    return changes
