"""Knowledge base files the editor reads and writes: CSV and JSON imports (checked line by line) and exports.

Pure functions (no database). An import is read completely and every bad line is reported at once
(:class:`ImportFailed`); the entry rules themselves are :mod:`bot.editor.content`'s.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.editor.content import (
    MAX_ANSWER_CHARS,
    MAX_QUESTION_CHARS,
    MAX_QUESTIONS_PER_LOCALE,
    MAX_TITLE_CHARS,
    ContentError,
    Locales,
    locales_to_json,
    normalize_locales,
    normalize_topic,
    publish_problems,
    to_entry,
)
from bot.knowledge import files
from bot.knowledge.files import CSV_COLUMNS
from bot.knowledge.models import ID_PATTERN, LOCALE_PATTERN, LocaleContent

MAX_IMPORT_ISSUES = 50
CSV_EXPORT_COLUMNS = (*CSV_COLUMNS, "topic", "title")


@dataclass(frozen=True)
class ImportIssue:
    """One reason an import was refused; ``line`` is 1-based (None when it is about the whole file)."""

    line: int | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "message": self.message}


class ImportFailed(ValueError):
    """The import file is broken; nothing of it was applied."""

    def __init__(self, issues: list[ImportIssue]) -> None:
        first = issues[0] if issues else ImportIssue(None, "empty import")
        where = f"line {first.line}: " if first.line else ""
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        super().__init__(f"{where}{first.message}{more}")
        self.issues = issues


@dataclass
class ImportedEntry:
    """One entry read from an import file, with the line it starts on."""

    id: str
    topic: str | None
    locales: Locales
    line: int
    lines: dict[str, int] = field(default_factory=dict)  # locale -> first line


# ---------------------------------------------------------------------------------------------- import
def decode_upload(data: bytes) -> str:
    """UTF-8 (a BOM is dropped); a bad byte is reported with its line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ImportFailed([ImportIssue(line, f"not valid UTF-8 (byte {exc.start})")]) from None


def parse_import(text: str, fmt: str) -> list[ImportedEntry]:
    """Read and check a whole CSV or JSON import; raises :class:`ImportFailed` listing every bad line."""
    if fmt == "csv":
        return parse_csv(text)
    if fmt == "json":
        return parse_json(text)
    raise ImportFailed([ImportIssue(None, f"unknown format {fmt!r}; use csv or json")])


class _Issues:
    def __init__(self) -> None:
        self.items: list[ImportIssue] = []

    def add(self, line: int | None, message: str) -> None:
        if len(self.items) < MAX_IMPORT_ISSUES:
            self.items.append(ImportIssue(line, message))

    def raise_if_any(self) -> None:
        if self.items:
            raise ImportFailed(self.items)


def parse_csv(text: str) -> list[ImportedEntry]:
    """``id,locale,question,answer[,topic][,title]``: one row per question; the first row of an id and locale carries
    the answer, later rows repeat it or leave it empty."""
    issues = _Issues()
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFailed([ImportIssue(None, "the file is empty")]) from None
    except csv.Error as exc:
        raise ImportFailed([ImportIssue(1, f"unreadable CSV: {exc}")]) from None
    names = [h.strip().lower() for h in header]
    missing = [c for c in CSV_COLUMNS if c not in names]
    if missing:
        raise ImportFailed([ImportIssue(1, f"missing column(s) {', '.join(missing)}; expected "
                                           f"{','.join(CSV_EXPORT_COLUMNS)}")])
    col = {name: names.index(name) for name in CSV_EXPORT_COLUMNS if name in names}
    entries: dict[str, ImportedEntry] = {}
    answers_seen: dict[tuple[str, str], str] = {}
    while True:
        line = reader.line_num + 1  # the line this row starts on
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            issues.add(reader.line_num, f"unreadable CSV: {exc}")
            break
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(names):
            row = row + [""] * (len(names) - len(row))

        def cell(name: str, row: list[str] = row) -> str:
            return files.restore_cell(row[col[name]].strip()) if name in col else ""

        faq_id, locale, question, answer, topic = (cell("id"), cell("locale"), " ".join(cell("question").split()),
                                                   cell("answer"), cell("topic"))
        title = " ".join(cell("title").split())
        if not faq_id or not locale or not question:
            issues.add(line, "id, locale and question are required")
            continue
        if not ID_PATTERN.match(faq_id):
            issues.add(line, f"invalid id {faq_id!r}: lowercase letters, digits, - and _ (at most 80)")
            continue
        if not LOCALE_PATTERN.match(locale):
            issues.add(line, f"invalid locale {locale!r} (e.g. en, es, pt-BR)")
            continue
        if len(question) > MAX_QUESTION_CHARS:
            issues.add(line, f"question is over {MAX_QUESTION_CHARS} characters")
            continue
        if len(answer) > MAX_ANSWER_CHARS:
            issues.add(line, f"answer is over {MAX_ANSWER_CHARS} characters")
            continue
        entry = entries.get(faq_id)
        if entry is None:
            entry = entries[faq_id] = ImportedEntry(id=faq_id, topic=topic or None, locales={}, line=line)
        elif topic and entry.topic and topic != entry.topic:
            issues.add(line, f"topic {topic!r} differs from {entry.topic!r} on line {entry.line}")
            continue
        elif topic and not entry.topic:
            entry.topic = topic
        key = (faq_id, locale)
        if key not in answers_seen:
            if not answer:
                issues.add(line, f"first row of {faq_id}/{locale} needs an answer")
                continue
            answers_seen[key] = answer
            entry.locales[locale] = LocaleContent(answer=answer, questions=[])
            entry.lines[locale] = line
        elif answer and answer != answers_seen[key]:
            issues.add(line, f"answer differs from the one on line {entry.lines[locale]} for {faq_id}/{locale}")
            continue
        content = entry.locales[locale]
        if title and not content.title:
            content.title = title[:MAX_TITLE_CHARS]
        if question.casefold() not in {q.casefold() for q in content.questions}:
            content.questions.append(question)
        if len(content.questions) > MAX_QUESTIONS_PER_LOCALE:
            issues.add(line, f"{faq_id}/{locale}: more than {MAX_QUESTIONS_PER_LOCALE} questions")
    if not entries and not issues.items:
        issues.add(None, "no rows")
    issues.raise_if_any()
    return list(entries.values())


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _json_entry_positions(text: str) -> list[tuple[int, Any]]:
    """``(line, element)`` for each element of the top-level array or of ``{"entries": [...]}``."""
    decoder = json.JSONDecoder()

    def walk_array(pos: int) -> list[tuple[int, Any]]:
        out: list[tuple[int, Any]] = []
        pos = _skip_ws(text, pos + 1)
        if pos < len(text) and text[pos] == "]":
            return out
        while True:
            pos = _skip_ws(text, pos)
            value, end = decoder.raw_decode(text, pos)
            out.append((_line_of(text, pos), value))
            pos = _skip_ws(text, end)
            if text[pos] == "]":
                return out
            pos += 1  # the comma

    pos = _skip_ws(text, 0)
    if text[pos] == "[":
        return walk_array(pos)
    pos = _skip_ws(text, pos + 1)  # inside the top-level object
    while pos < len(text) and text[pos] != "}":
        key, end = decoder.raw_decode(text, pos)
        pos = _skip_ws(text, _skip_ws(text, end) + 1)  # past the colon
        if key == "entries" and text[pos] == "[":
            return walk_array(pos)
        _, end = decoder.raw_decode(text, pos)
        pos = _skip_ws(text, end)
        if text[pos] == ",":
            pos = _skip_ws(text, pos + 1)
    return []


def parse_json(text: str) -> list[ImportedEntry]:
    """A list of entries, or ``{"entries": [...]}``; each ``{"id", "topic", "locales": {loc: {answer, questions}}}``."""
    issues = _Issues()
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFailed([ImportIssue(exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})")]) from None
    if not (isinstance(doc, list) or (isinstance(doc, dict) and isinstance(doc.get("entries"), list))):
        raise ImportFailed([ImportIssue(1, 'expected a list of entries or {"entries": [...]}')])
    items = _json_entry_positions(text)
    entries: dict[str, ImportedEntry] = {}
    for line, item in items:
        if not isinstance(item, dict):
            issues.add(line, "each entry must be an object with id, topic and locales")
            continue
        faq_id = item.get("id")
        if not isinstance(faq_id, str) or not ID_PATTERN.match(faq_id):
            issues.add(line, f"invalid id {faq_id!r}: lowercase letters, digits, - and _ (at most 80)")
            continue
        if faq_id in entries:
            issues.add(line, f"duplicate id {faq_id!r} (first on line {entries[faq_id].line})")
            continue
        try:
            topic = normalize_topic(item.get("topic")) if item.get("topic") is not None else None
            locales = normalize_locales(item.get("locales"))
        except ContentError as exc:
            for problem in exc.problems:
                issues.add(line, f"{faq_id}: {problem}")
            continue
        problems = publish_problems(faq_id, locales)
        if problems:
            for problem in problems:
                issues.add(line, f"{faq_id}: {problem}")
            continue
        entries[faq_id] = ImportedEntry(id=faq_id, topic=topic, locales=locales, line=line)
    if not entries and not issues.items:
        issues.add(None, "no entries")
    issues.raise_if_any()
    return list(entries.values())


# ---------------------------------------------------------------------------------------------- export
@dataclass(frozen=True)
class ExportEntry:
    """What export writes for one entry."""

    id: str
    topic: str
    status: str
    locales: Locales


def export_csv(entries: Iterable[ExportEntry]) -> str:
    """``id,locale,question,answer,topic,title`` (readable by ``borderless kb-import`` and by import here)."""
    return files.to_csv((to_entry(e.id, e.topic, e.locales, e.status) for e in entries), with_topic=True,
                        with_title=True)


def export_json(entries: Iterable[ExportEntry]) -> str:
    body = {
        "entries": [
            {"id": e.id, "topic": e.topic, "status": e.status, "locales": locales_to_json(e.locales)} for e in entries
        ]
    }
    return json.dumps(body, ensure_ascii=False, indent=2) + "\n"
