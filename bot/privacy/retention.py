"""Applying retention: the server's scheduled job, and the purge command's work (``bot/privacy/cli.py``)."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import TextIO

from starlette.concurrency import run_in_threadpool

from bot.db.session import Database
from bot.privacy.service import RetentionPolicy, purge
from bot.settings import Settings

log = logging.getLogger(__name__)


def policy_of(settings: Settings) -> RetentionPolicy:
    return RetentionPolicy(settings.retention_days, settings.retention_bot_only_days)


async def retention_loop(db: Database, settings: Settings,
                         sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
    """Purge what is past retention every ``retention_interval_minutes`` (first run a minute after start).

    Each batch is its own short transaction, so chats go on while it runs; a failure is logged and retried
    at the next interval.
    """
    policy = policy_of(settings)
    await sleep(min(60.0, settings.retention_interval_minutes * 60.0))
    while True:
        try:
            result = await run_in_threadpool(purge, db, policy, "system", False, settings.purge_batch_size)
            if result["deleted"]:
                log.info("retention job deleted %d conversations", result["deleted"])
        except Exception:
            log.exception("retention job failed; retrying in %d minutes", settings.retention_interval_minutes)
        await sleep(settings.retention_interval_minutes * 60.0)


class ProgressBar:
    """``[#########-----------]  450/1000 conversations`` redrawn in place on a terminal, one line otherwise."""

    def __init__(self, out: TextIO = sys.stderr, width: int = 30) -> None:
        self.out = out
        self.width = width
        self.tty = out.isatty()

    def __call__(self, done: int, total: int) -> None:
        filled = self.width if total == 0 else int(self.width * done / total)
        line = f"[{'#' * filled}{'-' * (self.width - filled)}] {done:>7}/{total} conversations"
        self.out.write(("\r" if self.tty else "") + line + ("" if self.tty else "\n"))
        self.out.flush()

    def finish(self) -> None:
        if self.tty:
            self.out.write("\n")
