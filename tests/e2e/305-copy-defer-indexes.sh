#!/usr/bin/env bash
# snapshot.defer_indexes: the target's secondary indexes (not those backing constraints) are
# dropped for the copy and built again after it, with their exact definitions, also when the
# copy is killed (SIGKILL) while they are dropped: the rerun copies again and rebuilds them.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t305
both_sql "
CREATE TABLE acc (id int PRIMARY KEY, email text UNIQUE, bal int, note text);
CREATE INDEX acc_bal ON acc (bal);
CREATE INDEX acc_note_lower ON acc (lower(note)) WHERE bal > 0;
CREATE TABLE ev (id int, k int, v text, PRIMARY KEY (id, k)) PARTITION BY RANGE (k);
CREATE TABLE ev_a PARTITION OF ev FOR VALUES FROM (0) TO (50);
CREATE TABLE ev_b PARTITION OF ev FOR VALUES FROM (50) TO (100);
CREATE INDEX ev_v ON ev (v);
CREATE INDEX ev_a_only ON ev_a (id DESC);"
src_sql "INSERT INTO acc SELECT g, 'u' || g || '@x', g % 1000 - 500, repeat('n', 200) || g
           FROM generate_series(1, 400000) g;
         INSERT INTO ev SELECT g, g % 100, 'v' || g FROM generate_series(1, 20000) g;"
index_defs() { tgt_sql "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname"; }
BEFORE=$(index_defs)
write_config "$(config_json '"snapshot": {"workers": 1, "chunk_mb": 8, "defer_indexes": true}')"
state() { tgt_psql -c "SELECT state FROM syncline.progress WHERE name = '$E2E_NAME'" 2>/dev/null || true; }
partly_copied() {
    syncline_running || fail "syncline exited before it was killed"
    [[ $(state) == copying ]] && [[ $(tgt_psql -c "SELECT count(*) > 0 FROM acc" 2>/dev/null) == t ]]
}

E2E_START_WAIT=0 syncline_start
wait_until 120 partly_copied
syncline_kill
assert_contains "$E2E_TMP/syncline.log" "indexes deferred dropped=3" "acc_bal, acc_note_lower, ev_v dropped"
assert_eq "acc_bal
acc_note_lower
ev_v" "$(tgt_sql "SELECT index_name FROM syncline.deferred_indexes ORDER BY 1")" \
    "the dropped indexes are saved on the target"
assert_eq "" "$(tgt_sql "SELECT indexname FROM pg_indexes WHERE indexname IN ('acc_bal', 'ev_v')")" \
    "and are absent while the copy is incomplete"
assert_eq copying "$(state)" "the killed copy left state copying"

src_sql "UPDATE acc SET bal = bal + 1 WHERE id % 97 = 0; INSERT INTO ev VALUES (-1, 75, 'late')"
E2E_START_TIMEOUT=240 syncline_start
assert_contains "$E2E_TMP/syncline.log" "indexes restored count=3" "the rerun rebuilt them"
assert_eq "$BEFORE" "$(index_defs)" "every index is back with its definition"
assert_eq 0 "$(tgt_sql "SELECT count(*) FROM syncline.deferred_indexes")" "nothing left saved"
src_sql "UPDATE acc SET note = 'after' WHERE id < 10"
wait_synced 120
assert_same acc
assert_same ev
assert_same ev_a
assert_same ev_b
rc=0
syncline_stop || rc=$?
assert_eq 0 "$rc" "syncline exit code after SIGTERM"
