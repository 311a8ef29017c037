"""Import tasks: uploads imported in the background, with a status the user can follow.

Revision ID: 0005_import_tasks
Revises: 0004_freezes
Create Date: 2026-11-24 14:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_import_tasks'
down_revision = '0004_freezes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('import_task',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('rows_done', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.Column('duplicate', sa.Boolean(), nullable=False),
    sa.Column('error', sa.String(length=2000), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('spool_name', sa.String(length=255), nullable=False),
    sa.Column('created_by', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['import_batch.id'], ),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('import_task', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_task_site_id'), ['site_id'], unique=False)


def downgrade():
    with op.batch_alter_table('import_task', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_task_site_id'))

    op.drop_table('import_task')
