-- etc/dt4ecg-pg-roles.sql — PostgreSQL roles for a dt4ecg chain (issue 15).
-- Run once as the database's owner (the role dt4ecg-admin uses; not a
-- superuser), after `dt4ecg-admin --db postgresql://... init`:
--   psql "postgresql://dt4ecg_admin@db.example/dt4ecg" -v daemon_password=... \
--       -f dt4ecg-pg-roles.sql
-- (CREATE ROLE needs CREATEROLE; or have the DBA create dt4ecgd and run
-- the GRANTs only.)  The daemon's role can read the store, append to the
-- audit log, keep nonces and failure counters and set a member's lock -
-- and nothing else: no UPDATE, DELETE or TRUNCATE on the audit log, no
-- change to members' data, kiosks, models, recordings or templates, and
-- (not owning the tables) no ALTER TABLE ... DISABLE TRIGGER.  So even with
-- the daemon's credentials the audit log can only grow.
CREATE ROLE dt4ecgd LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT
    PASSWORD :'daemon_password';
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM dt4ecgd;
GRANT USAGE ON SCHEMA public TO dt4ecgd;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO dt4ecgd;
GRANT INSERT ON audit TO dt4ecgd;
GRANT INSERT, DELETE ON nonces TO dt4ecgd;
GRANT INSERT, UPDATE ON nonce_horizon TO dt4ecgd;
GRANT INSERT, UPDATE, DELETE ON member_failures, kiosk_failures TO dt4ecgd;
GRANT UPDATE (locked_until, mac, audit_id) ON members TO dt4ecgd;
