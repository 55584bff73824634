-- case: apply.binary with REPLICA IDENTITY FULL: syncline's lookup of the old row sent binary
--   values where the target expected text.
-- found: seeds 4000-4009 (--sessions 3 --binary --txns 80: every one stopped on t_full or
--   t_toastf), seed 1 (--binary --features full_identity) shrunk to one transaction, then
--   reduced by hand
-- diverged before the fix (the build of 1d90537 still does): syncline run (apply.binary) exits 1
--   with UPDATE on public.t_full failed (lsn=... key=(a, b, c, d, j)=(?, ?, ?, ?, ?)): ERROR:
--   invalid byte sequence for encoding "UTF8": 0x00
-- root: FULL lookups compared "c"::text IS NOT DISTINCT FROM $k::text, so $k was a text
--   parameter and a binary int4 went to text's receive function. Fixed by the typed row lookup
--   (70762ba: $k::<the column's type>), which reached main after this case was recorded.
-- binary: true
-- @schema
CREATE TABLE zz_marker (id int PRIMARY KEY);
CREATE TABLE t_full (a int, b text, c numeric, d float8, j jsonb);
ALTER TABLE t_full REPLICA IDENTITY FULL;
-- @txn 1
BEGIN;
INSERT INTO t_full VALUES (2, 'x', NULL, NULL, NULL);
COMMIT;
-- @txn 2
BEGIN;
UPDATE t_full SET b = 'y' WHERE a = 2;
COMMIT;
