"""Entry content as the editor handles it: normalising, checking, diffing, searching, importing and exporting.

Pure functions (no database). Content is ``{locale: LocaleContent}``; in JSON it is
``{"locales": {locale: {"answer": str, "questions": [str]}}}``. A draft may be incomplete (a locale
without an answer yet); :func:`publish_problems` says what must be fixed before it can be published.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.knowledge import files
from bot.knowledge.files import CSV_COLUMNS
from bot.knowledge.models import ID_PATTERN, LOCALE_PATTERN, Entry, KnowledgeBaseError, LocaleContent

MAX_ANSWER_CHARS = 4000
MAX_QUESTION_CHARS = 500
MAX_QUESTIONS_PER_LOCALE = 300
MAX_LOCALES = 40
MAX_TOPIC_CHARS = 80
MAX_IMPORT_ISSUES = 50
CSV_EXPORT_COLUMNS = (*CSV_COLUMNS, "topic", "title")
MAX_TITLE_CHARS = 300

Locales = dict[str, LocaleContent]


class ContentError(ValueError):
    """Entry content breaks a rule; ``problems`` lists every rule broken."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


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
