-- case: REPLICA IDENTITY FULL, the old tuple holds a boolean: syncline cannot find the row.
-- found: seed 1 (--features full_identity --txns 20), shrunk to one transaction, then the
--   columns reduced by hand (each other column NULL: the bool alone makes it fail)
-- native: deletes the row. syncline run: exits 1 with
--   DELETE on public.t_full failed (lsn=... key=(a, b, c, f, ip, ch, d)=(6, NULL, NULL, t, NULL,
--   NULL, NULL)): no such row on the target
-- fixed: passes since the typed-lookup, no-columns and encoding fixes (issue 15, classes 2, 4, 6); replayed by CI
-- @schema
CREATE TABLE zz_marker (id int PRIMARY KEY);
CREATE TABLE t_single (id int8 PRIMARY KEY, v text, n int);
CREATE TABLE t_full (a int, b text, c numeric, f bool, ip inet, ch char(4), d float8);
ALTER TABLE t_full REPLICA IDENTITY FULL;
-- @txn 1
BEGIN;
INSERT INTO t_full VALUES (6, NULL, NULL, true, NULL, NULL, NULL);
DELETE FROM t_full WHERE a % 5 = 1;
COMMIT;
