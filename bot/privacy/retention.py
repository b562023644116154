"""Applying retention: the server's scheduled job, and ``borderless purge [--dry-run]`` with a progress bar."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO

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


def add_purge_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "purge", help="delete conversations past retention (BORDERLESS_RETENTION_DAYS, ..._BOT_ONLY_DAYS)",
        description="Apply the retention settings now, in batches; safe to re-run.")
    parser.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    parser.add_argument("--data-dir", type=Path, default=None, help="the server's data dir (default from settings)")
    parser.set_defaults(func=purge_command)
    return parser


def purge_command(args: argparse.Namespace) -> int:
    from bot.db import migrate

    settings = Settings(**({"data_dir": Path(args.data_dir).resolve()} if args.data_dir else {}))
    policy = policy_of(settings)
    if not policy.active:
        print("retention is off: set BORDERLESS_RETENTION_DAYS and/or BORDERLESS_RETENTION_BOT_ONLY_DAYS",
              file=sys.stderr)
        return 0
    db = Database.from_settings(settings)
    try:
        migrate.upgrade(db.engine)
        bar = ProgressBar()
        result = purge(db, policy, "cli", dry_run=args.dry_run, batch=settings.purge_batch_size,
                       progress=None if args.dry_run else bar)
        bar.finish()
    finally:
        db.dispose()
    verb = "would delete" if args.dry_run else "deleted"
    count = result["conversations"] if args.dry_run else result["deleted"]
    print(f"{verb} {count} conversations ({result['messages']} messages): closed > {policy.closed_days or '-'} "
          f"days, never handed off > {policy.bot_only_days or '-'} days")
    return 0
