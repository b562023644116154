"""Importing and exporting knowledge base entries (JSON/CSV files; formats in :mod:`bot.editor.content`).

An import is checked completely before anything is written, and written in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.editor import content as C
from bot.editor import formats as F
from bot.editor.errors import ImportRejected
from bot.editor.models import KbEntry
from bot.editor.service import (
    Actor,
    create_entry,
    parse_content,
    publish_entry,
    record_change,
    set_content,
    touch,
    working_locales,
)

log = logging.getLogger(__name__)


def import_entries(session: Session, actor: Actor, entries: Sequence[F.ImportedEntry],
                   publish: bool = False) -> dict[str, Any]:
    """Write checked entries (from :func:`bot.editor.formats.parse_import`): each replaces the working copy of
    its id, or is created; with ``publish`` each also goes live. All or nothing: the caller's transaction."""
    summary: dict[str, Any] = {"created": [], "updated": [], "unchanged": [], "published": []}
    for item in entries:
        row = session.get(KbEntry, item.id, with_for_update=True, populate_existing=True)
        if row is None or row.deleted:
            row = create_entry(session, actor, item.id, item.topic, item.locales, action="imported")
            summary["created"].append(item.id)
        else:
            topic_s, locs = parse_content(item.topic or row.topic, item.locales)
            changes = C.diff(row.topic, working_locales(row), topic_s, locs)
            if changes:
                set_content(row, topic_s, locs)
                touch(session, row, actor)
                record_change(session, row, actor, "imported", changes)
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


def parse_upload(data: bytes, fmt: str) -> list[F.ImportedEntry]:
    """Decode and check an import file; :class:`ImportRejected` lists each bad line and why."""
    try:
        return F.parse_import(F.decode_upload(data), fmt)
    except F.ImportFailed as exc:
        raise ImportRejected(str(exc), issues=[i.to_json() for i in exc.issues]) from None


def export_entries(session: Session, which: str = "working") -> list[F.ExportEntry]:
    """``working``: every entry's working copy; ``published``: what shoppers get."""
    rows = session.scalars(select(KbEntry).where(KbEntry.deleted.is_(False)).order_by(KbEntry.id)).all()
    out = []
    for r in rows:
        if which == "published":
            if r.published is None:
                continue
            out.append(F.ExportEntry(r.id, r.published.get("topic") or r.topic, "published",
                                     C.locales_from_json(r.published)))
        else:
            out.append(F.ExportEntry(r.id, r.topic, "published" if r.status == "published" else "draft",
                                     working_locales(r)))
    return out
