"""Enrolment and outcome imports: import batches, outcome events and held-back rows.

Revision ID: 0003_outcomes
Revises: 0002_conversations
Create Date: 2026-11-24 13:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0003_outcomes'
down_revision = '0002_conversations'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('import_batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('plugin', sa.String(length=80), nullable=False),
    sa.Column('plugin_version', sa.String(length=40), nullable=False),
    sa.Column('mapping_version', sa.String(length=40), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('report', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_import_batch_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_batch')),
    sa.UniqueConstraint('site_id', 'kind', 'file_sha256', 'mapping_version',
                        name=op.f('uq_import_batch_site_id_kind_file_sha256_mapping_version'))
    )
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_batch_site_id'), ['site_id'], unique=False)

    op.create_table('outcome_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('event_date', sa.Date(), nullable=False),
    sa.Column('bus_code', sa.String(length=2), nullable=True),
    sa.Column('local_code', sa.String(length=40), nullable=False),
    sa.Column('new_municipality', sa.String(length=6), nullable=True),
    sa.Column('previous_date', sa.Date(), nullable=True),
    sa.Column('previous_bus_code', sa.String(length=2), nullable=True),
    sa.Column('previous_local_code', sa.String(length=40), nullable=True),
    sa.Column('mapping_version', sa.String(length=40), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['import_batch.id'],
                            name=op.f('fk_outcome_event_batch_id_import_batch')),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'],
                            name=op.f('fk_outcome_event_participant_id_participant')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_outcome_event_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outcome_event')),
    sa.UniqueConstraint('participant_id', 'kind', 'event_date', 'local_code',
                        name=op.f('uq_outcome_event_participant_id_kind_event_date_local_code'))
    )
    with op.batch_alter_table('outcome_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outcome_event_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outcome_event_participant_id'), ['participant_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_outcome_event_site_id'), ['site_id'], unique=False)

    op.create_table('held_row',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('local_code', sa.String(length=40), nullable=False),
    sa.Column('new_municipality', sa.String(length=6), nullable=True),
    sa.Column('benefit_start', sa.Date(), nullable=False),
    sa.Column('benefit_end', sa.Date(), nullable=False),
    sa.Column('mapping_version', sa.String(length=40), nullable=False),
    sa.Column('released_batch_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['import_batch.id'],
                            name=op.f('fk_held_row_batch_id_import_batch')),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'],
                            name=op.f('fk_held_row_participant_id_participant')),
    sa.ForeignKeyConstraint(['released_batch_id'], ['import_batch.id'],
                            name=op.f('fk_held_row_released_batch_id_import_batch')),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], name=op.f('fk_held_row_site_id_site')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_held_row')),
    sa.UniqueConstraint('participant_id', 'local_code', 'benefit_end',
                        name=op.f('uq_held_row_participant_id_local_code_benefit_end'))
    )
    with op.batch_alter_table('held_row', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_held_row_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_held_row_participant_id'), ['participant_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_held_row_site_id'), ['site_id'], unique=False)


def downgrade():
    with op.batch_alter_table('held_row', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_held_row_site_id'))
        batch_op.drop_index(batch_op.f('ix_held_row_participant_id'))
        batch_op.drop_index(batch_op.f('ix_held_row_batch_id'))
    op.drop_table('held_row')
    with op.batch_alter_table('outcome_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outcome_event_site_id'))
        batch_op.drop_index(batch_op.f('ix_outcome_event_participant_id'))
        batch_op.drop_index(batch_op.f('ix_outcome_event_batch_id'))
    op.drop_table('outcome_event')
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_batch_site_id'))
    op.drop_table('import_batch')
