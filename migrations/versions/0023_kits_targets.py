"""Programme targets and kit kinds, 4G keys as tracked stock (unique IMEI/ICCID), accessory custody events

Also the per-programme second-device policy.

Revision ID: 0023_kits_targets
Revises: 0022_admin
Create Date: 2026-12-06 04:40:00

Existing programmes keep their count: `target_count`/`target_unit` become one target ("device": any device
type; "kit": a kit kind `kit` holding any device and a 4G key, and their past hand-overs with an accessory are
marked as kits of that kind). Existing programmes keep allowing a second device per beneficiary; new ones warn.
Accessory statuses are renamed (in_stock attached to a device -> in_kit, handed_over -> with_beneficiary,
missing/retired -> lost). The migration stops, naming them, if two accessories share an IMEI or an ICCID.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import asset_tracker.db  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = '0023_kits_targets'
down_revision = '0022_admin'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def _add_fk_column(table: str, column: str, referred: str) -> None:
    """A nullable foreign-key column, without rebuilding the table on SQLite (its partial indexes stay as they are)."""
    name = f"fk_{table}_{column}_{referred}"
    if op.get_bind().dialect.name == 'sqlite':
        op.execute(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER CONSTRAINT {name} REFERENCES {referred} (id)")
    else:
        op.add_column(table, sa.Column(column, sa.Integer(), nullable=True))
        op.create_foreign_key(name, table, referred, [column], ['id'])


def upgrade():
    bind = op.get_bind()
    duplicates = []
    for column in ('imei', 'iccid'):
        rows = bind.execute(sa.text(
            f"SELECT {column}, count(*) FROM accessories WHERE {column} IS NOT NULL GROUP BY {column} "
            "HAVING count(*) > 1")).all()
        duplicates += [f"{column} {value} ({n} accessories)" for value, n in rows]
    if duplicates:
        raise RuntimeError("accessories share an IMEI or ICCID; merge or correct them before upgrading: "
                           + ", ".join(duplicates))

    op.create_table('kit_kinds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('device_types', JSON, nullable=False),
    sa.Column('accessory_kinds', JSON, nullable=False),
    sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'], name=op.f('fk_kit_kinds_programme_id_programmes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kit_kinds')),
    sa.UniqueConstraint('programme_id', 'code', name='uq_kit_kinds_programme_code')
    )
    with op.batch_alter_table('kit_kinds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kit_kinds_programme_id'), ['programme_id'], unique=False)

    op.create_table('programme_targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('unit', sa.String(length=40), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'],
                            name=op.f('fk_programme_targets_programme_id_programmes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programme_targets')),
    sa.UniqueConstraint('programme_id', 'unit', name='uq_programme_targets_programme_unit')
    )
    with op.batch_alter_table('programme_targets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_programme_targets_programme_id'), ['programme_id'], unique=False)

    _add_fk_column('reservations', 'kit_kind_id', 'kit_kinds')
    _add_fk_column('handovers', 'kit_kind_id', 'kit_kinds')
    op.create_index(op.f('ix_handovers_kit_kind_id'), 'handovers', ['kit_kind_id'], unique=False)
    op.add_column('handovers', sa.Column('missing_parts', JSON, server_default='[]', nullable=False))
    op.add_column('handovers', sa.Column('kit_complete', sa.Boolean(), nullable=True))

    # Programmes: the single target becomes a row of programme_targets.
    kit_kinds = sa.table('kit_kinds', sa.column('id', sa.Integer), sa.column('programme_id', sa.Integer),
                         sa.column('code', sa.String), sa.column('name', sa.String),
                         sa.column('device_types', sa.JSON), sa.column('accessory_kinds', sa.JSON))
    targets = sa.table('programme_targets', sa.column('programme_id', sa.Integer), sa.column('unit', sa.String),
                       sa.column('count', sa.Integer), sa.column('position', sa.Integer))
    for pid, count, unit in bind.execute(sa.text("SELECT id, target_count, target_unit FROM programmes")).all():
        if unit == 'kit':
            bind.execute(kit_kinds.insert().values(programme_id=pid, code='kit', name='Kit', device_types=[],
                                                   accessory_kinds=['mobile_key']))
            kind_id = bind.execute(sa.text("SELECT id FROM kit_kinds WHERE programme_id = :p AND code = 'kit'"),
                                   {"p": pid}).scalar_one()
            bind.execute(sa.text(
                "UPDATE handovers SET kit_kind_id = :k, kit_complete = :t WHERE programme_id = :p AND EXISTS "
                "(SELECT 1 FROM handover_items WHERE handover_items.handover_id = handovers.id)"),
                {"k": kind_id, "p": pid, "t": True})
        bind.execute(targets.insert().values(programme_id=pid, unit='kit' if unit == 'kit' else 'device',
                                             count=count or 0, position=0))
    op.add_column('programmes', sa.Column('beneficiary_policy', sa.String(length=10), server_default='warn',
                                          nullable=False))
    bind.execute(sa.text("UPDATE programmes SET beneficiary_policy = 'allow'"))
    _drop_column('programmes', 'target_count')
    _drop_column('programmes', 'target_unit')

    # Accessories: statuses of tracked stock, operator and plan end, unique IMEI and ICCID (unique indexes:
    # the same rule on both databases, and no rebuild of a table other tables refer to).
    bind.execute(sa.text("UPDATE accessories SET status = 'in_kit' WHERE status = 'in_stock' AND device_id IS NOT NULL"))
    bind.execute(sa.text("UPDATE accessories SET status = 'with_beneficiary' WHERE status = 'handed_over'"))
    bind.execute(sa.text("UPDATE accessories SET status = 'lost' WHERE status IN ('missing', 'retired')"))
    op.add_column('accessories', sa.Column('operator', sa.String(length=100), nullable=True))
    op.add_column('accessories', sa.Column('plan_ends_on', sa.Date(), nullable=True))
    op.drop_index('ix_accessories_imei', table_name='accessories')
    op.drop_index('ix_accessories_iccid', table_name='accessories')
    op.create_index('uq_accessories_imei', 'accessories', ['imei'], unique=True)
    op.create_index('uq_accessories_iccid', 'accessories', ['iccid'], unique=True)
    op.create_index('ix_accessories_status_plan_ends', 'accessories', ['status', 'plan_ends_on'], unique=False)

    # Custody events about an accessory: a plain column added in place (the table keeps its append-only
    # triggers); not hashed, so the existing chain verifies unchanged.
    op.add_column('custody_events', sa.Column('accessory_id', sa.Integer(), nullable=True))
    op.create_index('ix_custody_events_accessory_seq', 'custody_events', ['accessory_id', 'seq'], unique=False)


def _drop_column(table: str, column: str) -> None:
    """A plain column dropped in place: SQLite (3.35+) without rebuilding a table that others refer to."""
    if op.get_bind().dialect.name == 'sqlite':
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    else:
        op.drop_column(table, column)


def downgrade():
    """Back to one target per programme (the first one). On SQLite, run it with foreign keys off when
    hand-overs exist: the foreign-key columns added to reservations and hand-overs are dropped by a rebuild."""
    bind = op.get_bind()
    op.drop_index('ix_custody_events_accessory_seq', table_name='custody_events')
    _drop_column('custody_events', 'accessory_id')
    op.drop_index('ix_accessories_status_plan_ends', table_name='accessories')
    op.drop_index('uq_accessories_iccid', table_name='accessories')
    op.drop_index('uq_accessories_imei', table_name='accessories')
    op.create_index('ix_accessories_iccid', 'accessories', ['iccid'], unique=False)
    op.create_index('ix_accessories_imei', 'accessories', ['imei'], unique=False)
    _drop_column('accessories', 'plan_ends_on')
    _drop_column('accessories', 'operator')
    bind.execute(sa.text("UPDATE accessories SET status = 'in_stock' WHERE status IN ('in_kit', 'returned')"))
    bind.execute(sa.text("UPDATE accessories SET status = 'handed_over' WHERE status = 'with_beneficiary'"))
    bind.execute(sa.text("UPDATE accessories SET status = 'missing' WHERE status = 'lost'"))

    firsts = {}
    for pid, unit, count in bind.execute(sa.text(
            "SELECT programme_id, unit, count FROM programme_targets ORDER BY position, id")).all():
        firsts.setdefault(pid, ('device' if unit in ('device', 'laptop', 'desktop', 'tablet', 'phone', 'monitor',
                                                    'other') else 'kit', count))
    op.add_column('programmes', sa.Column('target_count', sa.Integer(), server_default='0', nullable=False))
    op.add_column('programmes', sa.Column('target_unit', sa.String(length=20), server_default='device',
                                          nullable=False))
    for pid, (unit, count) in firsts.items():
        bind.execute(sa.text("UPDATE programmes SET target_count = :c, target_unit = :u WHERE id = :p"),
                     {"c": count, "u": unit, "p": pid})
    _drop_column('programmes', 'beneficiary_policy')
    op.drop_index(op.f('ix_handovers_kit_kind_id'), table_name='handovers')
    _drop_column('handovers', 'kit_complete')
    _drop_column('handovers', 'missing_parts')
    with op.batch_alter_table('handovers', schema=None) as batch_op:
        batch_op.drop_column('kit_kind_id')
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.drop_column('kit_kind_id')
    op.drop_table('programme_targets')
    op.drop_table('kit_kinds')
