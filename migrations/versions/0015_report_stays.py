"""Report stays: completed stays per state derived from the custody events, and their watermark

Revision ID: 0015_report_stays
Revises: 0014_audit_checkpoints
Create Date: 2026-11-29 04:41:55.039329

"""
from alembic import op
import sqlalchemy as sa

import asset_tracker.db  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = '0015_report_stays'
down_revision = '0014_audit_checkpoints'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('report_stay_watermark',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_stay_watermark'))
    )
    op.create_table('report_stays',
    sa.Column('ended_seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('ended_seq', name=op.f('pk_report_stays'))
    )
    with op.batch_alter_table('report_stays', schema=None) as batch_op:
        batch_op.create_index('ix_report_stays_state_seconds', ['state', 'seconds'], unique=False)



def downgrade():
    with op.batch_alter_table('report_stays', schema=None) as batch_op:
        batch_op.drop_index('ix_report_stays_state_seconds')

    op.drop_table('report_stays')
    op.drop_table('report_stay_watermark')
