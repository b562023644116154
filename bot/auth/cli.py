"""``borderless create-user`` (also ``python -m bot.auth.cli``): add an agent, editor or admin account.

Wired into ``borderless`` by ``bot.cli`` (``add_create_user_parser``). Either way the account is in the audit log
(actor ``cli``). The password comes from ``--password-stdin``, ``BORDERLESS_NEW_PASSWORD``, or an interactive
prompt.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from pathlib import Path
from typing import Any

from bot.settings import Settings

log = logging.getLogger(__name__)


def add_create_user_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``create-user`` subcommand to an argparse subparsers object."""
    parser = subparsers.add_parser("create-user", help="add an agent, editor or admin account",
                                   description="Add an account to the server's database.")
    add_create_user_arguments(parser)
    parser.set_defaults(func=create_user_command)
    return parser


def add_create_user_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("username")
    parser.add_argument("--role", choices=["agent", "admin", "editor"], default="agent")
    parser.add_argument("--languages", default="", help="comma-separated codes the agent answers in, e.g. es,en "
                                                         "(empty: every language)")
    parser.add_argument("--name", default=None, help="display name shown to shoppers (default: username)")
    parser.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    parser.add_argument("--data-dir", type=Path, default=None, help="the server's data dir (default from settings)")


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if os.environ.get("BORDERLESS_NEW_PASSWORD"):
        return os.environ["BORDERLESS_NEW_PASSWORD"]
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise SystemExit("passwords differ")
    return first


def create_user_command(args: argparse.Namespace) -> int:
    """Migrate the database if needed, then add the account; exit 1 with a message on bad input."""
    from bot.auth.service import AuthError, create_user
    from bot.db import migrate
    from bot.db.listeners import register_listeners
    from bot.db.session import Database

    settings = Settings(**({"data_dir": Path(args.data_dir).resolve()} if args.data_dir else {}))
    password = _read_password(args)
    db = Database.from_settings(settings)
    register_listeners(db)  # the audit log's among them
    try:
        migrate.upgrade(db.engine)
        with db.session() as session:
            user = create_user(session, args.username, password, role=args.role, languages=args.languages,
                               name=args.name, actor="cli", detail={"os_user": _os_user()},
                               min_score=settings.password_min_score)
            summary = f"created {user.role} {user.username!r} (languages: {user.languages or 'all'})"
    except AuthError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    finally:
        db.dispose()
    sys.stdout.write(summary + "\n")
    return 0


def _os_user() -> str | None:
    """Who ran the command on the server, for the audit log (actor "cli", like ``borderless purge``)."""
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (e.g. a container user without a passwd entry)
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="borderless create-user")
    add_create_user_arguments(parser)
    return create_user_command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
