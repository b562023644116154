"""Run Alembic migrations programmatically (``borderless serve`` and the tests bring the schema to head)."""

from __future__ import annotations

import contextlib
import logging
import zlib
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at ``bot/db/migrations`` and ``url``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database behind ``engine`` to ``revision``."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)
    log.info("database at %s is at migration %s", engine.url.render_as_string(hide_password=True), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Step the database behind ``engine`` back to ``revision`` (``base`` drops everything)."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)


@contextlib.contextmanager
def startup_lock(engine: Engine, name: str = "borderless-startup") -> Iterator[None]:
    """Serialise first-start work (migrations, first-run accounts, seeding) across server processes.

    Two processes started together on one empty PostgreSQL database would otherwise both create the tables.
    A session-level advisory lock on PostgreSQL; SQLite is one process's file, so nothing to do.
    """
    if engine.dialect.name != "postgresql":
        yield
        return
    key = zlib.crc32(name.encode()) & 0x7FFFFFFF
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            conn.commit()
