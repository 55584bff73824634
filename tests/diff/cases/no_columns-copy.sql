-- case: a published table with no columns: syncline's initial copy fails before streaming.
-- found: seed 1 (--features all); the workload does not matter (setup fails)
-- native: replicates the rows (row count). syncline run: exits 1 with
--   copy of public.t_nocols failed: target: copy: ERROR:  syntax error at or near ")"
--   LINE 1: COPY "public"."t_nocols" () FROM STDIN WITH (FORMAT binary)
-- fixed: passes since the typed-lookup, no-columns and encoding fixes (issue 15, classes 2, 4, 6); replayed by CI
-- @schema
CREATE TABLE zz_marker (id int PRIMARY KEY);
CREATE TABLE t_single (id int8 PRIMARY KEY, v text, n int);
CREATE TABLE t_nocols ();
ALTER TABLE t_nocols REPLICA IDENTITY FULL;
-- @txn 1
BEGIN;
INSERT INTO t_nocols SELECT FROM generate_series(1, 3);
DELETE FROM t_nocols WHERE ctid = (SELECT ctid FROM t_nocols LIMIT 1);
COMMIT;
