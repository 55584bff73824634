-- case: a key GENERATED ALWAYS AS IDENTITY changed on the source (UPDATE ... SET id = DEFAULT):
--   syncline's UPDATE of the key is refused by the target, which native apply is not.
-- found: seeds 1-3 (--features generated,... when t_gen's key was GENERATED ALWAYS), then
--   reduced by hand; inserts and updates of other columns are applied fine
-- native: the row has its new key. syncline run: exits 1 with
--   PREPARE on public.t_ident failed (lsn=0/0): ERROR:  column "id" can only be updated to DEFAULT
--   (and the message names no LSN)
-- @schema
CREATE TABLE zz_marker (id int PRIMARY KEY);
CREATE TABLE t_ident (id int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY, n int);
-- @txn 1
BEGIN;
INSERT INTO t_ident (n) VALUES (1), (2);
COMMIT;
-- @txn 2
BEGIN;
UPDATE t_ident SET id = DEFAULT WHERE n = 1;
COMMIT;
