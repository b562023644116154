"""Where ``kb lint`` findings are: the file and line of each flagged answer or question variant.

A knowledge base folder has one ``faq/<id>.yaml`` per entry (lines from the YAML node marks); a CSV export has a
row per question (the first row of an entry and locale stands for its answer).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import yaml

from bot.nlu.lint import Finding


def _yaml_lines(file: Path) -> dict[tuple[str, str], int]:
    """``(locale, "answer")`` and ``(locale, question)`` -> 1-based line in one ``faq/<id>.yaml``."""
    lines: dict[tuple[str, str], int] = {}
    try:
        root = yaml.compose(file.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return lines
    if not isinstance(root, yaml.MappingNode):
        return lines
    for key, value in root.value:
        if key.value != "locales" or not isinstance(value, yaml.MappingNode):
            continue
        for loc_key, loc_node in value.value:
            lines[(str(loc_key.value), "")] = loc_key.start_mark.line + 1
            if not isinstance(loc_node, yaml.MappingNode):
                continue
            for field_key, field_node in loc_node.value:
                if field_key.value == "answer":
                    lines[(str(loc_key.value), "answer")] = field_node.start_mark.line + 1
                elif field_key.value == "questions" and isinstance(field_node, yaml.SequenceNode):
                    for item in field_node.value:
                        lines.setdefault((str(loc_key.value), str(item.value).strip()), item.start_mark.line + 1)
    return lines


def _csv_lines(file: Path) -> dict[tuple[str, str, str], int]:
    """``(id, locale, "answer" | question)`` -> line of the CSV row (the first row of an id/locale for answers)."""
    lines: dict[tuple[str, str, str], int] = {}
    reader = csv.DictReader(file.read_text("utf-8").splitlines(keepends=True))
    for row in reader:
        key = ((row.get("id") or "").strip(), (row.get("locale") or "").strip())
        lines.setdefault((*key, "answer"), reader.line_num)
        lines.setdefault((*key, (row.get("question") or "").strip()), reader.line_num)
    return lines


def with_lines(findings: Iterable[Finding], path: Path) -> list[Finding]:
    """The findings with the file and line they point at, for a knowledge base folder or CSV file."""
    out = []
    if path.is_dir():
        cache: dict[str, dict[tuple[str, str], int]] = {}
        for f in findings:
            file = path / "faq" / f"{f.entry_id}.yaml"
            if f.entry_id not in cache:
                cache[f.entry_id] = _yaml_lines(file) if file.exists() else {}
            lines = cache[f.entry_id]
            line = lines.get((f.locale, f.question or "answer")) or lines.get((f.locale, ""))
            out.append(replace(f, file=str(file), line=line))
    else:
        rows = _csv_lines(path)
        for f in findings:
            line = rows.get((f.entry_id, f.locale, f.question or "answer"))
            out.append(replace(f, file=str(path), line=line))
    return out
