"""Keep credentials out of the logs: uvicorn's access and connection lines have token-like query values masked.

The console no longer puts its token in a URL, but an old client, a hand-written URL or a link from a mail may;
the server cannot stop a client from sending one, only from writing it down.
"""

from __future__ import annotations

import logging
import re

#: Query parameters whose values are credentials (matched case-insensitively, also as name suffixes).
SECRET_PARAM = re.compile(
    r"(?i)([?&;](?:[\w.-]*?)(?:token|key|secret|password|passwd|pwd|auth|session|signature|sig)[\w.-]*=)[^&;#\s\"]*"
)
#: The loggers uvicorn writes request lines to (``uvicorn.error`` carries websocket "accepted"/"rejected" lines).
LOGGERS = ("uvicorn.access", "uvicorn.error")


def scrub(text: str) -> str:
    """``/ws/agent?token=abc&x=1`` -> ``/ws/agent?token=***&x=1``."""
    return SECRET_PARAM.sub(r"\1***", text)


class ScrubSecretsFilter(logging.Filter):
    """Rewrites a record's message arguments (and message) so no credential-like query value survives."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(scrub(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: scrub(v) if isinstance(v, str) else v for k, v in record.args.items()}
        if isinstance(record.msg, str) and "=" in record.msg:
            record.msg = scrub(record.msg)
        return True


def install() -> None:
    """Add the filter to uvicorn's loggers once (idempotent; dictConfig keeps logger filters)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, ScrubSecretsFilter) for f in logger.filters):
            logger.addFilter(ScrubSecretsFilter())
