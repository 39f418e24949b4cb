"""Indexes for the sortable lists: devices by time in their state, hand-overs by date

Revision ID: 0022_admin
Revises: 0020_sessions_tokens
Create Date: 2026-12-06 04:50:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0022_admin'
down_revision = '0020_sessions_tokens'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.create_index('ix_devices_state_since_alone', ['state_since'], unique=False)
    with op.batch_alter_table('handovers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handovers_handed_over_on'), ['handed_over_on'], unique=False)


def downgrade():
    with op.batch_alter_table('handovers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handovers_handed_over_on'))
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index('ix_devices_state_since_alone')
