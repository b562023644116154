"""Database plumbing shared by every domain: declarative base, engine and sessions, migrations.

``bot.db.session.Database`` builds the engine from settings; ``bot.db.migrate.upgrade`` runs Alembic.
Models live in their domain (``bot/auth/models.py``, ``bot/conversations/models.py``...) and
``bot.db.models`` imports them all so Alembic sees every table.
"""
