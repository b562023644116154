"""The editor's operations on the knowledge base, each inside the caller's transaction.

Rules:

- every change bumps the entry's ``version`` and writes a ``kb_entry_versions`` row (who, when, what, snapshot);
  a change names the version it was based on (``If-Match``) and fails with :class:`VersionConflict` when the
  entry moved on meanwhile (optimistic locking: two editors never silently overwrite each other);
- shoppers only see ``published`` content; every change of it bumps ``kb_state.revision`` and stamps the entry's
  ``published_revision``, which is how running engines find what to update (:mod:`bot.editor.live`);
- an import is checked completely before anything is written, and written in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.types import iso, utcnow
from bot.editor import content as C
from bot.editor.missed import (
    GROUP_THRESHOLD,
    MAX_OPEN_FOR_GROUPING,
    MissedGroup,
    agent_answers_for,
    cluster,
    informativeness,
)
from bot.editor.models import KbEntry, KbEntryVersion, KbState, MissedQuestion
from bot.knowledge import files
from bot.knowledge.models import Entry, KnowledgeBase, KnowledgeBaseError, LocaleContent
from bot.nlu.base import SUPPORTED_LOCALES
from bot.settings import Settings

log = logging.getLogger(__name__)

#: A locale with fewer questions than this is flagged in the completeness view.
FEW_QUESTIONS = 3


# ---------------------------------------------------------------------------------------------- errors
class EditorError(Exception):
    """A refused editor operation; ``status`` is the HTTP status the route answers with."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.extra}


class NotFound(EditorError):
    status, code = 404, "not_found"


class AlreadyExists(EditorError):
    status, code = 409, "exists"


class VersionConflict(EditorError):
    """The entry changed since the version the caller based its change on."""

    status, code = 409, "version_conflict"


class PreconditionRequired(EditorError):
    status, code = 428, "version_required"


class Invalid(EditorError):
    status, code = 422, "invalid"


class ImportRejected(EditorError):
    status, code = 422, "import_rejected"


@dataclass(frozen=True)
class Actor:
    """Who makes a change (from the logged-in principal)."""

    id: int | None
    username: str


# ---------------------------------------------------------------------------------------------- helpers
def _locales(row: KbEntry) -> C.Locales:
    return C.locales_from_json(row.content)


def _published_locales(row: KbEntry) -> C.Locales | None:
    return C.locales_from_json(row.published) if row.published is not None else None


def _status(topic: str, locales: C.Locales, published: Mapping[str, Any] | None) -> str:
    if published is None:
        return "draft"
    same = published.get("topic") == topic and published.get("locales") == C.locales_to_json(locales)
    return "published" if same else "changed"


def entry_summary(row: KbEntry) -> dict[str, Any]:
    """What the entry list shows."""
    locales = _locales(row)
    published = _published_locales(row) or {}
    return {
        "id": row.id,
        "topic": row.topic,
        "status": row.status,
        "version": row.version,
        "deleted": row.deleted,
        "locales": sorted(locales),
        "published_locales": sorted(published),
        "questions": sum(len(c.questions) for c in locales.values()),
        "updated_at": iso(row.updated_at),
        "updated_by": row.updated_by,
        "published_at": iso(row.published_at),
    }


def entry_json(row: KbEntry) -> dict[str, Any]:
    """The whole entry: working copy, published copy, status and what keeps it from being published."""
    locales = _locales(row)
    return {
        **entry_summary(row),
        "locales": C.locales_to_json(locales),
        "published": row.published,
        "problems": C.publish_problems(row.id, locales),
        "created_at": iso(row.created_at),
        "created_by": row.created_by,
        "published_by": row.published_by,
    }


def _lock_entry(session: Session, entry_id: str, include_deleted: bool = False) -> KbEntry:
    row = session.get(KbEntry, entry_id, with_for_update=True, populate_existing=True)
    if row is None or (row.deleted and not include_deleted):
        raise NotFound(f"no entry {entry_id!r}")
    return row


def _check_version(row: KbEntry, expected: int | None) -> None:
    if expected is None:
        raise PreconditionRequired("send the version you edited (If-Match header or 'version')",
                                   current_version=row.version)
    if expected != row.version:
        raise VersionConflict(
            f"{row.id} was changed by {row.updated_by or 'someone'} since you opened it (your version {expected}, "
            f"now {row.version}); reload it and apply your change again",
            current_version=row.version, updated_by=row.updated_by, updated_at=iso(row.updated_at),
        )


def _state(session: Session, lock: bool = False) -> KbState:
    state = session.get(KbState, 1, with_for_update=lock, populate_existing=lock)
    if state is None:
        state = KbState(id=1, revision=0, default_locale="en")
        session.add(state)
        session.flush()
    return state


def _bump_revision(session: Session) -> int:
    state = _state(session, lock=True)
    state.revision += 1
    return state.revision


def current_revision(session: Session) -> int:
    return session.scalar(select(KbState.revision).where(KbState.id == 1)) or 0


def _snapshot(row: KbEntry) -> dict[str, Any]:
    return {"topic": row.topic, "locales": row.content.get("locales", {}), "status": row.status,
            "deleted": row.deleted, "published": row.published is not None}


def _record(session: Session, row: KbEntry, actor: Actor, action: str, changes: list[str]) -> None:
    session.add(KbEntryVersion(entry_id=row.id, version=row.version, action=action, changes=changes,
                               snapshot=_snapshot(row), user_id=actor.id, username=actor.username,
                               created_at=row.updated_at))


def _next_version(session: Session, entry_id: str) -> int:
    """The next version number for ``entry_id`` (history survives delete and re-create)."""
    return (session.scalar(select(func.max(KbEntryVersion.version)).where(KbEntryVersion.entry_id == entry_id))
            or 0) + 1


def _set_content(row: KbEntry, topic: str, locales: C.Locales) -> None:
    row.topic = topic
    row.content = {"locales": C.locales_to_json(locales)}
    row.search_text = C.search_text(row.id, topic, locales)
    row.status = _status(topic, locales, row.published)


def _touch(session: Session, row: KbEntry, actor: Actor) -> None:
    row.version = max(row.version + 1, _next_version(session, row.id))
    row.updated_at = utcnow()
    row.updated_by = actor.username


def _set_published(session: Session, row: KbEntry, published: dict[str, Any] | None, actor: Actor) -> None:
    row.published = published
    row.published_revision = _bump_revision(session)
    if published is not None:
        row.published_at, row.published_by = utcnow(), actor.username
    row.status = _status(row.topic, _locales(row), published)


def _parse(topic: object, locales: object) -> tuple[str, C.Locales]:
    try:
        return C.normalize_topic(topic), C.normalize_locales(locales)
    except C.ContentError as exc:
        raise Invalid(str(exc), problems=exc.problems) from None


# ---------------------------------------------------------------------------------------------- reading
def list_entries(
    session: Session,
    q: str | None = None,
    status: str | None = None,
    missing: str | None = None,
    limit: int = 100,
    offset: int = 0,
    sort: str = "id",
) -> dict[str, Any]:
    """Entries matching a search (id, topic, answers, questions; accents and case ignored)."""
    query = select(KbEntry).where(KbEntry.deleted.is_(False))
    if q and q.strip():
        needle = C.fold(q.strip()).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(KbEntry.search_text.like(f"%{needle}%", escape="\\"))
    if status:
        query = query.where(KbEntry.status == status)
    query = query.order_by(KbEntry.updated_at.desc() if sort == "updated" else KbEntry.id)
    rows = session.scalars(query).all()
    if missing:
        rows = [r for r in rows if missing not in (r.content.get("locales") or {})]
    limit = max(1, min(limit, 1000))
    return {"total": len(rows), "items": [entry_summary(r) for r in rows[offset : offset + limit]]}


def get_entry(session: Session, entry_id: str) -> dict[str, Any]:
    row = session.get(KbEntry, entry_id)
    if row is None or row.deleted:
        raise NotFound(f"no entry {entry_id!r}")
    return entry_json(row)


def history(session: Session, entry_id: str) -> list[dict[str, Any]]:
    """Every version of an entry, newest first (also for a deleted entry)."""
    rows = session.scalars(
        select(KbEntryVersion).where(KbEntryVersion.entry_id == entry_id).order_by(KbEntryVersion.version.desc())
    ).all()
    if not rows:
        raise NotFound(f"no history for {entry_id!r}")
    return [
        {"version": v.version, "action": v.action, "changes": v.changes, "username": v.username,
         "created_at": iso(v.created_at), "status": v.snapshot.get("status")}
        for v in rows
    ]


def get_version(session: Session, entry_id: str, version: int) -> dict[str, Any]:
    v = session.scalar(
        select(KbEntryVersion).where(KbEntryVersion.entry_id == entry_id, KbEntryVersion.version == version)
    )
    if v is None:
        raise NotFound(f"{entry_id!r} has no version {version}")
    return {"entry_id": entry_id, "version": v.version, "action": v.action, "changes": v.changes,
            "username": v.username, "created_at": iso(v.created_at), "snapshot": v.snapshot}


def deleted_entries(session: Session) -> list[dict[str, Any]]:
    """Deleted entries (restorable from their history)."""
    rows = session.scalars(select(KbEntry).where(KbEntry.deleted.is_(True)).order_by(KbEntry.updated_at.desc()))
    return [entry_summary(r) for r in rows]


def completeness(session: Session) -> dict[str, Any]:
    """Which entries lack which languages: one cell per entry and locale.

    Cell states: ``ok``; ``missing`` (no such language); ``no_answer``; ``no_questions``; ``few_questions``
    (fewer than 3); ``unpublished`` (in the working copy, not yet live on a published entry).
    """
    rows = session.scalars(select(KbEntry).where(KbEntry.deleted.is_(False)).order_by(KbEntry.id)).all()
    present = {loc for r in rows for loc in (r.content.get("locales") or {})}
    locales = [*SUPPORTED_LOCALES, *sorted(present - set(SUPPORTED_LOCALES))]
    out_rows = []
    totals = dict.fromkeys(locales, 0)
    for r in rows:
        working = _locales(r)
        published = _published_locales(r)
        cells: dict[str, str] = {}
        for loc in locales:
            c = working.get(loc)
            if c is None:
                cells[loc] = "missing"
            elif not c.answer:
                cells[loc] = "no_answer"
            elif not c.questions:
                cells[loc] = "no_questions"
            elif published is not None and loc not in published:
                cells[loc] = "unpublished"
            elif len(c.questions) < FEW_QUESTIONS:
                cells[loc] = "few_questions"
            else:
                cells[loc] = "ok"
            if cells[loc] in ("ok", "few_questions"):
                totals[loc] += 1
        out_rows.append({"id": r.id, "topic": r.topic, "status": r.status, "cells": cells,
                         "missing": [loc for loc, s in cells.items() if s == "missing"]})
    return {"locales": locales, "entries": out_rows, "complete": totals, "total": len(rows)}


# ---------------------------------------------------------------------------------------------- writing
def create_entry(session: Session, actor: Actor, entry_id: object, topic: object, locales: object,
                 action: str = "created") -> KbEntry:
    """A new draft entry (a deleted entry with the same id comes back, keeping its history)."""
    try:
        entry_id = C.check_id(entry_id)
    except C.ContentError as exc:
        raise Invalid(str(exc), problems=exc.problems) from None
    topic_s, locs = _parse(topic, locales)
    row = session.get(KbEntry, entry_id, with_for_update=True, populate_existing=True)
    now = utcnow()
    if row is not None and not row.deleted:
        raise AlreadyExists(f"an entry {entry_id!r} exists already", current_version=row.version)
    if row is None:
        row = KbEntry(id=entry_id, version=_next_version(session, entry_id), published=None, published_revision=0,
                      deleted=False, created_at=now, created_by=actor.username, updated_at=now,
                      updated_by=actor.username)
        session.add(row)
        _set_content(row, topic_s, locs)
    else:  # revive a deleted entry
        row.deleted = False
        row.created_at, row.created_by = now, actor.username
        _set_content(row, topic_s, locs)
        _touch(session, row, actor)
    session.flush()
    _record(session, row, actor, action, C.diff(None, {}, topic_s, locs))
    log.info("%s created entry %s", actor.username, entry_id)
    return row


def update_entry(session: Session, actor: Actor, entry_id: str, expected_version: int | None, topic: object,
                 locales: object) -> KbEntry:
    """Replace the working copy (shoppers keep seeing the published copy until it is published)."""
    row = _lock_entry(session, entry_id)
    _check_version(row, expected_version)
    topic_s, locs = _parse(topic, locales)
    changes = C.diff(row.topic, _locales(row), topic_s, locs)
    if not changes:
        return row
    _set_content(row, topic_s, locs)
    _touch(session, row, actor)
    _record(session, row, actor, "edited", changes)
    return row


def publish_entry(session: Session, actor: Actor, entry_id: str, expected_version: int | None) -> KbEntry:
    """Make the working copy what shoppers get; refused while it is incomplete."""
    row = _lock_entry(session, entry_id)
    _check_version(row, expected_version)
    locs = _locales(row)
    problems = C.publish_problems(row.id, locs)
    if problems:
        raise Invalid(f"{row.id} cannot be published yet: {'; '.join(problems)}", problems=problems)
    if row.status == "published":
        return row
    before = _published_locales(row)
    _set_published(session, row, {"topic": row.topic, "locales": C.locales_to_json(locs)}, actor)
    _touch(session, row, actor)
    changes = ["published"] + ([f"live: {c}" for c in C.diff(None, before, row.topic, locs)] if before else [])
    _record(session, row, actor, "published", changes)
    log.info("%s published %s", actor.username, row.id)
    return row


def unpublish_entry(session: Session, actor: Actor, entry_id: str, expected_version: int | None) -> KbEntry:
    """Take the entry away from shoppers (its working copy stays, as a draft)."""
    row = _lock_entry(session, entry_id)
    _check_version(row, expected_version)
    if row.published is None:
        return row
    _set_published(session, row, None, actor)
    _touch(session, row, actor)
    _record(session, row, actor, "unpublished", ["unpublished"])
    log.info("%s unpublished %s", actor.username, row.id)
    return row


def delete_entry(session: Session, actor: Actor, entry_id: str, expected_version: int | None) -> KbEntry:
    """Delete (and unpublish) an entry; its history stays and a version can be restored."""
    row = _lock_entry(session, entry_id)
    _check_version(row, expected_version)
    if row.published is not None:
        _set_published(session, row, None, actor)
    row.deleted = True
    row.status = "draft"
    _touch(session, row, actor)
    _record(session, row, actor, "deleted", ["deleted"])
    log.info("%s deleted %s", actor.username, row.id)
    return row


def restore_version(session: Session, actor: Actor, entry_id: str, version: int,
                    expected_version: int | None) -> KbEntry:
    """Make an earlier version the working copy again (a deleted entry comes back); publish to make it live."""
    row = _lock_entry(session, entry_id, include_deleted=True)
    _check_version(row, expected_version)
    old = session.scalar(
        select(KbEntryVersion).where(KbEntryVersion.entry_id == entry_id, KbEntryVersion.version == version)
    )
    if old is None:
        raise NotFound(f"{entry_id!r} has no version {version}")
    topic_s, locs = _parse(old.snapshot.get("topic"), old.snapshot.get("locales"))
    changes = [f"restored version {version}"] + C.diff(row.topic, _locales(row), topic_s, locs)
    if row.deleted:
        row.deleted = False
        changes.insert(1, "undeleted")
    _set_content(row, topic_s, locs)
    _touch(session, row, actor)
    _record(session, row, actor, "restored", changes)
    log.info("%s restored %s to version %d", actor.username, entry_id, version)
    return row


def add_questions(session: Session, actor: Actor, entry_id: str, expected_version: int | None,
                  questions: Mapping[str, Sequence[str]], action: str = "variants_added") -> KbEntry:
    """Add question variants per locale to the working copy (a new locale starts without an answer)."""
    row = _lock_entry(session, entry_id)
    _check_version(row, expected_version)
    locs = {loc: LocaleContent(c.answer, list(c.questions), c.title) for loc, c in _locales(row).items()}
    for loc, qs in questions.items():
        target = locs.setdefault(loc, LocaleContent(answer="", questions=[]))
        target.questions = C.clean_questions([*target.questions, *qs])
    topic_s, locs = _parse(row.topic, locs)
    changes = C.diff(row.topic, _locales(row), topic_s, locs)
    if not changes:
        return row
    _set_content(row, topic_s, locs)
    _touch(session, row, actor)
    _record(session, row, actor, action, changes)
    return row


# ---------------------------------------------------------------------------------------------- import / export
def import_entries(session: Session, actor: Actor, entries: Sequence[C.ImportedEntry],
                   publish: bool = False) -> dict[str, Any]:
    """Write checked entries (from :func:`bot.editor.content.parse_import`): each replaces the working copy of
    its id, or is created; with ``publish`` each also goes live. All or nothing: the caller's transaction."""
    summary: dict[str, Any] = {"created": [], "updated": [], "unchanged": [], "published": []}
    for item in entries:
        row = session.get(KbEntry, item.id, with_for_update=True, populate_existing=True)
        if row is None or row.deleted:
            row = create_entry(session, actor, item.id, item.topic, item.locales, action="imported")
            summary["created"].append(item.id)
        else:
            topic_s, locs = _parse(item.topic or row.topic, item.locales)
            changes = C.diff(row.topic, _locales(row), topic_s, locs)
            if changes:
                _set_content(row, topic_s, locs)
                _touch(session, row, actor)
                _record(session, row, actor, "imported", changes)
                summary["updated"].append(item.id)
            else:
                summary["unchanged"].append(item.id)
        if publish and row.status != "published":
            publish_entry(session, actor, row.id, row.version)
            summary["published"].append(item.id)
    session.flush()
    log.info("%s imported %d entries (%d created, %d updated, %d published)", actor.username, len(entries),
             len(summary["created"]), len(summary["updated"]), len(summary["published"]))
    return summary


def parse_upload(data: bytes, fmt: str) -> list[C.ImportedEntry]:
    """Decode and check an import file; :class:`ImportRejected` lists each bad line and why."""
    try:
        return C.parse_import(C.decode_upload(data), fmt)
    except C.ImportFailed as exc:
        raise ImportRejected(str(exc), issues=[i.to_json() for i in exc.issues]) from None


def export_entries(session: Session, which: str = "working") -> list[C.ExportEntry]:
    """``working``: every entry's working copy; ``published``: what shoppers get."""
    rows = session.scalars(select(KbEntry).where(KbEntry.deleted.is_(False)).order_by(KbEntry.id)).all()
    out = []
    for r in rows:
        if which == "published":
            if r.published is None:
                continue
            out.append(C.ExportEntry(r.id, r.published.get("topic") or r.topic, "published",
                                     C.locales_from_json(r.published)))
        else:
            out.append(C.ExportEntry(r.id, r.topic, "published" if r.status == "published" else "draft",
                                     _locales(r)))
    return out


# ---------------------------------------------------------------------------------------------- the engine's view
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
    state = _state(session, lock=True)
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
        _set_content(row, entry.topic or "general", locs)
        if entry.status == "published":
            row.published = {"topic": row.topic, "locales": C.locales_to_json(locs)}
            row.published_at, row.published_by = now, actor.username
            row.status = "published"
        session.add(row)
        session.flush()
        _record(session, row, actor, "seeded", [f"seeded from {path.name}"])
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


def _engine_entry(row: KbEntry) -> Entry:
    published = row.published or {}
    return C.to_entry(row.id, str(published.get("topic") or row.topic), C.locales_from_json(published))


def published_kb(session: Session) -> tuple[KnowledgeBase, int]:
    """The published entries as the answer engine's knowledge base, and the revision they are at."""
    state = _state(session)
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
        locs = {loc: c for loc, c in _locales(r).items() if c.questions}
        out[r.id] = C.to_entry(r.id, r.topic, locs) if locs else None
    return out


# ---------------------------------------------------------------------------------------------- missed questions
def missed_groups(session: Session, embed: Any | None, search: Any | None = None,
                  threshold: float = GROUP_THRESHOLD, status: str = "open") -> list[dict[str, Any]]:
    """Open missed questions grouped by meaning across languages, biggest groups first.

    ``embed(texts) -> unit vectors`` (the engine's embedder); without one, identical texts group together.
    ``search(vector) -> (faq_id, score) | None`` suggests the existing entry closest to each group.
    """
    rows = session.scalars(
        select(MissedQuestion).where(MissedQuestion.status == status)
        .order_by(MissedQuestion.created_at.desc()).limit(MAX_OPEN_FOR_GROUPING)
    ).all()
    if not rows:
        return []
    if embed is not None:
        vectors = np.asarray(embed([m.text for m in rows]), dtype=np.float32)
        groups = cluster(vectors, threshold)
    else:
        vectors: np.ndarray | None = None
        by_text: dict[str, list[int]] = {}
        for i, m in enumerate(rows):
            by_text.setdefault(C.fold(m.text), []).append(i)
        groups = list(by_text.values())
    answers = agent_answers_for(session, rows)
    out: list[MissedGroup] = []
    for members in groups:
        items = [rows[i] for i in members]
        group = MissedGroup(id=items[0].id, items=items)
        seen: set[str] = set()
        for m in items:
            a = answers.get(m.id)
            if a is not None and a.text not in seen:
                seen.add(a.text)
                group.agent_answers.append(a)
        group.agent_answers.sort(key=lambda a: -informativeness(a.text))  # the draft-worthy one first
        if search is not None and vectors is not None:
            centroid = vectors[members].mean(axis=0)
            centroid /= max(float((centroid**2).sum()) ** 0.5, 1e-12)
            found = search(centroid)
            if found is not None:
                group.suggested_entry = {"id": found[0], "score": round(float(found[1]), 4)}
        out.append(group)
    out.sort(key=lambda g: (-len(g.items), -max(m.created_at.timestamp() for m in g.items)))
    return [g.to_json() for g in out]


def _open_missed(session: Session, missed_ids: Iterable[str]) -> list[MissedQuestion]:
    ids = list(dict.fromkeys(missed_ids))
    if not ids:
        raise Invalid("no missed questions given")
    rows = session.scalars(select(MissedQuestion).where(MissedQuestion.id.in_(ids))).all()
    if len(rows) != len(ids):
        raise NotFound("some of these missed questions do not exist")
    return sorted(rows, key=lambda m: m.created_at)


def _resolve(rows: Sequence[MissedQuestion], actor: Actor, status: str, entry_id: str | None) -> None:
    now = utcnow()
    for m in rows:
        m.status, m.resolved_entry_id, m.resolved_by, m.resolved_at = status, entry_id, actor.username, now


def _questions_by_lang(rows: Sequence[MissedQuestion]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for m in rows:
        lang = m.lang if m.lang and m.lang != "und" else "en"
        out.setdefault(lang, []).append(m.text)
    return {lang: C.clean_questions(qs) for lang, qs in out.items()}


def missed_to_entry(session: Session, actor: Actor, missed_ids: Sequence[str], entry_id: object, topic: object,
                    answers: Mapping[str, str] | None = None) -> KbEntry:
    """A new draft entry whose questions are the missed ones (per language); answers: given ones, else what an
    agent replied in that language in one of the handed-off conversations, else empty (to write)."""
    rows = _open_missed(session, missed_ids)
    questions = _questions_by_lang(rows)
    agent = agent_answers_for(session, rows)
    drafts: dict[str, str] = {}
    # Per language the most informative agent reply of the group (never a greeting: agent_answers_for).
    for a in sorted(agent.values(), key=lambda a: -informativeness(a.text)):
        drafts.setdefault(a.lang, a.text)
    given = {k: v.strip() for k, v in (answers or {}).items() if isinstance(v, str) and v.strip()}
    locales = {
        lang: {"answer": given.get(lang) or drafts.get(lang) or "", "questions": qs}
        for lang, qs in questions.items()
    }
    for lang, text in given.items():
        locales.setdefault(lang, {"answer": text, "questions": []})
    row = create_entry(session, actor, entry_id, topic, locales, action="created_from_missed")
    _resolve(rows, actor, "resolved", row.id)
    return row


def missed_to_variants(session: Session, actor: Actor, missed_ids: Sequence[str], entry_id: str,
                       expected_version: int | None) -> KbEntry:
    """Add the missed questions as question variants of an existing entry (its working copy)."""
    rows = _open_missed(session, missed_ids)
    row = add_questions(session, actor, entry_id, expected_version, _questions_by_lang(rows))
    _resolve(rows, actor, "resolved", row.id)
    return row


def dismiss_missed(session: Session, actor: Actor, missed_ids: Sequence[str]) -> int:
    rows = _open_missed(session, missed_ids)
    _resolve(rows, actor, "dismissed", None)
    return len(rows)


# ---------------------------------------------------------------------------------------------- test your change
def decision_json(decision: Any) -> dict[str, Any]:
    """A decision with the internals an editor wants to see (candidates, intent confidence)."""
    return {
        **decision.to_json(),
        "reply_lang": decision.reply_lang,
        "intent_confidence": round(float(decision.intent_confidence), 4),
        "candidates": decision.candidates,
    }


def preview(session: Session, engine: Any, text: str, locale: str | None,
            draft: tuple[str, object, object] | None = None, scope: str = "all") -> dict[str, Any]:
    """What the bot does with ``text`` now (published) and with the drafts, side by side; nothing goes live.

    ``scope='all'``: every entry's working copy replaces its published copy; ``'entry'``: only ``draft`` (the
    edit form's content, saved or not) does. The intent classifier is the live one in both columns.
    """
    from bot.nlu.base import ConversationContext

    changes: dict[str, Entry | None] = working_entries(session) if scope == "all" else {}
    if draft is not None:
        entry_id, topic, locales = draft
        try:
            entry_id = C.check_id(entry_id)
        except C.ContentError as exc:
            raise Invalid(str(exc), problems=exc.problems) from None
        topic_s, locs = _parse(topic, locales)
        usable = {loc: c for loc, c in locs.items() if c.questions}
        changes[entry_id] = C.to_entry(entry_id, topic_s, usable) if usable else None
    snapshot = engine.snapshot()
    try:
        live = engine.with_state(snapshot).respond(text, ConversationContext(locale_hint=locale))
        drafted = engine.preview(changes, base=snapshot).respond(text, ConversationContext(locale_hint=locale))
    except ValueError as exc:  # InvalidMessage: empty or too long
        raise Invalid(str(exc)) from None
    return {"text": text, "published": decision_json(live), "draft": decision_json(drafted),
            "draft_entries": sorted(changes), "same": live.to_json() == drafted.to_json()}
