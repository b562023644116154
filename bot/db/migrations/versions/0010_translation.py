"""Translated chat: an agent message sent in translation keeps what the agent wrote and in which language.

Revision ID: 0010_translation
Revises: 0002_knowledge
Create Date: 2026-12-01 02:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_translation"
down_revision: str | None = "0002_knowledge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("original_text", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("original_lang", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("translation_engine", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("translation_engine")
        batch_op.drop_column("original_lang")
        batch_op.drop_column("original_text")
