"""target extra columns and checkpoints

Revision ID: 0011
Revises: 0009

The columns of an imported table the engine does not read (考评依据, 备注 …) and the earlier
dates of a deadline phrase that names several, and whom a 督办 is against, kept with each target. Adding columns with a
default keeps every row and needs no table rebuild on SQLite.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0011'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('target', schema=None) as batch_op:
        batch_op.add_column(sa.Column('extra_columns', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('checkpoints', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('supervised_against', sa.JSON(), nullable=False, server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('target', schema=None) as batch_op:
        batch_op.drop_column('supervised_against')
        batch_op.drop_column('checkpoints')
        batch_op.drop_column('extra_columns')
