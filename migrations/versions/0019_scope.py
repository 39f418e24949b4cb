"""Workshop scope: each device remembers the workshop that holds or last held it

Revision ID: 0019_scope
Revises: 0018_legal_identity
Create Date: 2026-12-06 04:45:00

The workshop of an existing device is its custodian when that is a workshop, else the last workshop
a custody event handed it to, else the workshop of its batch; devices no workshop has taken stay NULL.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019_scope'
down_revision = '0018_legal_identity'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('workshop_organisation_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_devices_workshop_organisation_id_organisations'),
                                    'organisations', ['workshop_organisation_id'], ['id'])
        batch_op.create_index('ix_devices_workshop_state', ['workshop_organisation_id', 'state'], unique=False)
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.create_index('ix_batches_workshop_status', ['workshop_organisation_id', 'status'], unique=False)

    op.execute(sa.text(
        "UPDATE devices SET workshop_organisation_id = custodian_organisation_id "
        "WHERE custodian_organisation_id IN (SELECT id FROM organisations WHERE kind = 'workshop')"))
    op.execute(sa.text(
        "UPDATE devices SET workshop_organisation_id = ("
        " SELECT e.custodian_after_id FROM custody_events e JOIN organisations o ON o.id = e.custodian_after_id"
        " WHERE e.device_id = devices.id AND o.kind = 'workshop' ORDER BY e.seq DESC LIMIT 1) "
        "WHERE workshop_organisation_id IS NULL"))
    op.execute(sa.text(
        "UPDATE devices SET workshop_organisation_id = ("
        " SELECT b.workshop_organisation_id FROM batches b WHERE b.id = devices.batch_id) "
        "WHERE workshop_organisation_id IS NULL AND batch_id IS NOT NULL"))


def downgrade():
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.drop_index('ix_batches_workshop_status')
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index('ix_devices_workshop_state')
        batch_op.drop_constraint(batch_op.f('fk_devices_workshop_organisation_id_organisations'), type_='foreignkey')
        batch_op.drop_column('workshop_organisation_id')
