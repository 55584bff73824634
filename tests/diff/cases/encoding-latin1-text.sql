-- case: a LATIN1 source database, a UTF8 target: a non-ASCII text value reaches the target
--   unconverted.
-- found: seeds 1-2 (--src-encoding LATIN1 --features ci,+latin1,-quoted_names), reduced by hand
-- native: the row holds 'ü' (converted). syncline run: exits 1 with
--   INSERT on public.t_single failed (lsn=... key=(id)=(1)): ERROR:  invalid byte sequence for
--   encoding "UTF8": 0xfc
-- fixed: passes since the typed-lookup, no-columns and encoding fixes (issue 15, classes 2, 4, 6); replayed by CI
-- src-encoding: LATIN1
-- @schema
CREATE TABLE zz_marker (id int PRIMARY KEY);
CREATE TABLE t_single (id int8 PRIMARY KEY, v text, n int);
-- @txn 1
BEGIN;
INSERT INTO t_single VALUES (1, 'ü', 1);
COMMIT;
