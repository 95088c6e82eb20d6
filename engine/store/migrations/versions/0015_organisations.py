"""organisations: a tree of them, each with its own sections, people and plans

An existing database holding data becomes one organisation, named after its plans' organisation (the one most
of its plans name; 本单位 when there is no plan yet), and every plan, section, user and target
belongs to it: nothing changes for its users. A user's name becomes unique within the
organisation, and the new login name, unique in the deployment, starts as the name itself.
Targets get their plan's organisation (so that lists are scoped by one index), and the link to
the target of a parent organisation they were handed down from.

Revision ID: 0015
Revises: 0014
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

#: Gives SQLite's unnamed unique constraints the names they can be dropped by in batch mode.
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
DEFAULT_NAME = "本单位"


def _first_organisation(bind) -> int | None:
    """The organisation everything already there goes to; none for an empty database (the first plan
    imported names it)."""
    if not any(bind.execute(sa.text(f'SELECT 1 FROM "{table}" LIMIT 1')).first() for table in ('plan', 'section', 'user')):
        return None
    name = bind.execute(sa.text(
        "SELECT org FROM plan GROUP BY org ORDER BY count(*) DESC, min(id) LIMIT 1")).scalar() or DEFAULT_NAME
    organisation = sa.table("organisation", sa.column("id", sa.Integer), sa.column("name", sa.String),
                            sa.column("kind", sa.String), sa.column("parent_id", sa.Integer),
                            sa.column("path", sa.String), sa.column("created_at", sa.DateTime))
    bind.execute(organisation.insert().values(name=name, kind="bureau", path="",
                                              created_at=sa.func.current_timestamp()))
    org_id = bind.execute(sa.text("SELECT id FROM organisation WHERE name = :name"), {"name": name}).scalar_one()
    bind.execute(sa.text("UPDATE organisation SET path = :path WHERE id = :id"), {"path": f"{org_id}/", "id": org_id})
    return org_id


def _unique_of(bind, table: str, column: str) -> str:
    """The name PostgreSQL gave the unnamed unique constraint on ``table.column``."""
    inspector = sa.inspect(bind)
    for constraint in inspector.get_unique_constraints(table):
        if constraint["column_names"] == [column]:
            return constraint["name"]
    raise RuntimeError(f"no unique constraint on {table}.{column}")


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    op.create_table(
        'organisation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False, server_default='bureau'),
        sa.Column('parent_id', sa.Integer(), nullable=True),
        sa.Column('path', sa.String(length=400), nullable=False, server_default=''),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['parent_id'], ['organisation.id'], name='fk_organisation_parent'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name', name='uq_organisation_name'),
    )
    op.create_index('ix_organisation_parent_id', 'organisation', ['parent_id'])
    op.create_index('ix_organisation_path', 'organisation', ['path'])
    org_id = _first_organisation(bind)

    for table in ('plan', 'section', 'user', 'target'):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column('org_id', sa.Integer(), nullable=True))
        op.execute(sa.text(f'UPDATE "{table}" SET org_id = :org').bindparams(org=org_id))
    with op.batch_alter_table('user') as batch_op:
        batch_op.add_column(sa.Column('login', sa.String(length=200), nullable=True))
    op.execute('UPDATE "user" SET login = name')

    unnamed = {} if sqlite else {"section": _unique_of(bind, "section", "name"), "user": _unique_of(bind, "user", "name")}
    with op.batch_alter_table('plan', naming_convention=NAMING) as batch_op:
        batch_op.alter_column('org_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key('fk_plan_org', 'organisation', ['org_id'], ['id'])
        batch_op.drop_constraint('uq_plan_org_year', type_='unique')
        batch_op.create_unique_constraint('uq_plan_org_year', ['org_id', 'year'])
        batch_op.create_index('ix_plan_org_id', ['org_id'])
    with op.batch_alter_table('section', naming_convention=NAMING) as batch_op:
        batch_op.alter_column('org_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key('fk_section_org', 'organisation', ['org_id'], ['id'])
        batch_op.drop_constraint(unnamed.get("section", "uq_section_name"), type_='unique')
        batch_op.create_unique_constraint('uq_section_org_name', ['org_id', 'name'])
    with op.batch_alter_table('user', naming_convention=NAMING) as batch_op:
        batch_op.alter_column('org_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('login', existing_type=sa.String(length=200), nullable=False)
        batch_op.create_foreign_key('fk_user_org', 'organisation', ['org_id'], ['id'])
        batch_op.drop_constraint(unnamed.get("user", "uq_user_name"), type_='unique')
        batch_op.create_unique_constraint('uq_user_org_name', ['org_id', 'name'])
        batch_op.create_unique_constraint('uq_user_login', ['login'])
    with op.batch_alter_table('target') as batch_op:
        batch_op.alter_column('org_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key('fk_target_org', 'organisation', ['org_id'], ['id'])
        batch_op.add_column(sa.Column('parent_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('rollup', sa.String(length=20), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('rollup_weight', sa.Numeric(7, 2), nullable=True))
        batch_op.create_foreign_key('fk_target_parent', 'target', ['parent_id'], ['id'])
        batch_op.create_index('ix_target_parent_id', ['parent_id'])
        batch_op.create_index('ix_target_org_state', ['org_id', 'state', 'state_due'])


def downgrade() -> None:
    with op.batch_alter_table('target') as batch_op:
        batch_op.drop_index('ix_target_org_state')
        batch_op.drop_index('ix_target_parent_id')
        batch_op.drop_constraint('fk_target_parent', type_='foreignkey')
        batch_op.drop_constraint('fk_target_org', type_='foreignkey')
        for column in ('rollup_weight', 'rollup', 'parent_id', 'org_id'):
            batch_op.drop_column(column)
    with op.batch_alter_table('user') as batch_op:
        batch_op.drop_constraint('uq_user_login', type_='unique')
        batch_op.drop_constraint('uq_user_org_name', type_='unique')
        batch_op.drop_constraint('fk_user_org', type_='foreignkey')
        batch_op.create_unique_constraint('uq_user_name', ['name'])
        batch_op.drop_column('login')
        batch_op.drop_column('org_id')
    with op.batch_alter_table('section') as batch_op:
        batch_op.drop_constraint('uq_section_org_name', type_='unique')
        batch_op.drop_constraint('fk_section_org', type_='foreignkey')
        batch_op.create_unique_constraint('uq_section_name', ['name'])
        batch_op.drop_column('org_id')
    with op.batch_alter_table('plan') as batch_op:
        batch_op.drop_index('ix_plan_org_id')
        batch_op.drop_constraint('uq_plan_org_year', type_='unique')
        batch_op.drop_constraint('fk_plan_org', type_='foreignkey')
        batch_op.create_unique_constraint('uq_plan_org_year', ['org', 'year'])
        batch_op.drop_column('org_id')
    op.drop_index('ix_organisation_path', 'organisation')
    op.drop_index('ix_organisation_parent_id', 'organisation')
    op.drop_table('organisation')
