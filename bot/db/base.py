"""The declarative base every domain's SQLAlchemy models inherit from."""

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Shared metadata, so Alembic sees every table."""
