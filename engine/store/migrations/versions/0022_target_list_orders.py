"""the target list's other orders by index: code, state and weight, each then by due date

The target list is paged by keyset (after the sort key values of the last row shown), so a
page costs the same at any depth when its order is an index. The default order has one
(0014); ordered by code, by state or by weight (heaviest first: the negative weight upwards)
a page sorted every matching target. Each gets an index on that key followed by the default
order, which the row comparison ``(key, state_due IS NULL, state_due, id) > (…)`` starts from.
The default order's own index is made again where it is missing: on SQLite, a later copy of the
target table (a batch migration) left it behind.

Revision ID: 0022
Revises: 0021
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

ORDERS = {"code": "code", "state": "state", "weight": sa.text("(-weight)")}


def upgrade() -> None:
    op.execute("CREATE INDEX IF NOT EXISTS ix_target_due_order ON target ((state_due IS NULL), state_due, id)")
    for name, key in ORDERS.items():
        op.create_index(f"ix_target_{name}_order", "target", [key, sa.text("(state_due IS NULL)"), "state_due", "id"])


def downgrade() -> None:
    for name in ORDERS:
        op.drop_index(f"ix_target_{name}_order", table_name="target")
