"""Legal identity of organisations, disposal decision and signatories of batches, donor inventory numbers

Revision ID: 0018_legal_identity
Revises: 0017_wipe_evidence
Create Date: 2026-12-06 04:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018_legal_identity'
down_revision = '0017_wipe_evidence'
branch_labels = None
depends_on = None

LEGAL_NATURES = ('state', 'local_authority', 'public_establishment', 'association', 'company', 'other')


def upgrade():
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('legal_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('siret', sa.String(length=14), nullable=True))
        batch_op.add_column(sa.Column('legal_nature', sa.Enum(*LEGAL_NATURES, name='legal_nature', native_enum=False,
                                                              length=32), nullable=True))
        batch_op.add_column(sa.Column('donation_legal_basis', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('donation_legal_basis_ref', sa.String(length=200), nullable=True))
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disposal_decision_ref', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('disposal_decision_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('donor_signatory_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('donor_signatory_title', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('workshop_signatory_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('workshop_signatory_title', sa.String(length=200), nullable=True))
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('donor_inventory_number', sa.String(length=100), nullable=True))


def downgrade():
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_column('donor_inventory_number')
    with op.batch_alter_table('batches', schema=None) as batch_op:
        for name in ('workshop_signatory_title', 'workshop_signatory_name', 'donor_signatory_title',
                     'donor_signatory_name', 'disposal_decision_date', 'disposal_decision_ref'):
            batch_op.drop_column(name)
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        for name in ('donation_legal_basis_ref', 'donation_legal_basis', 'legal_nature', 'siret', 'legal_name'):
            batch_op.drop_column(name)
