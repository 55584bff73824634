#!/usr/bin/env bash
# Unchanged TOAST values: pgoutput sends 'u' (unchanged) for an out-of-line value that an UPDATE
# did not touch. A 2 MB incompressible text, a 1 MB bytea and a compressed multibyte text must
# survive UPDATEs of another column byte for byte: with REPLICA IDENTITY DEFAULT (also when the
# primary key changes in the same UPDATE) and with REPLICA IDENTITY FULL (no primary key).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t004

both_sql "
CREATE TABLE docs (id int PRIMARY KEY, big text, small int, bin bytea, big2 text);
CREATE TABLE fulldocs (k int, big text, small int);"
src_sql "ALTER TABLE fulldocs REPLICA IDENTITY FULL"

syncline_start

# ~2 MB of random hex (does not compress: stored out of line as is), 1 MB of random bytes, and a
# ~2.6 MB repetitive multibyte text (compressed, still out of line).
RANDTEXT="(SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 65536))"
RANDBYTES="(SELECT decode(string_agg(md5(random()::text), ''), 'hex') FROM generate_series(1, 65536))"
src_sql "INSERT INTO docs VALUES (1, $RANDTEXT, 0, $RANDBYTES, repeat('żółw 🐢 ', 200000))"
src_sql "INSERT INTO docs VALUES (2, $RANDTEXT, 0, $RANDBYTES, repeat('ąę ', 300000))"
src_sql "INSERT INTO fulldocs VALUES (1, $RANDTEXT, 0), (2, $RANDTEXT, 0)"

# The values are really out of line on the source.
assert_eq "t" "$(src_sql "SELECT pg_column_size(big) > 2000000 AND pg_column_size(bin) > 1000000
                                 AND pg_column_size(big2) < octet_length(big2)
                            FROM docs WHERE id = 1")" "source values are large (big2 compressed)"

# UPDATEs of the small column only: separate transactions, and several in one.
for i in 1 2 3; do
    src_sql "UPDATE docs SET small = $i WHERE id = 1"
done
src_sql "BEGIN;
UPDATE docs SET small = small + 10;
UPDATE docs SET small = small + 100 WHERE id = 2;
UPDATE docs SET small = small + 1000 WHERE id = 1;
COMMIT;"
src_sql "UPDATE fulldocs SET small = 5 WHERE k = 1"
src_sql "UPDATE fulldocs SET small = small + 1"

digest() { # side -> md5 per row of every large column
    "${1}_sql" "SELECT string_agg(concat_ws(':', id, small, md5(big), md5(bin), md5(big2),
                                            octet_length(big), octet_length(bin), octet_length(big2)),
                                  ' ' ORDER BY id) FROM docs"
}
full_digest() {
    "${1}_sql" "SELECT string_agg(concat_ws(':', k, small, md5(big), octet_length(big)),
                                  ' ' ORDER BY k) FROM fulldocs"
}

wait_synced
assert_eq "$(digest src)" "$(digest tgt)" "docs: large values byte for byte after small-column updates"
assert_eq "$(full_digest src)" "$(full_digest tgt)" "fulldocs (FULL): large values after small-column updates"
assert_eq "1013|110" "$(tgt_sql "SELECT (SELECT small FROM docs WHERE id = 1) || '|' ||
                                       (SELECT small FROM docs WHERE id = 2)")" "small columns updated"
assert_same docs
assert_same fulldocs

# Change a large value, then update the small column again; set one large value to NULL and
# update around it; change the primary key without touching the large values.
src_sql "UPDATE docs SET big = $RANDTEXT WHERE id = 2"
src_sql "UPDATE docs SET small = -1 WHERE id = 2"
src_sql "BEGIN;
UPDATE docs SET bin = NULL WHERE id = 1;
UPDATE docs SET small = -2 WHERE id = 1;
COMMIT;"
src_sql "UPDATE docs SET id = 10, small = 7 WHERE id = 1"
src_sql "UPDATE docs SET id = 20 WHERE id = 2"
src_sql "UPDATE fulldocs SET big = $RANDTEXT WHERE k = 2"
src_sql "UPDATE fulldocs SET small = 9 WHERE k = 2"
src_sql "UPDATE fulldocs SET k = 3 WHERE k = 1"

wait_synced
assert_eq "$(digest src)" "$(digest tgt)" "docs: large values after key changes and NULLs"
assert_eq "$(full_digest src)" "$(full_digest tgt)" "fulldocs: large values after more updates"
assert_eq "10,20" "$(tgt_sql "SELECT string_agg(id::text, ',' ORDER BY id) FROM docs")" "keys changed"
assert_same docs
assert_same fulldocs

src_sql "DELETE FROM fulldocs WHERE k = 3"
src_sql "DELETE FROM docs WHERE id = 20"
wait_synced
assert_same docs
assert_same fulldocs
assert_eq "1|1" "$(tgt_sql "SELECT (SELECT count(*) FROM docs) || '|' || (SELECT count(*) FROM fulldocs)")" \
    "deletes by a toasted identity"

rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code after SIGTERM"
