"""Web pages for the daily work: corrections, paper consent, time slots, client numbers.

Revision ID: 0011_web
Revises: 0005_import_tasks
Create Date: 2026-12-01 10:00:00

- ``conversation_correction``: corrections and deletions of conversation records, with the
  reason and what the record said (site-only).
- ``consent_event.obtained_by``: who obtained a (paper) consent form.
- ``participant.client_number``: the site's own client number (site-only).
- ``planned_conversation.start_time``: the time of a moved conversation.
- ``import_task.error_code``/``error_params``: the failed import's error, translatable;
  ``cleared_at``/``cleared_by``: a failed upload cleared from the list.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_web'
down_revision = '0005_import_tasks'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('conversation_correction',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('reason_text', sa.Text(), nullable=True),
    sa.Column('before', sa.JSON(), nullable=False),
    sa.Column('corrected_by', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], ),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('conversation_correction', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversation_correction_participant_id'), ['participant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_conversation_correction_record_id'), ['record_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_conversation_correction_site_id'), ['site_id'], unique=False)
    with op.batch_alter_table('consent_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('obtained_by', sa.String(length=80), nullable=True))
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_number', sa.String(length=40), nullable=True))
    with op.batch_alter_table('planned_conversation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('start_time', sa.String(length=5), nullable=True))
    with op.batch_alter_table('import_task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('error_code', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('error_params', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('cleared_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('cleared_by', sa.String(length=80), nullable=True))


def downgrade():
    with op.batch_alter_table('import_task', schema=None) as batch_op:
        batch_op.drop_column('cleared_by')
        batch_op.drop_column('cleared_at')
        batch_op.drop_column('error_params')
        batch_op.drop_column('error_code')
    with op.batch_alter_table('planned_conversation', schema=None) as batch_op:
        batch_op.drop_column('start_time')
    with op.batch_alter_table('participant', schema=None) as batch_op:
        batch_op.drop_column('client_number')
    with op.batch_alter_table('consent_event', schema=None) as batch_op:
        batch_op.drop_column('obtained_by')
    with op.batch_alter_table('conversation_correction', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversation_correction_site_id'))
        batch_op.drop_index(batch_op.f('ix_conversation_correction_record_id'))
        batch_op.drop_index(batch_op.f('ix_conversation_correction_participant_id'))
    op.drop_table('conversation_correction')
