"""daily digest; evidence removal on rework; inbox messages about finished work marked done

A user may take e-mail as one daily digest (每日汇总) instead of one mail per message: a row of
``maildigest`` says so and keeps the newest message the last digest held.

A self-assessment made again after a return may leave out files attached before: the file's
row keeps its bytes and hash for the audit, and records when and by whom it was removed.
An inbox message records when the work it is about moved on (its target left that state).

Revision ID: 0018
Revises: 0017
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "maildigest",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("upto", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )
    with op.batch_alter_table("inboxitem") as batch:
        batch.add_column(sa.Column("done_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch.create_index("ix_inbox_target_open", ["target_id", "done_at"], unique=False)
    with op.batch_alter_table("evidence") as batch:
        batch.add_column(sa.Column("removed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("removed_by", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("evidence") as batch:
        batch.drop_column("removed_by")
        batch.drop_column("removed_at")
    with op.batch_alter_table("inboxitem") as batch:
        batch.drop_index("ix_inbox_target_open")
        batch.drop_column("done_at")
    op.drop_table("maildigest")
