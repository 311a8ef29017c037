"""The analysis plan: one row per version of a trial's plan, and the plan in data freezes.

Revision ID: 0014_analysis_plan
Revises: 0008_spells
Create Date: 2026-12-02 01:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0014_analysis_plan'
down_revision = '0008_spells'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'analysis_plan',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('trial_id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('plan_json', sa.Text(), nullable=False),
        sa.Column('plan_sha256', sa.String(length=64), nullable=False),
        sa.Column('created_by', sa.String(length=80), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('frozen_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('frozen_by', sa.String(length=80), nullable=True),
        sa.Column('first_report_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['trial_id'], ['trial.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('trial_id', 'version'),
    )
    op.create_index(op.f('ix_analysis_plan_trial_id'), 'analysis_plan', ['trial_id'],
                    unique=False)
    # Plain ADD COLUMN on both databases: data_freeze keeps its immutability triggers.
    op.add_column('data_freeze', sa.Column('plan_json', sa.Text(), nullable=True))
    op.add_column('data_freeze', sa.Column('plan_sha256', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('data_freeze') as batch_op:
        batch_op.drop_column('plan_sha256')
        batch_op.drop_column('plan_json')
    op.drop_index(op.f('ix_analysis_plan_trial_id'), table_name='analysis_plan')
    op.drop_table('analysis_plan')
