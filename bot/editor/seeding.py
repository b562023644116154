"""First start: the knowledge base files become the database's entries, once."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.types import utcnow
from bot.editor import content as C
from bot.editor.models import KbEntry, KbState
from bot.editor.service import Actor, kb_state, record_change, set_content
from bot.knowledge import files
from bot.knowledge.models import KnowledgeBase, KnowledgeBaseError, LocaleContent
from bot.settings import Settings

log = logging.getLogger(__name__)


def is_seeded(session: Session) -> bool:
    state = session.get(KbState, 1)
    return state is not None and state.seeded_at is not None


def seed_from_files(session: Session, settings: Settings) -> int:
    """First start: copy the knowledge base files (``settings.kb_path``) into the database. Returns entries added.

    Runs once: ``kb_state.seeded_at`` marks it done, so entries deleted later do not come back.
    """
    if is_seeded(session):
        return 0
    path = settings.kb_path
    try:
        kb = files.load(path)
    except KnowledgeBaseError as exc:
        log.error("cannot seed the knowledge base from %s: %s; starting empty", path, exc)
        kb = KnowledgeBase(default_locale=settings.default_locale)
    actor = Actor(None, "seed")
    state = kb_state(session, lock=True)
    if state.seeded_at is not None:
        return 0
    now = utcnow()
    for entry in sorted(kb.entries.values(), key=lambda e: e.id):
        if session.get(KbEntry, entry.id) is not None:
            continue
        locs = {loc: LocaleContent(c.answer, C.clean_questions(c.questions), c.title)
                for loc, c in entry.locales.items()}
        row = KbEntry(id=entry.id, version=1, published=None, published_revision=0, deleted=False, created_at=now,
                      created_by=actor.username, updated_at=now, updated_by=actor.username)
        set_content(row, entry.topic or "general", locs)
        if entry.status == "published":
            row.published = {"topic": row.topic, "locales": C.locales_to_json(locs)}
            row.published_at, row.published_by = now, actor.username
            row.status = "published"
        session.add(row)
        session.flush()
        record_change(session, row, actor, "seeded", [f"seeded from {path.name}"])
    state.revision += 1
    state.default_locale = kb.default_locale or settings.default_locale
    state.seeded_from, state.seeded_at = str(path), now
    log.info("seeded the knowledge base with %d entries from %s", len(kb.entries), path)
    return len(kb.entries)


def ensure_seeded(session_factory: Any, settings: Settings) -> None:
    """Seed in its own transaction; a concurrent seeder winning the race is fine."""
    try:
        with session_factory() as session:
            seed_from_files(session, settings)
    except IntegrityError:
        log.info("another process seeded the knowledge base first")
