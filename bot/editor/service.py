"""The entry repository: the editor's reads and changes of knowledge base entries, inside the caller's transaction.

Around it: :mod:`bot.editor.errors` (refusals), :mod:`bot.editor.transfer` (import/export),
:mod:`bot.editor.seeding` (first start), :mod:`bot.editor.published` (the engine's view),
:mod:`bot.editor.missed` (missed questions), :mod:`bot.editor.live` (engines in step, preview) and
:mod:`bot.editor.reads` (the editor's lists and views: search, history, completeness).

Rules:

- every change bumps the entry's ``version`` and writes a ``kb_entry_versions`` row (who, when, what, snapshot);
  a change names the version it was based on (``If-Match``) and fails with :class:`VersionConflict` when the
  entry moved on meanwhile (optimistic locking: two editors never silently overwrite each other);
- shoppers only see ``published`` content; every change of it bumps ``kb_state.revision`` and stamps the entry's
  ``published_revision``, which is how running engines find what to update (:mod:`bot.editor.live`);
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.db.types import iso, utcnow
from bot.editor import content as C
from bot.editor.errors import (  # noqa: F401  (re-exported: callers catch ``service.EditorError``)
    AlreadyExists,
    EditorError,
    ImportRejected,
    Invalid,
    NotFound,
    PreconditionRequired,
    VersionConflict,
)
from bot.editor.models import KbEntry, KbEntryVersion, KbState
from bot.knowledge.models import LocaleContent

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Actor:
    """Who makes a change (from the logged-in principal)."""

    id: int | None
    username: str


# ---------------------------------------------------------------------------------------------- helpers
def working_locales(row: KbEntry) -> C.Locales:
    return C.locales_from_json(row.content)


def published_locales(row: KbEntry) -> C.Locales | None:
    """The content shoppers see now (None: never published)."""
    return C.locales_from_json(row.published) if row.published is not None else None


def _status(topic: str, locales: C.Locales, published: Mapping[str, Any] | None) -> str:
    if published is None:
        return "draft"
    same = published.get("topic") == topic and published.get("locales") == C.locales_to_json(locales)
    return "published" if same else "changed"


def entry_summary(row: KbEntry) -> dict[str, Any]:
    """What the entry list shows."""
    locales = working_locales(row)
    published = published_locales(row) or {}
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
    locales = working_locales(row)
    return {
        **entry_summary(row),
        "locales": C.locales_to_json(locales),
        "published": row.published,
        "problems": C.publish_problems(row.id, locales),
        "created_at": iso(row.created_at),
        "created_by": row.created_by,
        "published_by": row.published_by,
    }


def lock_entry(session: Session, entry_id: str, include_deleted: bool = False) -> KbEntry:
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


def kb_state(session: Session, lock: bool = False) -> KbState:
    state = session.get(KbState, 1, with_for_update=lock, populate_existing=lock)
    if state is None:
        state = KbState(id=1, revision=0, default_locale="en")
        session.add(state)
        session.flush()
    return state


def _bump_revision(session: Session) -> int:
    state = kb_state(session, lock=True)
    state.revision += 1
    return state.revision


def current_revision(session: Session) -> int:
    return session.scalar(select(KbState.revision).where(KbState.id == 1)) or 0


def _snapshot(row: KbEntry) -> dict[str, Any]:
    return {"topic": row.topic, "locales": row.content.get("locales", {}), "status": row.status,
            "deleted": row.deleted, "published": row.published is not None}


def record_change(session: Session, row: KbEntry, actor: Actor, action: str, changes: list[str]) -> None:
    session.add(KbEntryVersion(entry_id=row.id, version=row.version, action=action, changes=changes,
                               snapshot=_snapshot(row), user_id=actor.id, username=actor.username,
                               created_at=row.updated_at))


def _next_version(session: Session, entry_id: str) -> int:
    """The next version number for ``entry_id`` (history survives delete and re-create)."""
    return (session.scalar(select(func.max(KbEntryVersion.version)).where(KbEntryVersion.entry_id == entry_id))
            or 0) + 1


def set_content(row: KbEntry, topic: str, locales: C.Locales) -> None:
    row.topic = topic
    row.content = {"locales": C.locales_to_json(locales)}
    row.search_text = C.search_text(row.id, topic, locales)
    row.status = _status(topic, locales, row.published)


def touch(session: Session, row: KbEntry, actor: Actor) -> None:
    row.version = max(row.version + 1, _next_version(session, row.id))
    row.updated_at = utcnow()
    row.updated_by = actor.username


def _set_published(session: Session, row: KbEntry, published: dict[str, Any] | None, actor: Actor) -> None:
    row.published = published
    row.published_revision = _bump_revision(session)
    if published is not None:
        row.published_at, row.published_by = utcnow(), actor.username
    row.status = _status(row.topic, working_locales(row), published)


def parse_content(topic: object, locales: object) -> tuple[str, C.Locales]:
    try:
        return C.normalize_topic(topic), C.normalize_locales(locales)
    except C.ContentError as exc:
        raise Invalid(str(exc), problems=exc.problems) from None


# ---------------------------------------------------------------------------------------------- writing
def create_entry(session: Session, actor: Actor, entry_id: object, topic: object, locales: object,
                 action: str = "created") -> KbEntry:
    """A new draft entry (a deleted entry with the same id comes back, keeping its history)."""
    try:
        entry_id = C.check_id(entry_id)
    except C.ContentError as exc:
        raise Invalid(str(exc), problems=exc.problems) from None
    topic_s, locs = parse_content(topic, locales)
    row = session.get(KbEntry, entry_id, with_for_update=True, populate_existing=True)
    now = utcnow()
    if row is not None and not row.deleted:
        raise AlreadyExists(f"an entry {entry_id!r} exists already", current_version=row.version)
    if row is None:
        row = KbEntry(id=entry_id, version=_next_version(session, entry_id), published=None, published_revision=0,
                      deleted=False, created_at=now, created_by=actor.username, updated_at=now,
                      updated_by=actor.username)
        session.add(row)
        set_content(row, topic_s, locs)
    else:  # revive a deleted entry
        row.deleted = False
        row.created_at, row.created_by = now, actor.username
        set_content(row, topic_s, locs)
        touch(session, row, actor)
    session.flush()
    record_change(session, row, actor, action, C.diff(None, {}, topic_s, locs))
    log.info("%s created entry %s", actor.username, entry_id)
    return row


def update_entry(session: Session, actor: Actor, entry_id: str, expected_version: int | None, topic: object,
                 locales: object) -> KbEntry:
    """Replace the working copy (shoppers keep seeing the published copy until it is published)."""
    row = lock_entry(session, entry_id)
    _check_version(row, expected_version)
    topic_s, locs = parse_content(topic, locales)
    changes = C.diff(row.topic, working_locales(row), topic_s, locs)
    if not changes:
        return row
    set_content(row, topic_s, locs)
    touch(session, row, actor)
    record_change(session, row, actor, "edited", changes)
    return row


def publish_entry(session: Session, actor: Actor, entry_id: str, expected_version: int | None) -> KbEntry:
    """Make the working copy what shoppers get; refused while it is incomplete."""
    row = lock_entry(session, entry_id)
    _check_version(row, expected_version)
    locs = working_locales(row)
    problems = C.publish_problems(row.id, locs)
    if problems:
        raise Invalid(f"{row.id} cannot be published yet: {'; '.join(problems)}", problems=problems)
    if row.status == "published":
        return row
    before = published_locales(row)
    _set_published(session, row, {"topic": row.topic, "locales": C.locales_to_json(locs)}, actor)
    touch(session, row, actor)
    changes = ["published"] + ([f"live: {c}" for c in C.diff(None, before, row.topic, locs)] if before else [])
    record_change(session, row, actor, "published", changes)
    log.info("%s published %s", actor.username, row.id)
    return row


def unpublish_entry(session: Session, actor: Actor, entry_id: str, expected_version: int | None) -> KbEntry:
    """Take the entry away from shoppers (its working copy stays, as a draft)."""
    row = lock_entry(session, entry_id)
    _check_version(row, expected_version)
    if row.published is None:
        return row
    _set_published(session, row, None, actor)
    touch(session, row, actor)
    record_change(session, row, actor, "unpublished", ["unpublished"])
    log.info("%s unpublished %s", actor.username, row.id)
    return row


def delete_entry(session: Session, actor: Actor, entry_id: str, expected_version: int | None) -> KbEntry:
    """Delete (and unpublish) an entry; its history stays and a version can be restored."""
    row = lock_entry(session, entry_id)
    _check_version(row, expected_version)
    if row.published is not None:
        _set_published(session, row, None, actor)
    row.deleted = True
    row.status = "draft"
    touch(session, row, actor)
    record_change(session, row, actor, "deleted", ["deleted"])
    log.info("%s deleted %s", actor.username, row.id)
    return row


def restore_version(session: Session, actor: Actor, entry_id: str, version: int,
                    expected_version: int | None) -> KbEntry:
    """Make an earlier version the working copy again (a deleted entry comes back); publish to make it live."""
    row = lock_entry(session, entry_id, include_deleted=True)
    _check_version(row, expected_version)
    old = session.scalar(
        select(KbEntryVersion).where(KbEntryVersion.entry_id == entry_id, KbEntryVersion.version == version)
    )
    if old is None:
        raise NotFound(f"{entry_id!r} has no version {version}")
    topic_s, locs = parse_content(old.snapshot.get("topic"), old.snapshot.get("locales"))
    changes = [f"restored version {version}"] + C.diff(row.topic, working_locales(row), topic_s, locs)
    if row.deleted:
        row.deleted = False
        changes.insert(1, "undeleted")
    set_content(row, topic_s, locs)
    touch(session, row, actor)
    record_change(session, row, actor, "restored", changes)
    log.info("%s restored %s to version %d", actor.username, entry_id, version)
    return row


def add_questions(session: Session, actor: Actor, entry_id: str, expected_version: int | None,
                  questions: Mapping[str, Sequence[str]], action: str = "variants_added") -> KbEntry:
    """Add question variants per locale to the working copy (a new locale starts without an answer)."""
    row = lock_entry(session, entry_id)
    _check_version(row, expected_version)
    locs = {loc: LocaleContent(c.answer, list(c.questions), c.title) for loc, c in working_locales(row).items()}
    for loc, qs in questions.items():
        target = locs.setdefault(loc, LocaleContent(answer="", questions=[]))
        target.questions = C.clean_questions([*target.questions, *qs])
    topic_s, locs = parse_content(row.topic, locs)
    changes = C.diff(row.topic, working_locales(row), topic_s, locs)
    if not changes:
        return row
    set_content(row, topic_s, locs)
    touch(session, row, actor)
    record_change(session, row, actor, action, changes)
    return row
