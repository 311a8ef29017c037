"""Data freezes: immutable, hashed snapshots of the analysis export and its report.

Revision ID: 0004_freezes
Revises: 0003_outcomes
Create Date: 2026-11-24 14:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_freezes'
down_revision = '0003_outcomes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('data_freeze',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('trial_id', sa.Integer(), nullable=False),
    sa.Column('cutoff', sa.Date(), nullable=False),
    sa.Column('participants', sa.Integer(), nullable=False),
    sa.Column('export_csv', sa.LargeBinary(), nullable=False),
    sa.Column('export_sha256', sa.String(length=64), nullable=False),
    sa.Column('report_json', sa.Text(), nullable=False),
    sa.Column('report_sha256', sa.String(length=64), nullable=False),
    sa.Column('consort_json', sa.Text(), nullable=False),
    sa.Column('cost_per_benefit_year', sa.Float(), nullable=False),
    sa.Column('analysis_version', sa.String(length=40), nullable=False),
    sa.Column('platform_version', sa.String(length=40), nullable=False),
    sa.Column('created_by', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['trial_id'], ['trial.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('data_freeze', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_data_freeze_trial_id'), ['trial_id'], unique=False)
    create_freeze_triggers()


FREEZE_GUARD_PG = """
CREATE FUNCTION data_freeze_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'data_freeze is immutable: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER data_freeze_no_update BEFORE UPDATE OR DELETE ON data_freeze
    FOR EACH ROW EXECUTE FUNCTION data_freeze_immutable();
CREATE TRIGGER data_freeze_no_truncate BEFORE TRUNCATE ON data_freeze
    FOR EACH STATEMENT EXECUTE FUNCTION data_freeze_immutable();
"""


def create_freeze_triggers():
    """Refuse UPDATE and DELETE on data freezes in the database itself, as for the audit."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FREEZE_GUARD_PG)
    else:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER data_freeze_no_{operation.lower()} BEFORE {operation} "
                "ON data_freeze BEGIN SELECT RAISE(ABORT, 'data_freeze is immutable'); END"
            )


def drop_freeze_triggers():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS data_freeze_no_update ON data_freeze")
        op.execute("DROP TRIGGER IF EXISTS data_freeze_no_truncate ON data_freeze")
        op.execute("DROP FUNCTION IF EXISTS data_freeze_immutable()")
    else:
        op.execute("DROP TRIGGER IF EXISTS data_freeze_no_update")
        op.execute("DROP TRIGGER IF EXISTS data_freeze_no_delete")


def downgrade():
    drop_freeze_triggers()
    with op.batch_alter_table('data_freeze', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_data_freeze_trial_id'))
    op.drop_table('data_freeze')
