"""Calls: review flag (the call reached the review threshold) and the findings that flagged it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import qa.store.models  # noqa: F401  (custom column types)

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('flagged', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('flag_reasons', sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f('ix_calls_flagged'), ['flagged'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calls_flagged'))
        batch_op.drop_column('flag_reasons')
        batch_op.drop_column('flagged')
