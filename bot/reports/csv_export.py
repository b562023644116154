"""``conversations.csv``: one row per conversation, streamed, with spreadsheet formulas neutralised."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

from bot.knowledge.files import neutralize_cell
from bot.reports.service import CSV_HEADER


def cell(value: Any) -> str:
    """The CSV text of one value; text that a spreadsheet would run as a formula gets a ``'`` prefix."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return neutralize_cell(value) if isinstance(value, str) else str(value)


def stream_csv(rows: Iterable[dict[str, Any]], chunk_rows: int = 500) -> Iterator[str]:
    """The header, then the rows in chunks of ``chunk_rows`` lines (memory stays flat however many rows)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    pending = 0
    for row in rows:
        writer.writerow([cell(row[name]) for name in CSV_HEADER])
        pending += 1
        if pending >= chunk_rows:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue()
