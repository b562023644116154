"""The answer engine's view of the entries: what shoppers get, what changed since a revision, the drafts."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.editor import content as C
from bot.editor.models import KbEntry
from bot.editor.service import current_revision, kb_state, working_locales
from bot.knowledge.models import Entry, KnowledgeBase


def _engine_entry(row: KbEntry) -> Entry:
    published = row.published or {}
    return C.to_entry(row.id, str(published.get("topic") or row.topic), C.locales_from_json(published))


def published_kb(session: Session) -> tuple[KnowledgeBase, int]:
    """The published entries as the answer engine's knowledge base, and the revision they are at."""
    state = kb_state(session)
    rows = session.scalars(
        select(KbEntry).where(KbEntry.published.is_not(None), KbEntry.deleted.is_(False)).order_by(KbEntry.id)
    ).all()
    kb = KnowledgeBase(entries={r.id: _engine_entry(r) for r in rows}, default_locale=state.default_locale)
    return kb, state.revision


def changes_since(session: Session, revision: int) -> tuple[dict[str, Entry | None], int]:
    """Entries whose published copy changed after ``revision`` (None: no longer published), and the revision now."""
    now = current_revision(session)
    if now <= revision:
        return {}, now
    rows = session.scalars(
        select(KbEntry).where(KbEntry.published_revision > revision).order_by(KbEntry.published_revision)
    ).all()
    return {r.id: (_engine_entry(r) if r.published is not None and not r.deleted else None) for r in rows}, now


def working_entries(session: Session) -> dict[str, Entry | None]:
    """Entries whose working copy differs from what shoppers get, as the engine would see them if published."""
    rows = session.scalars(select(KbEntry).where(KbEntry.status != "published")).all()
    out: dict[str, Entry | None] = {}
    for r in rows:
        if r.deleted:
            continue
        locs = {loc: c for loc, c in working_locales(r).items() if c.questions}
        out[r.id] = C.to_entry(r.id, r.topic, locs) if locs else None
    return out
