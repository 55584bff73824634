-- case: REPLICA IDENTITY FULL, the old tuple holds an inet host address (no /n: ::1,
--   192.168.1.229): syncline cannot find the row. A network ('10.0.0.0/8') is found.
-- found: seeds 1-5 (--features full_identity, when t_full still had an inet column), then the
--   columns reduced by hand
-- native: deletes the row. syncline run: exits 1 with
--   DELETE on public.t_fullt failed (lsn=... key=(a, f, ch, ip, ts, u, raw, vc)=(6, NULL, NULL,
--   ::1, NULL, NULL, NULL, NULL)): no such row on the target
-- fixed: passes since the typed-lookup, no-columns and encoding fixes (issue 15, classes 2, 4, 6); replayed by CI
-- @schema
CREATE TABLE zz_marker (id int PRIMARY KEY);
CREATE TABLE t_single (id int8 PRIMARY KEY, v text, n int);
CREATE TABLE t_fullt (a int, f bool, ch char(4), ip inet, ts timestamptz, u uuid, raw bytea, vc varchar(10));
ALTER TABLE t_fullt REPLICA IDENTITY FULL;
-- @txn 1
BEGIN;
INSERT INTO t_fullt VALUES (6, NULL, NULL, '::1', NULL, NULL, NULL, NULL);
COMMIT;
-- @txn 2
BEGIN;
DELETE FROM t_fullt WHERE a % 5 = 1;
COMMIT;
