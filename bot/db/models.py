"""Imports every domain's models so ``Base.metadata`` knows all tables (Alembic's env.py imports this)."""

from __future__ import annotations

import importlib
import logging

from bot.db.base import Base

log = logging.getLogger(__name__)

#: Modules that define tables. A domain added later (bot.editor) appends itself here.
MODEL_MODULES: tuple[str, ...] = (
    "bot.auth.models",
    "bot.conversations.models",
    "bot.handoff.models",
    "bot.editor.models",
    "bot.translation.models",
    "bot.reports.models",
    "bot.audit.models",
    "bot.privacy.models",
)


def load_all() -> type[Base]:
    """Import every model module that exists and return the declarative base."""
    for name in MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            missing = exc.name or ""
            if not (name == missing or name.startswith(missing + ".")):
                raise  # the module exists but something it imports does not
            log.debug("model module %s not present", name)
    return Base
