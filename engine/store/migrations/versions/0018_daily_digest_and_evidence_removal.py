"""evidence removal on rework

A self-assessment made again after a return may leave out files attached before: the file's
row keeps its bytes and hash for the audit, and records when and by whom it was removed.

Revision ID: 0018
Revises: 0014
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0018'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("evidence") as batch:
        batch.add_column(sa.Column("removed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("removed_by", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("evidence") as batch:
        batch.drop_column("removed_by")
        batch.drop_column("removed_at")
