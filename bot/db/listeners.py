"""The domains that listen to the database's events (``register(bus, db)`` each), subscribed by name.

Every process that writes through a :class:`~bot.db.session.Database` subscribes them, the server and the
command line alike, so that what a service emits reaches its listeners whoever called it: an account added by
``borderless create-user`` or at first start is in the audit log like one an admin adds. The listeners build on
the domains that emit (``bot.audit`` imports ``bot.auth``), so they are named here, below all of them, and
imported when subscribed, as ``bot.db.models`` does with the tables.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.db.session import Database

#: Modules with ``register(bus, db)``; a domain left out of a build is skipped.
LISTENERS: tuple[str, ...] = ("bot.editor.listeners", "bot.reports.listeners", "bot.audit.listeners")


def present_modules(names: tuple[str, ...]) -> Iterator[ModuleType]:
    """The modules of ``names`` that exist: an optional domain left out of a build is skipped, while an import
    error inside a present one still fails loudly."""
    for name in names:
        try:
            yield importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if not (exc.name and name.startswith(exc.name)):
                raise


def register_listeners(db: Database) -> None:
    """Subscribe every present domain's listeners to the database's event bus (before anything is written)."""
    for module in present_modules(LISTENERS):
        module.register(db.events, db)
