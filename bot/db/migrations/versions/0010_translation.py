"""Translation: an agent message sent in translation keeps what the agent wrote and in which language;
knowledge-base locales filled by machine translation are remembered (to flag them stale).

Revision ID: 0010_translation
Revises: 0002_knowledge
Create Date: 2026-12-01 02:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_translation"
down_revision: str | None = "0009_reports_privacy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("original_text", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("original_lang", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("translation_engine", sa.String(length=40), nullable=True))
    op.create_table(
        "kb_machine_translations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("entry_id", sa.String(length=80), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("source_locale", sa.String(length=16), nullable=False),
        sa.Column("source_hash", sa.String(length=64), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("engine", sa.String(length=40), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("entry_id", "locale", name="uq_kb_machine_translations_entry_locale"),
    )
    op.create_index("ix_kb_machine_translations_entry_id", "kb_machine_translations", ["entry_id"])


def downgrade() -> None:
    op.drop_index("ix_kb_machine_translations_entry_id", table_name="kb_machine_translations")
    op.drop_table("kb_machine_translations")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("translation_engine")
        batch_op.drop_column("original_lang")
        batch_op.drop_column("original_text")
