"""Knowledge base: editor entries (working + published copy), their versions, the revision counter, missed questions.

Revision ID: 0002_knowledge
Revises: 0001_chat
Create Date: 2026-11-23 17:31:28.307460
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002_knowledge'
down_revision: str | None = '0001_chat'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('kb_entries',
    sa.Column('id', sa.String(length=80), nullable=False),
    sa.Column('topic', sa.String(length=80), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('published', sa.JSON(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('published_revision', sa.Integer(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('search_text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('kb_entries', schema=None) as batch_op:
        batch_op.create_index('ix_kb_entries_published_revision', ['published_revision'], unique=False)
        batch_op.create_index(batch_op.f('ix_kb_entries_status'), ['status'], unique=False)

    op.create_table('kb_entry_versions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('entry_id', sa.String(length=80), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=24), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('snapshot', sa.JSON(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('entry_id', 'version', name='uq_kb_entry_versions_entry_version')
    )
    with op.batch_alter_table('kb_entry_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kb_entry_versions_entry_id'), ['entry_id'], unique=False)

    op.create_table('kb_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('default_locale', sa.String(length=16), nullable=False),
    sa.Column('seeded_from', sa.Text(), nullable=True),
    sa.Column('seeded_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('missed_questions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('conversation_id', sa.String(length=32), nullable=True),
    sa.Column('message_id', sa.String(length=32), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('lang', sa.String(length=8), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('faq_id', sa.String(length=80), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('resolved_entry_id', sa.String(length=80), nullable=True),
    sa.Column('resolved_by', sa.String(length=64), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_id', 'reason', name='uq_missed_questions_message_reason')
    )
    with op.batch_alter_table('missed_questions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_missed_questions_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index('ix_missed_questions_status_created', ['status', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('missed_questions', schema=None) as batch_op:
        batch_op.drop_index('ix_missed_questions_status_created')
        batch_op.drop_index(batch_op.f('ix_missed_questions_conversation_id'))

    op.drop_table('missed_questions')
    op.drop_table('kb_state')
    with op.batch_alter_table('kb_entry_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kb_entry_versions_entry_id'))

    op.drop_table('kb_entry_versions')
    with op.batch_alter_table('kb_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kb_entries_status'))
        batch_op.drop_index('ix_kb_entries_published_revision')

    op.drop_table('kb_entries')
