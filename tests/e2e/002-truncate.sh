#!/usr/bin/env bash
# TRUNCATE reaches the target in source commit order, interleaved with inserts in the same
# transactions: one table, several tables in one statement, CASCADE over a foreign key between
# two synced tables, RESTART IDENTITY (the target's sequence restarts; without it, it does not),
# a TRUNCATE that is rolled back (whole transaction, and in a savepoint) is not applied.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t002

both_sql "
CREATE TABLE solo (id int PRIMARY KEY, v text);
CREATE TABLE other (id int PRIMARY KEY, v text);
CREATE TABLE parent (id int PRIMARY KEY, v text);
CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent (id), v text);
CREATE TABLE counter (id serial PRIMARY KEY, v text);
CREATE TABLE keepseq (id serial PRIMARY KEY, v text);
CREATE TABLE events (seq int PRIMARY KEY, what text);"

# Sequences are not synced: move the target's sequences away from their start, so that a restart
# on the target is visible (nextval gives 1 again) and a missing one is too.
tgt_sql "SELECT setval('counter_id_seq', 500); SELECT setval('keepseq_id_seq', 300);" >/dev/null

syncline_start
syncline_wait_streaming # the TRUNCATEs below must not meet the initial copy's locks

# 1. Initial rows everywhere.
src_sql "BEGIN;
INSERT INTO solo SELECT g, 'solo ' || g FROM generate_series(1, 10) g;
INSERT INTO other SELECT g, 'other ' || g FROM generate_series(1, 10) g;
INSERT INTO parent SELECT g, 'parent ' || g FROM generate_series(1, 5) g;
INSERT INTO child SELECT g, 1 + g % 5, 'child ' || g FROM generate_series(1, 10) g;
INSERT INTO counter (v) SELECT 'c' || g FROM generate_series(1, 3) g;
INSERT INTO keepseq (v) SELECT 'k' || g FROM generate_series(1, 3) g;
INSERT INTO events VALUES (1, 'initial');
COMMIT;"

# 2. One table: insert, truncate, insert, all in one transaction.
src_sql "BEGIN;
INSERT INTO solo VALUES (11, 'gone before commit');
TRUNCATE solo;
INSERT INTO solo VALUES (100, 'after truncate 1'), (101, 'after truncate 2');
INSERT INTO events VALUES (2, 'truncate one');
COMMIT;"

# 3. Several tables in one statement.
src_sql "BEGIN;
INSERT INTO other VALUES (11, 'gone too');
TRUNCATE solo, other;
INSERT INTO other VALUES (200, 'other after multi-truncate');
INSERT INTO events VALUES (3, 'truncate two');
COMMIT;"

# 4. CASCADE: truncating parent truncates child (FK) as well; new rows after it survive.
src_sql "BEGIN;
INSERT INTO child VALUES (11, 2, 'gone by cascade');
TRUNCATE parent CASCADE;
INSERT INTO parent VALUES (7, 'new parent');
INSERT INTO child VALUES (20, 7, 'new child');
INSERT INTO events VALUES (4, 'cascade');
COMMIT;"

# 5. RESTART IDENTITY on one table; plain TRUNCATE (no restart) on another.
src_sql "BEGIN;
INSERT INTO counter (v) VALUES ('gone by restart');
TRUNCATE counter RESTART IDENTITY;
INSERT INTO counter (v) VALUES ('first after restart');
TRUNCATE keepseq;
INSERT INTO keepseq (v) VALUES ('after plain truncate');
INSERT INTO events VALUES (5, 'restart identity');
COMMIT;"

# 6. Rolled back: a whole transaction, and a savepoint inside a committed one.
src_sql "BEGIN; TRUNCATE other; INSERT INTO other VALUES (999, 'rolled back'); ROLLBACK;"
src_sql "BEGIN;
INSERT INTO solo VALUES (300, 'kept');
SAVEPOINT s1;
TRUNCATE solo, events;
ROLLBACK TO SAVEPOINT s1;
INSERT INTO solo VALUES (301, 'kept too');
INSERT INTO events VALUES (6, 'savepoint');
COMMIT;"

# 7. Order across transactions: insert, truncate, insert in three separate commits.
src_sql "INSERT INTO events VALUES (7, 'before truncate')"
src_sql "TRUNCATE events"
src_sql "INSERT INTO events VALUES (8, 'after truncate')"

wait_synced
for t in solo other parent child counter keepseq events; do
    assert_same "$t"
done

assert_eq "300,301" "$(tgt_sql "SELECT string_agg(id::text, ',' ORDER BY id) FROM solo")" \
    "solo: only the rows after the last committed truncate"
assert_eq "200" "$(tgt_sql "SELECT string_agg(id::text, ',' ORDER BY id) FROM other")" \
    "other: multi-table truncate applied, rolled-back truncate not"
assert_eq "7|20" "$(tgt_sql "SELECT (SELECT string_agg(id::text, ',') FROM parent) || '|' ||
                                     (SELECT string_agg(id::text, ',') FROM child)")" \
    "CASCADE emptied child, rows inserted after it kept"
assert_eq "1|first after restart" "$(tgt_sql "SELECT id || '|' || v FROM counter")" \
    "counter after RESTART IDENTITY"
assert_eq "1" "$(tgt_sql "SELECT nextval('counter_id_seq')")" \
    "target sequence restarted by TRUNCATE ... RESTART IDENTITY"
assert_eq "301" "$(tgt_sql "SELECT nextval('keepseq_id_seq')")" \
    "target sequence untouched by a TRUNCATE without RESTART IDENTITY"
assert_eq "8|after truncate" "$(tgt_sql "SELECT string_agg(seq || '|' || what, ',') FROM events")" \
    "events: insert / truncate / insert applied in commit order"

rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code after SIGTERM"
