"""Benefit spells and benefit units: trial settings, unit keys, unit allocations, the row's
municipality and benefit start on outcome events, and the spells file in data freezes.

Columns are only added (plain ALTER TABLE ... ADD COLUMN on both databases, never a SQLite
table rebuild): ``data_freeze`` keeps its immutability triggers and ``allocation`` its rows
referenced by corrections.

Revision ID: 0008_spells
Revises: 0011_web
Create Date: 2026-12-01 21:45:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008_spells'
down_revision = '0011_web'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('trial', sa.Column('move_gap_days', sa.Integer(), server_default='31',
                                     nullable=False))
    op.add_column('trial', sa.Column('benefit_statistic_codes', sa.JSON(),
                                     server_default='["01"]', nullable=False))
    op.add_column('participant', sa.Column('unit_key', sa.String(length=64), nullable=True))
    op.create_index('ix_participant_trial_id_unit_key', 'participant', ['trial_id', 'unit_key'],
                    unique=False)
    add_unit_allocation_column()
    op.create_index(op.f('ix_allocation_unit_allocation_id'), 'allocation',
                    ['unit_allocation_id'], unique=False)
    op.add_column('outcome_event', sa.Column('municipality', sa.String(length=6), nullable=True))
    op.add_column('outcome_event', sa.Column('spell_start', sa.Date(), nullable=True))
    op.add_column('data_freeze', sa.Column('spells_csv', sa.LargeBinary(), nullable=True))
    op.add_column('data_freeze', sa.Column('spells_sha256', sa.String(length=64), nullable=True))


def add_unit_allocation_column():
    """A nullable column with a foreign key: PostgreSQL adds both; SQLite accepts the reference
    inside ADD COLUMN (the value defaults to NULL), which Alembic only offers as a table
    rebuild."""
    name = 'fk_allocation_unit_allocation_id_allocation'
    if op.get_bind().dialect.name == 'sqlite':
        op.execute(f'ALTER TABLE allocation ADD COLUMN unit_allocation_id INTEGER '
                   f'CONSTRAINT {name} REFERENCES allocation (id)')
        return
    op.add_column('allocation', sa.Column('unit_allocation_id', sa.Integer(), nullable=True))
    op.create_foreign_key(name, 'allocation', 'allocation', ['unit_allocation_id'], ['id'])


def downgrade():
    # SQLite (3.35+) drops plain columns natively; a column with a foreign key it cannot drop,
    # so allocation is rebuilt there (batch mode).
    with op.batch_alter_table('data_freeze') as batch_op:
        batch_op.drop_column('spells_sha256')
        batch_op.drop_column('spells_csv')
    with op.batch_alter_table('outcome_event') as batch_op:
        batch_op.drop_column('spell_start')
        batch_op.drop_column('municipality')
    op.drop_index(op.f('ix_allocation_unit_allocation_id'), table_name='allocation')
    if op.get_bind().dialect.name == 'sqlite':
        with op.batch_alter_table('allocation', recreate='always') as batch_op:
            batch_op.drop_column('unit_allocation_id')
    else:
        op.drop_constraint('fk_allocation_unit_allocation_id_allocation', 'allocation',
                           type_='foreignkey')
        op.drop_column('allocation', 'unit_allocation_id')
    op.drop_index('ix_participant_trial_id_unit_key', table_name='participant')
    with op.batch_alter_table('participant') as batch_op:
        batch_op.drop_column('unit_key')
    with op.batch_alter_table('trial') as batch_op:
        batch_op.drop_column('benefit_statistic_codes')
        batch_op.drop_column('move_gap_days')
