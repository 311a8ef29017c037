"""Trust, integrity: the audit chain keyed with HMAC, its head signed and guarded by triggers.

``audit_head`` gains ``keyed_from`` (entries from this id on are HMAC-SHA256 under the audit
key; earlier ones keep their plain SHA-256) and ``mac`` (the head's own HMAC). The head is
signed here with the application's audit key (the migration runs inside the app, see env.py).
Triggers on both databases refuse deleting the head, adding a second head row, and any update
that does not move the head forward or that moves ``keyed_from``; on PostgreSQL also TRUNCATE.

Revision ID: 0013_trust_integrity
Revises: 0008_spells
Create Date: 2026-12-02 02:10:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0013_trust_integrity'
down_revision = '0016_privacy'
branch_labels = None
depends_on = None


HEAD_GUARD_PG = """
CREATE FUNCTION audit_head_forward_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id AND NEW.last_id > OLD.last_id
       AND NEW.keyed_from = OLD.keyed_from THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'INSERT' AND NOT EXISTS (SELECT 1 FROM audit_head) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_head only moves forward: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_head_guard BEFORE INSERT OR UPDATE OR DELETE ON audit_head
    FOR EACH ROW EXECUTE FUNCTION audit_head_forward_only();
CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
    FOR EACH STATEMENT EXECUTE FUNCTION audit_head_forward_only();
"""

HEAD_GUARD_SQLITE = (
    "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
    "BEGIN SELECT RAISE(ABORT, 'audit_head only moves forward'); END",
    "CREATE TRIGGER audit_head_forward_only BEFORE UPDATE ON audit_head "
    "WHEN NEW.id <> OLD.id OR NEW.last_id <= OLD.last_id OR NEW.keyed_from <> OLD.keyed_from "
    "BEGIN SELECT RAISE(ABORT, 'audit_head only moves forward'); END",
    "CREATE TRIGGER audit_head_single_row BEFORE INSERT ON audit_head "
    "WHEN (SELECT COUNT(*) FROM audit_head) > 0 "
    "BEGIN SELECT RAISE(ABORT, 'audit_head only moves forward'); END",
)


def upgrade():
    from flask import current_app

    from fiptrial.services.audit import head_mac

    op.add_column('audit_head', sa.Column('keyed_from', sa.Integer(), server_default='1',
                                          nullable=False))
    op.add_column('audit_head', sa.Column('mac', sa.String(length=64), nullable=True))
    bind = op.get_bind()
    head = bind.execute(sa.text("SELECT last_id, last_hash FROM audit_head WHERE id = 1")).one()
    keyed_from = head.last_id + 1
    key = str(current_app.config["AUDIT_KEY"]).encode()
    bind.execute(
        sa.text("UPDATE audit_head SET keyed_from = :k, mac = :m WHERE id = 1"),
        {"k": keyed_from, "m": head_mac(head.last_id, head.last_hash, keyed_from, key)},
    )
    if bind.dialect.name == "postgresql":
        op.execute(HEAD_GUARD_PG)
    else:
        for statement in HEAD_GUARD_SQLITE:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_head_guard ON audit_head")
        op.execute("DROP TRIGGER IF EXISTS audit_head_no_truncate ON audit_head")
        op.execute("DROP FUNCTION IF EXISTS audit_head_forward_only()")
    else:
        for name in ("audit_head_no_delete", "audit_head_forward_only", "audit_head_single_row"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    with op.batch_alter_table('audit_head', schema=None) as batch_op:
        batch_op.drop_column('mac')
        batch_op.drop_column('keyed_from')
