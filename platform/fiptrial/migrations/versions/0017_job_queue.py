"""Background work on a real queue (issue 15): procrastinate's tables on PostgreSQL; the import
task's job, attempts and mapping version.

Revision ID: 0017_job_queue
Revises: 0012_trust_access
Create Date: 2026-12-02 05:00:00

- On PostgreSQL, procrastinate's schema (tables ``procrastinate_jobs``, ``_workers``,
  ``_events``, ``_periodic_defers``, their types, functions and triggers) as the installed
  procrastinate ships it (``SchemaManager.get_schema``), so that ``fiptrial db upgrade`` sets
  up the queue. procrastinate is pinned to one major version: a version whose schema changed
  needs a revision that applies its files from ``procrastinate/sql/migrations``.
  SQLite has no queue (its jobs run in process) and gets nothing.
- ``import_task.job_id``, ``attempts`` and ``mapping_version`` (API uploads above the
  synchronous size are queued too, and may name a mapping version).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017_job_queue'
down_revision = '0012_trust_access'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('import_task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mapping_version', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('job_id', sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column('attempts', sa.Integer(), server_default='0', nullable=False)
        )
    connection = op.get_bind()
    if connection.dialect.name == 'postgresql':
        from procrastinate.schema import SchemaManager

        # Plain SQL with dollar-quoted bodies; no parameters, so nothing is interpolated.
        connection.exec_driver_sql(SchemaManager.get_schema().replace('%', '%%'))


def downgrade():
    connection = op.get_bind()
    if connection.dialect.name == 'postgresql':
        for table in ('procrastinate_periodic_defers', 'procrastinate_events',
                      'procrastinate_jobs', 'procrastinate_workers'):
            connection.exec_driver_sql(f'DROP TABLE IF EXISTS {table} CASCADE')
        functions = connection.exec_driver_sql(
            "SELECT p.oid::regprocedure::text FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate%%'"
        ).scalars().all()
        for function in functions:
            connection.exec_driver_sql(f'DROP FUNCTION IF EXISTS {function} CASCADE')
        types = connection.exec_driver_sql(
            "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
            "WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate%%' "
            "AND t.typtype IN ('e', 'c')"
        ).scalars().all()
        for name in types:
            connection.exec_driver_sql(f'DROP TYPE IF EXISTS {name} CASCADE')
    with op.batch_alter_table('import_task', schema=None) as batch_op:
        batch_op.drop_column('attempts')
        batch_op.drop_column('job_id')
        batch_op.drop_column('mapping_version')
