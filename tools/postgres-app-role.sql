-- The application's role on PostgreSQL: it uses the tables, it does not own them.
--
-- Run as the owner of the tables (the role that runs `fiptrial db upgrade`, never the
-- application), in the trial's database, after every migration:
--     psql -v ON_ERROR_STOP=1 -d fiptrial -f tools/postgres-app-role.sql
-- then give the application FIPTRIAL_DATABASE_URL=postgresql+psycopg://fiptrial_app@host/fiptrial
-- (with a password or a client certificate; see pg_hba.conf).
--
-- Only a table's owner (or a superuser) may ALTER TABLE ... DISABLE TRIGGER, DROP TRIGGER or
-- SET session_replication_role, so the application -- and whoever takes it over -- can
-- neither switch off nor bypass the triggers that keep the audit trail append-only and its
-- head moving forward. It may not UPDATE, DELETE or TRUNCATE the audit trail or the data
-- freezes at all, and it cannot change the schema.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fiptrial_app') THEN
        CREATE ROLE fiptrial_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
END
$$;
GRANT USAGE ON SCHEMA public TO fiptrial_app;
REVOKE CREATE ON SCHEMA public FROM fiptrial_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO fiptrial_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO fiptrial_app;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_entry FROM fiptrial_app;
REVOKE DELETE, TRUNCATE ON audit_head FROM fiptrial_app;
REVOKE UPDATE, DELETE, TRUNCATE ON data_freeze FROM fiptrial_app;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM fiptrial_app;
