"""supervision: warnings, 督办单 and 整改 items, circulars

Every in-progress target keeps its risk level (预警) and the reason in words; a 督办单 or a
整改 item is a target of its own workflow that names the target it concerns (``subject_id``);
a plan keeps its supervision settings (warning thresholds, the day of the monthly circular);
published circulars (通报) are kept whole, with their digest. Adding columns with a default keeps
every row.

Revision ID: 0016
Revises: 0015
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('target', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subject_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('risk_level', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('risk_reason', sa.Text(), nullable=False, server_default=''))
        batch_op.create_foreign_key('fk_target_subject', 'target', ['subject_id'], ['id'], ondelete='CASCADE')
        batch_op.create_index('ix_target_subject_id', ['subject_id'])
    with op.batch_alter_table('plan', schema=None) as batch_op:
        batch_op.add_column(sa.Column('supervision', sa.JSON(), nullable=False, server_default='{}'))
    op.create_table(
        'circular',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('plan_id', sa.Integer(), sa.ForeignKey('plan.id', ondelete='CASCADE'), nullable=False),
        sa.Column('period', sa.String(length=7), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('content', sa.JSON(), nullable=False),
        sa.Column('comment', sa.Text(), nullable=False, server_default=''),
        sa.Column('digest', sa.String(length=64), nullable=False, server_default=''),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('published_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('published_by', sa.String(length=100), nullable=True),
        sa.UniqueConstraint('plan_id', 'period', name='uq_circular_plan_period'),
    )


def downgrade() -> None:
    op.drop_table('circular')
    with op.batch_alter_table('plan', schema=None) as batch_op:
        batch_op.drop_column('supervision')
    with op.batch_alter_table('target', schema=None) as batch_op:
        batch_op.drop_index('ix_target_subject_id')
        batch_op.drop_constraint('fk_target_subject', type_='foreignkey')
        batch_op.drop_column('risk_reason')
        batch_op.drop_column('risk_level')
        batch_op.drop_column('subject_id')
