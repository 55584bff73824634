#!/usr/bin/env bash
# Collapsing changes per row (src/core/collapse.c) with batches that hold many source transactions:
# insert/update/update/delete/re-insert of the same keys in one transaction and across many,
# a hot row (with an unchanged TOASTed column) updated 1000 times, rows inserted and deleted
# before the batch ends (never written to the target), primary-key changes in the middle of
# such sequences, TRUNCATE in the middle. Tables the target must not collapse are applied change
# by change: a UNIQUE secondary index (values swapped through a temporary value, where a merged
# write would hit a unique violation) and an ENABLE ALWAYS trigger (it must see every change).
# A table without a key (insert only) gets equal rows, all of which must arrive.
# Counts from syncline's "stopped ... rows=N ... rows_written=M" line: M < N when collapsing,
# M == N for the non-collapsible tables alone and with "apply": {"collapse": false}.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t013

APPLY='"batch_rows": 100000, "batch_ms": 2000'
write_config "$(config_json "\"apply\": {$APPLY}")"

both_sql "
CREATE TABLE c (id int PRIMARY KEY, v int, s text, big text);
CREATE TABLE c2 (a int, b text, v int, PRIMARY KEY (a, b));
CREATE TABLE u (id int PRIMARY KEY, x int NOT NULL UNIQUE, v int);
CREATE TABLE g (id int PRIMARY KEY, v int);
CREATE TABLE lg (v int, s text);"
# Target only: an audit trigger that fires under session_replication_role = replica.
tgt_sql "
CREATE TABLE g_audit (n bigserial PRIMARY KEY, op text, id int, v int);
CREATE FUNCTION g_audit_fn() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO g_audit (op, id, v) VALUES (TG_OP, OLD.id, OLD.v);
        RETURN OLD;
    END IF;
    INSERT INTO g_audit (op, id, v) VALUES (TG_OP, NEW.id, NEW.v);
    RETURN NEW;
END \$\$;
CREATE TRIGGER g_audit AFTER INSERT OR UPDATE OR DELETE ON g
    FOR EACH ROW EXECUTE FUNCTION g_audit_fn();
ALTER TABLE g ENABLE ALWAYS TRIGGER g_audit;"

# ~12 kB of hex: stored out of line, so UPDATEs that leave it alone send it as unchanged ('u').
BIG="(SELECT string_agg(md5(g::text || 'x'), '') FROM generate_series(1, 400) g)"

# "rows written" of the last stop in the log: prints "N M".
stop_counts() {
    local line n m
    line=$(grep -E 'stopped applied_lsn=' "$E2E_TMP/syncline.log" | tail -n 1)
    [[ -n "$line" ]] || fail "no 'stopped' line in the log"
    n=$(sed -nE 's/.* rows=([0-9]+).*/\1/p' <<<"$line")
    m=$(sed -nE 's/.* rows_written=([0-9]+).*/\1/p' <<<"$line")
    [[ -n "$n" && -n "$m" ]] || fail "cannot read rows/rows_written from [$line]"
    echo "$n $m"
}

# Changes made to g so far (rows on the target's audit table must match).
G_CHANGES=0
g_workload() { # ROUND
    local r=$1 f=$E2E_TMP/g_$1.sql i
    {
        echo "INSERT INTO g VALUES ($((r * 1000 + 1)), 0);"
        for ((i = 1; i <= 100; i++)); do
            echo "UPDATE g SET v = v + 1 WHERE id = $((r * 1000 + 1));"
        done
        for ((i = 2; i <= 21; i++)); do
            echo "INSERT INTO g VALUES ($((r * 1000 + i)), $i);"
            echo "DELETE FROM g WHERE id = $((r * 1000 + i));"
        done
    } >"$f"
    src_sql_file "$f"
    G_CHANGES=$((G_CHANGES + 1 + 100 + 40))
}

# Swaps of the unique values of rows 1 and 2 through a temporary value, each step its own
# transaction (A x=1, B x=2: A->3, B->1, A->2), an odd number of times so the batches end
# swapped: merged and written row by row, A's write would collide with B's old value. Every
# fifth swap is one transaction. A unique value freed by a delete and taken by a new row, and
# a hot row, on the same table.
U_A=1 # x of row 1; row 2 has 3 - U_A
U_ROUNDS=0
u_workload() {
    local f=$E2E_TMP/u_$U_ROUNDS.sql i a b
    {
        for ((i = 1; i <= 31; i++)); do
            a=$U_A b=$((3 - U_A))
            ((i % 5 != 0)) || echo "BEGIN;"
            echo "UPDATE u SET x = 3 WHERE id = 1;"
            echo "UPDATE u SET x = $a WHERE id = 2;"
            echo "UPDATE u SET x = $b WHERE id = 1;"
            ((i % 5 != 0)) || echo "COMMIT;"
            U_A=$b
            echo "DELETE FROM u WHERE id = 5;"
            echo "INSERT INTO u VALUES (50, 105, $i);"
            echo "UPDATE u SET x = 150 WHERE id = 50;"
            echo "INSERT INTO u VALUES (5, 105, $i);"
            echo "DELETE FROM u WHERE id = 50;"
            echo "UPDATE u SET v = v + 1 WHERE id = 7;"
        done
    } >"$f"
    src_sql_file "$f"
    U_ROUNDS=$((U_ROUNDS + 1))
}

syncline_start
src_sql "INSERT INTO u SELECT g, CASE WHEN g <= 2 THEN g ELSE 100 + g END, 0
           FROM generate_series(1, 10) g"
wait_synced

# ---- phase 1: collapse on (the default), everything in few large target transactions

# 1a. One source transaction: insert, update twice, delete a third, re-insert some of the
# deleted, change keys, update the moved rows, reuse the old keys.
src_sql "BEGIN;
INSERT INTO c SELECT g, g, 's' || g, NULL FROM generate_series(1, 300) g;
UPDATE c SET v = v + 1 WHERE id <= 300;
UPDATE c SET v = v * 2, s = s || 'x' WHERE id <= 300;
DELETE FROM c WHERE id <= 300 AND id % 3 = 0;
INSERT INTO c SELECT g, -g, 're' || g, NULL FROM generate_series(3, 300, 6) g;
UPDATE c SET id = id + 10000 WHERE id BETWEEN 1 AND 20;
UPDATE c SET v = v + 100 WHERE id BETWEEN 10001 AND 10020;
INSERT INTO c SELECT g, 0, 'back' || g, NULL FROM generate_series(1, 20) g;
UPDATE c SET v = 7 WHERE id BETWEEN 1 AND 20;
DELETE FROM c WHERE id BETWEEN 10001 AND 10005;
INSERT INTO lg SELECT 1, 'same' FROM generate_series(1, 50);
COMMIT;"

# 1b. The same kind of sequences across many small transactions, with u and g in between.
{
    for ((i = 1; i <= 200; i++)); do
        k=$((20000 + i))
        echo "INSERT INTO c VALUES ($k, $i, 'n', NULL);"
        echo "INSERT INTO lg VALUES ($((i % 7)), 'dup');"
        echo "UPDATE c SET v = v + 1 WHERE id = $k;"
        echo "UPDATE c SET s = 'm$i' WHERE id = $k;"
        ((i % 4 != 0)) || echo "DELETE FROM c WHERE id = $k;"
        ((i % 8 != 0)) || echo "INSERT INTO c VALUES ($k, -$i, 'again', NULL);"
        if ((i % 5 == 0)); then
            echo "UPDATE c SET id = $((30000 + i)) WHERE id = $k;"
            echo "UPDATE c SET v = v + 1 WHERE id = $((30000 + i));"
            echo "INSERT INTO c VALUES ($k, 5, 'old key reused', NULL);"
        fi
        if ((i % 10 == 0)); then
            echo "BEGIN; DELETE FROM c WHERE id = $((30000 + i)); INSERT INTO c VALUES ($((30000 + i)), 1, 'd+i', NULL); UPDATE c SET v = 2 WHERE id = $((30000 + i)); COMMIT;"
        fi
        # a key moved away and back
        if ((i % 25 == 0)); then
            echo "UPDATE c SET id = 99999 WHERE id = $k;"
            echo "UPDATE c SET v = v + 1000 WHERE id = 99999;"
            echo "UPDATE c SET id = $k WHERE id = 99999;"
            echo "UPDATE c SET v = v + 1 WHERE id = $k;"
        fi
    done
} >"$E2E_TMP/small.sql"
src_sql_file "$E2E_TMP/small.sql"
u_workload
g_workload 1

# 1c. A hot row, inserted in the batch with an out-of-line value, then updated 1000 times in
# 1000 transactions without touching that value.
src_sql "INSERT INTO c VALUES (5000, 0, 'hot', $BIG)"
for ((i = 1; i <= 1000; i++)); do echo "UPDATE c SET v = v + 1 WHERE id = 5000;"; done >"$E2E_TMP/hot.sql"
src_sql_file "$E2E_TMP/hot.sql"

# 1d. Rows that must never reach the target: inserted (and updated) and deleted in one source
# transaction; and in two transactions (normally in one batch).
{
    for ((i = 1; i <= 300; i++)); do
        echo "BEGIN; INSERT INTO c VALUES ($((40000 + i)), $i, 'ghost', NULL); UPDATE c SET v = 0 WHERE id = $((40000 + i)); DELETE FROM c WHERE id = $((40000 + i)); COMMIT;"
        echo "INSERT INTO c VALUES ($((41000 + i)), $i, 'ghost2', NULL);"
        echo "DELETE FROM c WHERE id = $((41000 + i));"
    done
} >"$E2E_TMP/ghost.sql"
src_sql_file "$E2E_TMP/ghost.sql"

# 1e. TRUNCATE in the middle: in one transaction, and across transactions of one batch.
src_sql "BEGIN;
INSERT INTO c2 SELECT g, 'b' || g, g FROM generate_series(1, 50) g;
UPDATE c2 SET v = v + 1;
TRUNCATE c2;
INSERT INTO c2 SELECT g, 'b' || g, -g FROM generate_series(1, 30) g;
UPDATE c2 SET v = v * 10 WHERE a <= 10;
DELETE FROM c2 WHERE a > 25;
COMMIT;"
{
    for ((i = 1; i <= 40; i++)); do
        echo "INSERT INTO c2 VALUES (1000, 'k$i', $i);"
        echo "UPDATE c2 SET v = v + 1 WHERE a = 1000 AND b = 'k$i';"
        echo "UPDATE c2 SET b = 'moved$i' WHERE a = 1 AND b IN ('b1', 'moved$((i - 1))');"
    done
    echo "TRUNCATE c2;"
    for ((i = 1; i <= 40; i++)); do
        echo "INSERT INTO c2 VALUES (1000, 'k$i', -$i);"
        echo "UPDATE c2 SET v = v * 3 WHERE a = 1000 AND b = 'k$i';"
        ((i % 2 == 0)) || echo "DELETE FROM c2 WHERE a = 1000 AND b = 'k$i';"
    done
} >"$E2E_TMP/trunc.sql"
src_sql_file "$E2E_TMP/trunc.sql"
u_workload

wait_synced
for t in c c2 u g lg; do assert_same "$t"; done
assert_eq "$U_A|$((3 - U_A))" "$(tgt_sql "SELECT string_agg(x::text, '|' ORDER BY id) FROM u WHERE id <= 2")" \
    "u: x of rows 1 and 2"
assert_eq "1000" "$(src_sql "SELECT v FROM c WHERE id = 5000")" "control: hot row on the source"
assert_eq "1000|t" "$(tgt_sql "SELECT v, big = $BIG FROM c WHERE id = 5000")" \
    "hot row on the target: last value, TOASTed value kept"
assert_eq "0" "$(tgt_sql "SELECT count(*) FROM c WHERE id BETWEEN 40000 AND 41999")" "no ghost rows"
assert_eq "$G_CHANGES" "$(tgt_sql "SELECT count(*) FROM g_audit")" \
    "the trigger on g saw every change (g not collapsed)"

# The hot row again, now that the target has it: updates merge, the TOASTed value stays.
for ((i = 1; i <= 300; i++)); do echo "UPDATE c SET v = v + 1, s = 'hot$i' WHERE id = 5000;"; done >"$E2E_TMP/hot2.sql"
src_sql_file "$E2E_TMP/hot2.sql"
wait_synced
assert_same c
assert_eq "1300|hot300|t" "$(tgt_sql "SELECT v, s, big = $BIG FROM c WHERE id = 5000")" \
    "hot row updated again: TOASTed value kept"

syncline_stop
read -r N M <<<"$(stop_counts)"
echo "phase 1 (collapse): rows=$N rows_written=$M"
((N > 3000)) || fail "phase 1: expected more than 3000 rows received, got $N"
# The hot row alone saves about 1000 + 300 writes, the ghosts about 1500.
((M + 2500 < N)) || fail "phase 1: collapsing should save over 2500 writes: rows=$N rows_written=$M"
echo "ok: collapsing wrote $M of $N row changes"
# The target's own counters: none of the 600 ghost inserts, nor most re-inserts, got there.
src_ins=$(src_sql "SELECT n_tup_ins FROM pg_stat_user_tables WHERE relname = 'c'")
tgt_ins=$(tgt_sql "SELECT n_tup_ins FROM pg_stat_user_tables WHERE relname = 'c'")
echo "inserts into c: source $src_ins, target $tgt_ins"
((tgt_ins + 300 <= src_ins)) || fail "target inserted $tgt_ins rows into c, source $src_ins"

# ---- phase 2: collapse on, only tables that must not be collapsed: written change by change

syncline_start
u_workload
g_workload 2
wait_synced
for t in u g; do assert_same "$t"; done
assert_eq "$G_CHANGES" "$(tgt_sql "SELECT count(*) FROM g_audit")" "the trigger on g saw every change"
syncline_stop
read -r N M <<<"$(stop_counts)"
echo "phase 2 (not collapsible): rows=$N rows_written=$M"
assert_eq "$((31 * 9 + 141))" "$N" "phase 2: rows received (u and g workloads)"
assert_eq "$N" "$M" "phase 2: u and g are written change by change"

# ---- phase 3: "collapse": false writes every change

write_config "$(config_json "\"apply\": {$APPLY, \"collapse\": false}")"
syncline_start
src_sql_file "$E2E_TMP/hot.sql"
sed 's/4\([01]\)\([0-9][0-9][0-9]\)/5\1\2/g' "$E2E_TMP/ghost.sql" >"$E2E_TMP/ghost3.sql"
src_sql_file "$E2E_TMP/ghost3.sql"
src_sql "BEGIN;
UPDATE c SET v = v + 1 WHERE id < 1000;
DELETE FROM c WHERE id < 1000 AND id % 7 = 0;
UPDATE c SET id = id + 60000 WHERE id < 100;
INSERT INTO c SELECT g, g, 'p3', NULL FROM generate_series(1, 99) g;
COMMIT;"
u_workload
wait_synced
for t in c c2 u g; do assert_same "$t"; done
assert_eq "0" "$(tgt_sql "SELECT count(*) FROM c WHERE id BETWEEN 40000 AND 51999")" "no ghost rows"
syncline_stop
read -r N M <<<"$(stop_counts)"
echo "phase 3 (collapse off): rows=$N rows_written=$M"
((N > 2800)) || fail "phase 3: expected more than 2800 rows, got $N"
assert_eq "$N" "$M" "phase 3: without collapsing every change is written"
