"""Lone UTF-16 surrogates: JSON may carry them (``"\\ud800"``), UTF-8 cannot encode them.

Python's ``json.loads`` accepts ``"\\ud800"`` and yields a ``str`` no database, log line or JSON response can
encode. Every input path (HTTP bodies, websocket frames) refuses such values up front, so the failure is the
client's ``bad_request`` and never the server's ``internal``.
"""

from __future__ import annotations

import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")
#: A ``\uD800``-``\uDFFF`` escape in raw JSON; only bodies containing one need a full check.
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def has_lone_surrogate(value: Any) -> bool:
    """Whether a decoded JSON value holds a string (key or value) that UTF-8 cannot encode."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def may_hold_surrogate(raw: bytes) -> bool:
    """Cheap pre-check on a raw JSON body: False means it certainly decodes without surrogates.

    (A valid pair like ``\\ud83d\\ude00`` also matches; the caller then decodes and checks for real.)"""
    return _ESCAPED_SURROGATE.search(raw) is not None


def scrub(text: str) -> str:
    """``text`` with any lone surrogate replaced by U+FFFD, safe to log or echo."""
    return _SURROGATE.sub("\ufffd", text)
