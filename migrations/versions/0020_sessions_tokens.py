"""Sessions and tokens: a per-user session generation that ends every session at logout or password change; API tokens expire

Revision ID: 0020_sessions_tokens
Revises: 0019_scope
Create Date: 2026-12-06 04:30:00

"""
import datetime as dt

from alembic import op
import sqlalchemy as sa

import asset_tracker.db


# revision identifiers, used by Alembic.
revision = '0020_sessions_tokens'
down_revision = '0019_scope'
branch_labels = None
depends_on = None

# Tokens issued before expiry existed live one year from their creation (the default lifetime).
LEGACY_TOKEN_DAYS = 365


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_generation', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', asset_tracker.db.UTCDateTime(timezone=True), nullable=True))

    tokens = sa.table('api_tokens', sa.column('id', sa.Integer()),
                      sa.column('created_at', asset_tracker.db.UTCDateTime(timezone=True)),
                      sa.column('expires_at', asset_tracker.db.UTCDateTime(timezone=True)))
    conn = op.get_bind()
    now = dt.datetime.now(dt.timezone.utc)
    for token_id, created in conn.execute(sa.select(tokens.c.id, tokens.c.created_at)).all():
        conn.execute(tokens.update().where(tokens.c.id == token_id)
                     .values(expires_at=(created or now) + dt.timedelta(days=LEGACY_TOKEN_DAYS)))

    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.alter_column('expires_at', existing_type=asset_tracker.db.UTCDateTime(timezone=True), nullable=False)


def downgrade():
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_generation')
