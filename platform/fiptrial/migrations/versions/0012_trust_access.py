"""Trust, access: a session version per user; AOW notices without the AOW date.

Revision ID: 0012_trust_access
Revises: 0013_trust_integrity
Create Date: 2026-12-02 01:00:00

- ``app_user.session_version``: raised by logout, a password change and deactivation; a web
  session opened under an older version is no longer accepted (every session of the user ends).
- ``app_user.locked_until`` goes: wrong passwords no longer lock an account (anyone could lock
  anyone out); logins are throttled per client address instead (``fiptrial.limits``).
- ``notification.data`` of the stored AOW notices: ``pension_age_date`` (from which the birth
  date follows) becomes ``aow_month`` (YYYY-MM). Not reversed by the downgrade: the day is gone.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_trust_access'
down_revision = '0013_trust_integrity'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('session_version', sa.Integer(), nullable=False, server_default='0')
        )
        batch_op.drop_column('locked_until')
    notification = sa.table(
        'notification', sa.column('id', sa.Integer), sa.column('kind', sa.String),
        sa.column('data', sa.JSON),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(notification.c.id, notification.c.data).where(notification.c.kind == 'aow_soon')
    ).all()
    for row_id, data in rows:
        data = dict(data or {})
        day = data.pop('pension_age_date', None)
        if day is None:
            continue
        data['aow_month'] = str(day)[:7]
        connection.execute(
            notification.update().where(notification.c.id == row_id).values(data=data)
        )


def downgrade():
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_column('session_version')
