-- case: a LATIN1 source database whose table has a non-ASCII column name: syncline run exits 1
--   while reading the source table's columns, and prints nothing at all.
-- found: seeds 1-2 (--src-encoding LATIN1 --features ci,+latin1: quoted_names has "Ünï"),
--   reduced by hand
-- native: replicates the row. syncline run: exit code 1, no log line (strace: it reads the
--   columns of the source table, closes its connections, exits)
-- fixed: passes since the typed-lookup, no-columns and encoding fixes (issue 15, classes 2, 4, 6); replayed by CI
-- src-encoding: LATIN1
-- @schema
CREATE TABLE zz_marker (id int PRIMARY KEY);
CREATE TABLE t_names (id int8 PRIMARY KEY, "Ünï" int);
-- @txn 1
BEGIN;
INSERT INTO t_names VALUES (1, 2);
COMMIT;
