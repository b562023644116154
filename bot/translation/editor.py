"""Editor: "Machine-translate missing languages" for one entry, and which machine translations went stale.

Filling writes the missing locales into the entry's working copy through the editor's own ``update_entry`` (so
it is versioned, needs the entry's version, and shoppers see nothing until an editor reviews and publishes).
Each filled locale gets a row here: the source locale, a hash of the source answer it was made from, and a hash
of the machine text. When the source answer changes, the row is ``stale``; when an editor rewrites the text it
is ``edited`` (reviewed by a person, no longer machine output).
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.types import iso, utcnow
from bot.editor import content as C
from bot.editor import service as editor
from bot.editor.models import KbEntry, KbState
from bot.knowledge.models import LocaleContent
from bot.nlu.base import SUPPORTED_LOCALES
from bot.translation.models import MachineTranslation
from bot.translation.service import TranslationService

log = logging.getLogger(__name__)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def source_locale(session: Session, locales: C.Locales) -> str | None:
    """The store's default locale when the entry has an answer in it, else its first locale with an answer."""
    state = session.get(KbState, 1)
    default = state.default_locale if state is not None else "en"
    with_answer = [loc for loc, c in locales.items() if c.answer]
    if default in with_answer:
        return default
    return with_answer[0] if with_answer else None


def status(session: Session, entry_id: str) -> list[dict[str, Any]]:
    """The entry's machine-translated locales: source, engine, ``stale`` (source changed), ``edited``."""
    row = session.get(KbEntry, entry_id)
    if row is None:
        raise editor.NotFound(f"no entry {entry_id!r}")
    locales = C.locales_from_json(row.content)
    out = []
    for mt in session.scalars(select(MachineTranslation).where(MachineTranslation.entry_id == entry_id)
                              .order_by(MachineTranslation.locale)):
        source = locales.get(mt.source_locale)
        target = locales.get(mt.locale)
        if target is None:
            continue  # the editor removed the locale
        out.append({
            "locale": mt.locale, "source_locale": mt.source_locale, "engine": mt.engine,
            "stale": source is None or _hash(source.answer) != mt.source_hash,
            "edited": _hash(target.answer) != mt.text_hash,
            "created_at": iso(mt.created_at), "created_by": mt.created_by,
        })
    return out


def plan(session: Session, entry_id: str, translator: TranslationService,
         targets: list[str] | None = None) -> tuple[str | None, C.Locales, list[str]]:
    """``(source locale, current locales, locales to fill)``: missing ones the translator covers."""
    row = session.get(KbEntry, entry_id)
    if row is None or row.deleted:
        raise editor.NotFound(f"no entry {entry_id!r}")
    locales = C.locales_from_json(row.content)
    source = source_locale(session, locales)
    wanted = targets or list(SUPPORTED_LOCALES)
    missing = [loc for loc in wanted if loc not in locales and source and translator.covers(source, loc)]
    return source, locales, missing


def translate_locales(translator: TranslationService, source: str, content: LocaleContent,
                      missing: list[str]) -> tuple[dict[str, LocaleContent], dict[str, str], list[str]]:
    """Translate answer and questions into each missing locale (outside any transaction: it is slow).

    Returns ``(filled, engine per locale, failed locales)``; a locale whose answer fails is left out."""
    filled: dict[str, LocaleContent] = {}
    engines: dict[str, str] = {}
    failed: list[str] = []
    for loc in missing:
        answer = translator.translate(content.answer, source, loc)
        if answer is None:
            failed.append(loc)
            continue
        questions = [q.text for q in (translator.translate(x, source, loc) for x in content.questions) if q]
        filled[loc] = LocaleContent(answer=answer.text, questions=questions)
        engines[loc] = answer.engine
    return filled, engines, failed


def fill_missing(session: Session, actor: editor.Actor, entry_id: str, expected_version: int | None, source: str,
                 source_answer: str, filled: dict[str, LocaleContent], engines: dict[str, str]) -> KbEntry:
    """Write the translated locales into the working copy (a versioned edit) and remember them as machine-made."""
    row = session.get(KbEntry, entry_id)
    if row is None:
        raise editor.NotFound(f"no entry {entry_id!r}")
    locales = C.locales_from_json(row.content)
    new = {loc: c for loc, c in filled.items() if loc not in locales}  # someone may have added one meanwhile
    row = editor.update_entry(session, actor, entry_id, expected_version, row.topic,
                              {**C.locales_to_json(locales), **C.locales_to_json(new)})
    for loc, c in new.items():
        mt = session.scalar(select(MachineTranslation).where(MachineTranslation.entry_id == entry_id,
                                                             MachineTranslation.locale == loc))
        if mt is None:
            mt = MachineTranslation(entry_id=entry_id, locale=loc)
            session.add(mt)
        mt.source_locale, mt.source_hash, mt.text_hash = source, _hash(source_answer), _hash(c.answer)
        mt.engine, mt.created_by, mt.created_at = engines[loc], actor.username, utcnow()
    log.info("%s machine-translated %s into %s", actor.username, entry_id, ", ".join(sorted(new)) or "nothing")
    return row
