"""``borderless purge [--dry-run]``: apply the retention settings now, in batches, with a progress bar.

Light at import (the CLI imports every command's parser): the database machinery loads when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bot.settings import Settings


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
    from bot.db.session import Database
    from bot.privacy.retention import ProgressBar, policy_of
    from bot.privacy.service import purge

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
