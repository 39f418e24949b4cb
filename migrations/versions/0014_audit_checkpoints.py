"""Audit checkpoints: the signed (seq, head hash) pairs of the custody chain

Revision ID: 0014_audit_checkpoints
Revises: 0013_reminder_sweeps
Create Date: 2026-11-29 04:23:59.999980

"""
from alembic import op
import sqlalchemy as sa

import asset_tracker.db  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = '0014_audit_checkpoints'
down_revision = '0013_reminder_sweeps'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('audit_checkpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('head_hash', sa.String(length=64), nullable=False),
    sa.Column('signed_at', asset_tracker.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('signature', sa.Text(), nullable=False),
    sa.Column('signed_by', sa.String(length=254), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_checkpoints'))
    )
    with op.batch_alter_table('audit_checkpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_checkpoints_seq'), ['seq'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_checkpoints_signed_at'), ['signed_at'], unique=False)



def downgrade():
    with op.batch_alter_table('audit_checkpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_checkpoints_signed_at'))
        batch_op.drop_index(batch_op.f('ix_audit_checkpoints_seq'))

    op.drop_table('audit_checkpoints')
