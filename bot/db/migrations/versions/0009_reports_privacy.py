"""Reports and privacy: the report event table and its per-conversation projection, the audit log, erasure
tombstones.

Revision ID: 0009_reports_privacy
Revises: 0002_knowledge
Create Date: 2026-12-01 02:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009_reports_privacy'
down_revision: str | None = '0002_knowledge'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('report_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('conversation_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.Column('lang', sa.String(length=8), nullable=False),
    sa.Column('store_key', sa.String(length=64), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=8), nullable=False),
    sa.Column('action', sa.String(length=8), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('intent', sa.String(length=32), nullable=True),
    sa.Column('topic', sa.String(length=80), nullable=True),
    sa.Column('faq_id', sa.String(length=80), nullable=True),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_report_events_at', 'report_events', ['at'])
    op.create_index('ix_report_events_conversation_id', 'report_events', ['conversation_id'])
    op.create_table('report_conversations',
    sa.Column('conversation_id', sa.String(length=64), nullable=False),
    sa.Column('store_key', sa.String(length=64), nullable=False),
    sa.Column('lang', sa.String(length=8), nullable=False),
    sa.Column('started_at', sa.Float(), nullable=False),
    sa.Column('bot_decisions', sa.Integer(), nullable=False),
    sa.Column('first_intent', sa.String(length=32), nullable=True),
    sa.Column('first_topic', sa.String(length=80), nullable=True),
    sa.Column('handoffs', sa.Integer(), nullable=False),
    sa.Column('handoff_reason', sa.String(length=200), nullable=True),
    sa.Column('handoff_at', sa.Float(), nullable=True),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('first_reply_at', sa.Float(), nullable=True),
    sa.Column('resolved_at', sa.Float(), nullable=True),
    sa.Column('reopened_at', sa.Float(), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('conversation_id')
    )
    op.create_index('ix_report_conversations_started_at', 'report_conversations',
                    ['started_at', 'lang', 'handoffs', 'bot_decisions', 'rating', 'reopened_at', 'resolved_at',
                     'handoff_reason', 'handoff_at', 'first_reply_at'])
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_audit_log_at', 'audit_log', ['at'])
    op.create_index('ix_audit_log_action', 'audit_log', ['action'])
    op.create_table('privacy_erasures',
    sa.Column('conversation_id', sa.String(length=64), nullable=False),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('erased_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('conversation_id')
    )


def downgrade() -> None:
    op.drop_table('privacy_erasures')
    op.drop_index('ix_audit_log_action', table_name='audit_log')
    op.drop_index('ix_audit_log_at', table_name='audit_log')
    op.drop_table('audit_log')
    op.drop_index('ix_report_conversations_started_at', table_name='report_conversations')
    op.drop_table('report_conversations')
    op.drop_index('ix_report_events_conversation_id', table_name='report_events')
    op.drop_index('ix_report_events_at', table_name='report_events')
    op.drop_table('report_events')
