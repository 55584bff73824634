-- seed: 2
-- features: full_typed,key_updates,savepoints,multi_table
-- txns: 30
-- shrunk: direct differs from native on (exit) (direct)
-- seconds: setup 4.0, replay 0.1, stop 0.1
-- direct: direct exited with code 1 before catching up: 2026-12-06T06:01:51.530Z error run failed (runtime): target: UPDATE on public.t_fullt failed (lsn=0/3F94DC8 key=(a, f, ch, ip, ts, u, raw, vc)=(14, t, abcd, ::1, NULL, 5c837a33-7011-8304-9aeb-b19f218a9270, \x, )): no such row on the target (the target diverged from the source; set apply.on_missing_row to "skip" to carry on)
-- @schema
CREATE SEQUENCE gen_seq;
CREATE TABLE zz_marker (id int PRIMARY KEY);
CREATE TABLE t_single (id int8 PRIMARY KEY, v text, n int);
CREATE TABLE t_fullt (a int, f bool, ch char(4), ip inet, ts timestamptz, u uuid, raw bytea, vc varchar(10));
ALTER TABLE t_fullt REPLICA IDENTITY FULL;
-- @txn 1
BEGIN;
INSERT INTO t_fullt VALUES (10, false, '', '10.0.0.0/8', '-infinity', md5('449165')::uuid, '\xdeadbeef', 'ab '), (10, false, '', '10.0.0.0/8', '-infinity', md5('449165')::uuid, '\xdeadbeef', 'ab '), (14, true, 'abcd', '::1', NULL, md5('827832')::uuid, '\x', ''), (0, NULL, 'ab', '192.168.1.196', NULL, md5('260308')::uuid, '\x00ff00', '');
UPDATE t_fullt SET a = a + 100 WHERE a % 3 = 2;
COMMIT;
