"""Reading and writing the knowledge base: the YAML folder format and CSV.

Folder format (``knowledge_base/``)::

    store.yaml              # default_locale and store name
    faq/<id>.yaml           # one file per entry: id, topic, status, locales.{xx}.answer/questions
    intents/<intent>.yaml   # labelled example utterances per locale for the intent classifier

CSV format: columns ``id,locale,question,answer`` and an optional ``title`` (the display question), one row
per question variant; rows of one id and locale share the answer and title.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

import yaml

from bot.knowledge.models import Entry, KnowledgeBase, KnowledgeBaseError, LocaleContent

CSV_COLUMNS = ["id", "locale", "question", "answer"]


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise KnowledgeBaseError(f"{path}: not valid UTF-8 (byte {exc.start})") from None
    except OSError as exc:
        raise KnowledgeBaseError(f"{path}: cannot read ({exc.strerror})") from None


def entry_from_dict(data: object, where: str) -> Entry:
    """Build and validate an entry from its YAML/JSON shape."""
    if not isinstance(data, dict):
        raise KnowledgeBaseError(f"{where}: expected a mapping with id and locales")
    locales_raw = data.get("locales")
    if not isinstance(locales_raw, dict):
        raise KnowledgeBaseError(f"{where}: 'locales' must be a mapping of locale -> answer/questions")
    locales: dict[str, LocaleContent] = {}
    for locale, content in locales_raw.items():
        if not isinstance(content, dict):
            raise KnowledgeBaseError(f"{where}: locale {locale!r} must have 'answer' and 'questions'")
        questions = content.get("questions") or []
        if not isinstance(questions, list):
            raise KnowledgeBaseError(f"{where}: locale {locale!r}: 'questions' must be a list")
        locales[str(locale)] = LocaleContent(
            answer=str(content.get("answer") or "").strip(),
            questions=[str(q).strip() for q in questions],
            title=str(content.get("title") or "").strip(),
        )
    entry = Entry(
        id=str(data.get("id") or ""),
        locales=locales,
        topic=str(data.get("topic") or "general"),
        status=str(data.get("status") or "published"),
    )
    if entry.status not in ("draft", "published"):
        raise KnowledgeBaseError(f"{where}: status must be draft or published, not {entry.status!r}")
    entry.validate(where)
    return entry


def entry_to_dict(entry: Entry) -> dict:
    return {
        "id": entry.id,
        "topic": entry.topic,
        "status": entry.status,
        "locales": {
            loc: {**({"title": c.title} if c.title else {}), "answer": c.answer, "questions": list(c.questions)}
            for loc, c in entry.locales.items()
        },
    }


def load_folder(path: Path) -> KnowledgeBase:
    """Load ``faq/*.yaml`` (and ``store.yaml``) from a knowledge base folder."""
    faq_dir = path / "faq"
    if not faq_dir.is_dir():
        raise KnowledgeBaseError(f"{path}: no faq/ folder")
    default_locale = "en"
    store_file = path / "store.yaml"
    if store_file.exists():
        store = _load_yaml(store_file)
        if isinstance(store, dict):
            default_locale = str(store.get("default_locale") or "en")
    kb = KnowledgeBase(default_locale=default_locale)
    for file in sorted(faq_dir.glob("*.yaml")):
        entry = entry_from_dict(_load_yaml(file), str(file))
        if entry.id in kb.entries:
            raise KnowledgeBaseError(f"{file}: duplicate entry id {entry.id!r}")
        kb.entries[entry.id] = entry
    if not kb.entries:
        raise KnowledgeBaseError(f"{faq_dir}: no entries")
    return kb


def _load_yaml(file: Path) -> object:
    try:
        return yaml.safe_load(_read_text(file))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise KnowledgeBaseError(f"{file}:{line} invalid YAML: {getattr(exc, 'problem', exc)}") from None


def save_entry(entry: Entry, faq_dir: Path) -> Path:
    faq_dir.mkdir(parents=True, exist_ok=True)
    target = faq_dir / f"{entry.id}.yaml"
    tmp = target.with_suffix(".yaml.tmp")
    tmp.write_text(yaml.safe_dump(entry_to_dict(entry), allow_unicode=True, sort_keys=False, width=100), "utf-8")
    tmp.replace(target)
    return target


#: The starter knowledge base shipped with the package (its ``intents/`` serve CSV stores and reference uses).
STARTER_KB = Path(__file__).resolve().parents[2] / "knowledge_base"


def load_intents(path: Path) -> dict[str, dict[str, list[str]]]:
    """``intents/<intent>.yaml`` -> {intent: {locale: [examples]}}."""
    out: dict[str, dict[str, list[str]]] = {}
    for file in sorted((path / "intents").glob("*.yaml")):
        data = _load_yaml(file)
        if not isinstance(data, dict) or not isinstance(data.get("examples"), dict):
            raise KnowledgeBaseError(f"{file}: expected 'intent' and 'examples' mapping")
        name = str(data.get("intent") or file.stem)
        out[name] = {str(k): [str(x) for x in (v or [])] for k, v in data["examples"].items()}
    return out


#: A spreadsheet runs a cell starting with one of these as a formula (``=HYPERLINK(...)``, ``@SUM``, DDE via
#: ``+``/``-``); shopper text reaches the knowledge base through missed questions, so every CSV we write
#: neutralises them with a leading ``'`` (OWASP's advice), and our readers take that ``'`` off again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize_cell(value: str) -> str:
    """``value`` safe to open in a spreadsheet: a leading formula character gets a ``'`` before it."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def restore_cell(value: str) -> str:
    """The inverse of :func:`neutralize_cell` (so an exported file imports unchanged)."""
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_STARTS) else value


def parse_csv(text: str, where: str = "csv") -> KnowledgeBase:
    """Parse the ``id,locale,question,answer`` CSV; a bad row raises with its line number."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise KnowledgeBaseError(f"{where}: line 1: missing column(s) {', '.join(missing)}")
    kb = KnowledgeBase()
    for row in reader:
        line = reader.line_num
        row = {k: restore_cell((v or "").strip()) for k, v in row.items() if isinstance(k, str)}
        faq_id, locale = row.get("id", ""), row.get("locale", "")
        question, answer = row.get("question", ""), row.get("answer", "")
        title = (row.get("title") or "").strip()
        if not faq_id or not locale or not question:
            raise KnowledgeBaseError(f"{where}: line {line}: id, locale and question are required")
        entry = kb.entries.setdefault(faq_id, Entry(id=faq_id, locales={}))
        content = entry.locales.get(locale)
        if content is None:
            if not answer:
                raise KnowledgeBaseError(f"{where}: line {line}: first row of {faq_id}/{locale} needs an answer")
            content = entry.locales[locale] = LocaleContent(answer=answer)
        elif answer and answer != content.answer:
            raise KnowledgeBaseError(f"{where}: line {line}: answer differs from earlier rows of {faq_id}/{locale}")
        if title and not content.title:
            content.title = title
        content.questions.append(question)
    for entry in kb.entries.values():
        entry.validate(where)
    if not kb.entries:
        raise KnowledgeBaseError(f"{where}: no rows")
    return kb


def load_csv(path: Path) -> KnowledgeBase:
    return parse_csv(_read_text(path), str(path))


def to_csv(entries: Iterable[Entry], with_topic: bool = False, with_title: bool = False) -> str:
    """The CSV format, one row per question; ``with_topic`` adds a ``topic`` column (the editor's import reads it,
    :func:`parse_csv` ignores it), ``with_title`` a ``title`` column (on the first row of each id and locale)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, *(["topic"] if with_topic else []), *(["title"] if with_title else [])])
    for entry in entries:
        for locale, content in entry.locales.items():
            for i, q in enumerate(content.questions):
                row = [entry.id, locale, q, content.answer]
                row += [entry.topic] if with_topic else []
                row += [content.title if i == 0 else ""] if with_title else []
                writer.writerow([neutralize_cell(str(v or "")) for v in row])
    return buf.getvalue()


def load(path: Path) -> KnowledgeBase:
    """Load a knowledge base from a folder or a CSV file."""
    if path.is_dir():
        return load_folder(path)
    if path.suffix.lower() == ".csv":
        return load_csv(path)
    raise KnowledgeBaseError(f"{path}: expected a knowledge base folder or a .csv file")
