"""Alembic environment: every domain's models (``bot.db.models.load_all``), SQLite or PostgreSQL.

Run programmatically by ``bot.db.migrate.upgrade`` (which passes a connection), or from the command line
with the repository's ``alembic.ini`` (the URL then comes from ``BORDERLESS_DATABASE_URL`` / data_dir).
"""

from __future__ import annotations

from alembic import context

from bot.db.models import load_all
from bot.db.types import UTCDateTime

config = context.config
target_metadata = load_all().metadata


def render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    """Autogenerate writes our UTC timestamp type as a plain ``sa.DateTime(timezone=True)``."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(connection: object) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite ALTER TABLE support for later migrations
        compare_type=True,
        render_item=render_item,
    )


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    from bot.db.session import database_url, make_engine
    from bot.settings import get_settings

    url = config.get_main_option("sqlalchemy.url") or database_url(get_settings())
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
