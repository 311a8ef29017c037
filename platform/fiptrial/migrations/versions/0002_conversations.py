"""FIP conversations, caseloads, follow-up rounds, notifications, scheduled jobs.

Tables: caseload assignments, conversation plans and records, life domains, agreements,
interventions, follow-up rounds, notifications, job runs, the scheduler lock and APScheduler's
job store; and the trial's FIP delivery parameters.

Revision ID: 0002_conversations
Revises: 0001_core
Create Date: 2026-11-24 13:21:58.821375

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0002_conversations"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade():
    # APScheduler's SQLAlchemyJobStore table (its own layout), created here rather than by
    # the first scheduler, so that two schedulers starting at once never race to create it.
    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.Unicode(length=191), nullable=False),
        sa.Column("next_run_time", sa.Float(precision=25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apscheduler_jobs")),
    )
    op.create_index("ix_apscheduler_jobs_next_run_time", "apscheduler_jobs", ["next_run_time"])
    op.create_table(
        "job_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=120), nullable=False),
        sa.Column("run_key", sa.String(length=80), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("host", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_run")),
    )
    with op.batch_alter_table("job_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_run_job_id"), ["job_id"], unique=False)

    op.create_table(
        "scheduler_lock",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_lock")),
    )
    op.create_table(
        "followup_round",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("export_received_on", sa.Date(), nullable=True),
        sa.Column("batch_id", sa.String(length=80), nullable=True),
        sa.Column("flagged_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_followup_round_site_id_site")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followup_round")),
        sa.UniqueConstraint("site_id", "period", name=op.f("uq_followup_round_site_id_period")),
    )
    with op.batch_alter_table("followup_round", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_followup_round_site_id"), ["site_id"], unique=False)

    op.create_table(
        "caseload_assignment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("client_manager_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("assigned_on", sa.Date(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("reason_text", sa.Text(), nullable=True),
        sa.Column("assigned_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_manager_id"],
            ["app_user.id"],
            name=op.f("fk_caseload_assignment_client_manager_id_app_user"),
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_caseload_assignment_participant_id_participant"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_caseload_assignment_site_id_site")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_caseload_assignment")),
    )
    with op.batch_alter_table("caseload_assignment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_caseload_assignment_client_manager_id"),
            ["client_manager_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_caseload_assignment_participant_id"), ["participant_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_caseload_assignment_site_id"), ["site_id"], unique=False
        )
        batch_op.create_index(
            "uq_caseload_assignment_current",
            ["participant_id"],
            unique=True,
            sqlite_where=sa.text("ended_on IS NULL"),
            postgresql_where=sa.text("ended_on IS NULL"),
        )

    op.create_table(
        "conversation_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("conversations_per_year", sa.Integer(), nullable=False),
        sa.Column("intervention_years", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_conversation_plan_participant_id_participant"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_conversation_plan_site_id_site")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_plan")),
        sa.UniqueConstraint("participant_id", name=op.f("uq_conversation_plan_participant_id")),
    )
    with op.batch_alter_table("conversation_plan", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_conversation_plan_site_id"), ["site_id"], unique=False)

    op.create_table(
        "conversation_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("client_manager_id", sa.Integer(), nullable=True),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("planned_conversation_id", sa.Integer(), nullable=True),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.Column("missed_reason", sa.String(length=40), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_manager_id"],
            ["app_user.id"],
            name=op.f("fk_conversation_record_client_manager_id_app_user"),
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_conversation_record_participant_id_participant"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_conversation_record_site_id_site")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_record")),
    )
    with op.batch_alter_table("conversation_record", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_conversation_record_client_manager_id"),
            ["client_manager_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_conversation_record_participant_id"), ["participant_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_conversation_record_site_id"), ["site_id"], unique=False
        )

    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_notification_site_id_site")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_notification_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
        sa.UniqueConstraint("key", name=op.f("uq_notification_key")),
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notification_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_notification_site_id"), ["site_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_notification_user_id"), ["user_id"], unique=False)

    op.create_table(
        "agreement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("responsible", sa.String(length=20), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("followup_record_id", sa.Integer(), nullable=True),
        sa.Column("kept", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["followup_record_id"],
            ["conversation_record.id"],
            name=op.f("fk_agreement_followup_record_id_conversation_record"),
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_agreement_participant_id_participant"),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["conversation_record.id"],
            name=op.f("fk_agreement_record_id_conversation_record"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement")),
    )
    with op.batch_alter_table("agreement", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agreement_participant_id"), ["participant_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_agreement_record_id"), ["record_id"], unique=False)

    op.create_table(
        "conversation_domain",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(length=30), nullable=False),
        sa.Column("moved_forward", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["conversation_record.id"],
            name=op.f("fk_conversation_domain_record_id_conversation_record"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_domain")),
        sa.UniqueConstraint(
            "record_id", "domain", name=op.f("uq_conversation_domain_record_id_domain")
        ),
    )
    with op.batch_alter_table("conversation_domain", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_conversation_domain_record_id"), ["record_id"], unique=False
        )

    op.create_table(
        "intervention",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("provider", sa.String(length=200), nullable=True),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("started_record_id", sa.Integer(), nullable=True),
        sa.Column("ended_record_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ended_record_id"],
            ["conversation_record.id"],
            name=op.f("fk_intervention_ended_record_id_conversation_record"),
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_intervention_participant_id_participant"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_intervention_site_id_site")
        ),
        sa.ForeignKeyConstraint(
            ["started_record_id"],
            ["conversation_record.id"],
            name=op.f("fk_intervention_started_record_id_conversation_record"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intervention")),
    )
    with op.batch_alter_table("intervention", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_intervention_participant_id"), ["participant_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_intervention_site_id"), ["site_id"], unique=False)

    op.create_table(
        "planned_conversation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("client_manager_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("planned_date", sa.Date(), nullable=False),
        sa.Column("first_planned_date", sa.Date(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("replanned_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_manager_id"],
            ["app_user.id"],
            name=op.f("fk_planned_conversation_client_manager_id_app_user"),
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participant.id"],
            name=op.f("fk_planned_conversation_participant_id_participant"),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["conversation_record.id"],
            name=op.f("fk_planned_conversation_record_id_conversation_record"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_planned_conversation_site_id_site")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_planned_conversation")),
        sa.UniqueConstraint(
            "participant_id",
            "sequence",
            name=op.f("uq_planned_conversation_participant_id_sequence"),
        ),
    )
    with op.batch_alter_table("planned_conversation", schema=None) as batch_op:
        batch_op.create_index(
            "ix_planned_conversation_manager_date",
            ["client_manager_id", "planned_date"],
            unique=False,
        )
        batch_op.create_index(
            "ix_planned_conversation_site_status", ["site_id", "status"], unique=False
        )

    with op.batch_alter_table("trial", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("conversations_per_year", sa.Integer(), server_default="4", nullable=False)
        )
        batch_op.add_column(
            sa.Column("intervention_years", sa.Integer(), server_default="1", nullable=False)
        )
        batch_op.add_column(
            sa.Column("conversations_per_day", sa.Integer(), server_default="3", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "first_conversation_minutes", sa.Integer(), server_default="60", nullable=False
            )
        )
        batch_op.add_column(
            sa.Column(
                "later_conversation_minutes", sa.Integer(), server_default="45", nullable=False
            )
        )
        batch_op.add_column(
            sa.Column("working_day_minutes", sa.Integer(), server_default="180", nullable=False)
        )


def downgrade():
    with op.batch_alter_table("trial", schema=None) as batch_op:
        batch_op.drop_column("working_day_minutes")
        batch_op.drop_column("later_conversation_minutes")
        batch_op.drop_column("first_conversation_minutes")
        batch_op.drop_column("conversations_per_day")
        batch_op.drop_column("intervention_years")
        batch_op.drop_column("conversations_per_year")

    with op.batch_alter_table("planned_conversation", schema=None) as batch_op:
        batch_op.drop_index("ix_planned_conversation_site_status")
        batch_op.drop_index("ix_planned_conversation_manager_date")

    op.drop_table("planned_conversation")
    with op.batch_alter_table("intervention", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intervention_site_id"))
        batch_op.drop_index(batch_op.f("ix_intervention_participant_id"))

    op.drop_table("intervention")
    with op.batch_alter_table("conversation_domain", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversation_domain_record_id"))

    op.drop_table("conversation_domain")
    with op.batch_alter_table("agreement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agreement_record_id"))
        batch_op.drop_index(batch_op.f("ix_agreement_participant_id"))

    op.drop_table("agreement")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_user_id"))
        batch_op.drop_index(batch_op.f("ix_notification_site_id"))
        batch_op.drop_index(batch_op.f("ix_notification_kind"))

    op.drop_table("notification")
    with op.batch_alter_table("conversation_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversation_record_site_id"))
        batch_op.drop_index(batch_op.f("ix_conversation_record_participant_id"))
        batch_op.drop_index(batch_op.f("ix_conversation_record_client_manager_id"))

    op.drop_table("conversation_record")
    with op.batch_alter_table("conversation_plan", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversation_plan_site_id"))

    op.drop_table("conversation_plan")
    with op.batch_alter_table("caseload_assignment", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_caseload_assignment_current",
            sqlite_where=sa.text("ended_on IS NULL"),
            postgresql_where=sa.text("ended_on IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_caseload_assignment_site_id"))
        batch_op.drop_index(batch_op.f("ix_caseload_assignment_participant_id"))
        batch_op.drop_index(batch_op.f("ix_caseload_assignment_client_manager_id"))

    op.drop_table("caseload_assignment")
    with op.batch_alter_table("followup_round", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_followup_round_site_id"))

    op.drop_table("followup_round")
    op.drop_table("scheduler_lock")
    with op.batch_alter_table("job_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_run_job_id"))

    op.drop_table("job_run")
    op.drop_index("ix_apscheduler_jobs_next_run_time", table_name="apscheduler_jobs")
    op.drop_table("apscheduler_jobs")
