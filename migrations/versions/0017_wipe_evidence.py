"""Wipe records: one use per log section or CSV row, verification flag, identity override, who performed it

Revision ID: 0017_wipe_evidence
Revises: 0016_user_job_title
Create Date: 2026-12-06 04:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017_wipe_evidence'
down_revision = '0016_user_job_title'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('wipe_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('operator_title', sa.String(length=200), server_default='', nullable=False))
        batch_op.add_column(sa.Column('operator_organisation_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('fingerprint', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('unverified', sa.Boolean(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('override_reason', sa.Text(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_wipe_records_fingerprint'), ['fingerprint'])
        batch_op.create_foreign_key(batch_op.f('fk_wipe_records_operator_organisation_id_organisations'),
                                    'organisations', ['operator_organisation_id'], ['id'])
    # Records made before: the organisation the operator belonged to is the best evidence left of who wiped.
    op.execute("UPDATE wipe_records SET operator_organisation_id = "
               "(SELECT users.organisation_id FROM users WHERE users.id = wipe_records.operator_id) "
               "WHERE operator_id IS NOT NULL")
    op.execute("UPDATE wipe_records SET unverified = true "
               "WHERE source = 'nwipe' AND (verification IS NULL OR verification = 'none')")


def downgrade():
    with op.batch_alter_table('wipe_records', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_wipe_records_operator_organisation_id_organisations'),
                                 type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_wipe_records_fingerprint'), type_='unique')
        batch_op.drop_column('override_reason')
        batch_op.drop_column('unverified')
        batch_op.drop_column('fingerprint')
        batch_op.drop_column('operator_organisation_id')
        batch_op.drop_column('operator_title')
