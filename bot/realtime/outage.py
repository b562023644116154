"""Logging a shared store (Redis) going away and coming back, without a line per failed request.

The relay, agent presence and the socket rate limits each degrade on their own when Redis fails (polling, the
database, this process's counts); what they share is how the outage shows in the log: a warning when it starts,
a reminder at most every ``every`` seconds while it lasts (never, for ``None``), and a line when it ends.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any


class OutageLog:
    """The warnings of one dependency's outages (see the module docstring); safe to share between threads."""

    def __init__(self, log: logging.Logger, every: float | None = None) -> None:
        self.log = log
        self.every = every
        self._lock = threading.Lock()
        self._down = False
        self._warned_at = 0.0

    @property
    def down(self) -> bool:
        """A failure was reported and no recovery since."""
        return self._down

    def failed(self, msg: str, *args: object, **kwargs: Any) -> None:
        """Warn ``msg % args`` (``kwargs`` as for ``Logger.warning``) when this failure starts an outage, or
        ``every`` seconds after the last warning of this one; otherwise say nothing."""
        now = time.monotonic()
        with self._lock:
            due = not self._down or (self.every is not None and now - self._warned_at >= self.every)
            self._down = True
            if due:
                self._warned_at = now
        if due:
            self.log.warning(msg, *args, **kwargs)

    def recovered(self, msg: str, *args: object) -> bool:
        """Warn ``msg % args`` if an outage was going on (it is over now); whether one was."""
        if not self._down:  # the common case, without the lock
            return False
        with self._lock:
            was, self._down = self._down, False
        if was:
            # A warning like the outage's, so that a log filtered to warnings shows where it ended.
            self.log.warning(msg, *args)
        return was
