"""Support hours: when humans answer. ``"mon-fri 08:00-20:00; sat 09:00-17:00"`` in an IANA time zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SEGMENT = re.compile(r"^\s*([a-z,\-\s]+?)\s+(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$")


def _parse_time(value: str) -> time:
    hours, minutes = (int(x) for x in value.split(":"))
    if hours == 24 and minutes == 0:
        return time(23, 59, 59, 999999)
    return time(hours, minutes)


def _parse_days(spec: str) -> set[int]:
    days: set[int] = set()
    for part in spec.replace(" ", "").split(","):
        if not part:
            continue
        if "-" in part:
            start, end = part.split("-", 1)
            a, b = DAYS.index(start[:3]), DAYS.index(end[:3])
            span = range(a, b + 1) if a <= b else [*range(a, 7), *range(b + 1)]
            days.update(span)
        else:
            days.add(DAYS.index(part[:3]))
    return days


@dataclass(frozen=True)
class SupportHours:
    """Weekly opening windows; empty means always open. Windows ending before they start run past midnight."""

    windows: tuple[tuple[frozenset[int], time, time], ...]
    tz: ZoneInfo | None

    @classmethod
    def parse(cls, spec: str, timezone: str = "UTC") -> SupportHours:
        """Parse ``"mon-fri 08:00-20:00; sat 09:00-17:00"``; raises ValueError naming the bad part."""
        try:
            tz = ZoneInfo(timezone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"support_timezone: unknown time zone {timezone!r}") from None
        windows = []
        for segment in (spec or "").lower().split(";"):
            if not segment.strip():
                continue
            match = _SEGMENT.match(segment)
            if not match:
                raise ValueError(f"support_hours: cannot read {segment.strip()!r} (like 'mon-fri 08:00-20:00')")
            try:
                days = _parse_days(match.group(1))
                start, end = _parse_time(match.group(2)), _parse_time(match.group(3))
            except ValueError:
                raise ValueError(f"support_hours: bad day or time in {segment.strip()!r}") from None
            windows.append((frozenset(days), start, end))
        return cls(tuple(windows), tz)

    @property
    def always_open(self) -> bool:
        return not self.windows

    def is_open(self, when: datetime | None = None) -> bool:
        """Whether a human answers at ``when`` (default now)."""
        if self.always_open:
            return True
        when = (when or datetime.now(UTC)).astimezone(self.tz)
        day, now = when.weekday(), when.time()
        for days, start, end in self.windows:
            if start <= end:
                if day in days and start <= now < end:
                    return True
            else:  # past midnight: the tail belongs to the previous day
                if (day in days and now >= start) or ((day - 1) % 7 in days and now < end):
                    return True
        return False
