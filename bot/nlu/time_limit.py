"""Calls a caller stops waiting for after a time limit (translations: a model or a server may hang).

The call runs in a small thread pool; past the limit the caller gets None and goes on. Python cannot stop a
thread, so an abandoned call finishes in the background, and a done-callback can still keep its result (the
translation service caches it). Query translation (``bot.nlu.translate.translate_within``) and the chat's
:class:`~bot.translation.service.TranslationService` both go through here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


def result_by(future: Future[T], deadline: float, *, limit: float, what: str, instead: str,
              slow_level: int = logging.WARNING) -> T | None:
    """``future``'s result, or None when it raised or is still running at ``deadline`` (``time.monotonic()``);
    logged (``what`` took over ``limit`` s; ``instead``), never raised."""
    try:
        return future.result(timeout=max(0.0, deadline - time.monotonic()))
    except FutureTimeout:
        log.log(slow_level, "%s took over %g s; %s", what, limit, instead)
    except Exception as exc:
        log.warning("%s failed: %s", what, exc)
    return None


class TimeLimitedPool:
    """A few threads for calls whose callers may stop waiting for them (see the module docstring)."""

    def __init__(self, workers: int, name: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        return self._pool.submit(fn, *args)

    def call(self, fn: Callable[..., T], *args: Any, limit: float, what: str, instead: str,
             slow_level: int = logging.WARNING) -> T | None:
        """``fn(*args)``, or None when it raises or takes over ``limit`` seconds (see :func:`result_by`)."""
        return result_by(self.submit(fn, *args), time.monotonic() + limit, limit=limit, what=what, instead=instead,
                         slow_level=slow_level)

    def close(self) -> None:
        """Stop taking calls; queued ones are dropped, running ones finish on their own."""
        self._pool.shutdown(wait=False, cancel_futures=True)
