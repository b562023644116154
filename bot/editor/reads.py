"""The editor's reads: entry search, one entry, its history and versions, deleted entries, completeness by language.

Reads only, inside the caller's transaction; the changes (and the rules they keep) are in :mod:`bot.editor.service`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.types import iso
from bot.editor import content as C
from bot.editor.errors import NotFound
from bot.editor.models import KbEntry, KbEntryVersion
from bot.editor.service import entry_json, entry_summary, published_locales, working_locales
from bot.nlu.base import SUPPORTED_LOCALES

#: A locale with fewer questions than this is flagged in the completeness view.
FEW_QUESTIONS = 3


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
        working = working_locales(r)
        published = published_locales(r)
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
