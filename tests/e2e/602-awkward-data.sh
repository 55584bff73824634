#!/usr/bin/env bash
# Awkward source data syncs exactly: every byte value and 1 MB of random bytes in bytea, one
# 100 MB text value (md5 on both sides; syncline's peak RSS is reported and bounded), jsonb nested
# as deep as PostgreSQL accepts, identifiers with quotes and unicode, and special values (NaN,
# infinities, control characters, empty vs NULL). Streamed (not copied) so pgoutput carries them.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t602

IDENT_TABLE='"ünï""cødé"'
both_sql "CREATE TABLE bin (id int PRIMARY KEY, b bytea);
          CREATE TABLE big (id int PRIMARY KEY, note text, t text);
          CREATE TABLE deep (id int PRIMARY KEY, j jsonb, depth int);
          CREATE TABLE $IDENT_TABLE (id int PRIMARY KEY, \"🐘 col\" text, \"a\"\"b\" int);
          CREATE TABLE odd (id int PRIMARY KEY, t text, f float8, n numeric, ts timestamptz,
                            d date, arr text[], e text)"

syncline_start

# Every byte value, 1 MiB of random bytes, an empty bytea and a NULL.
src_sql "INSERT INTO bin VALUES
           (1, (SELECT decode(string_agg(lpad(to_hex(i), 2, '0'), '' ORDER BY i), 'hex')
                  FROM generate_series(0, 255) i)),
           (2, (SELECT decode(string_agg(md5(random()::text), ''), 'hex')
                  FROM generate_series(1, 65536))),
           (3, ''::bytea), (4, NULL)"
src_sql "UPDATE bin SET b = b || '\\x00ff00'::bytea WHERE id = 1"

# The deepest jsonb array PostgreSQL accepts (max_stack_depth decides), from 100000 down.
DEPTH=0
for d in 100000 50000 20000 10000 5000 2000 1000; do
    if src_psql -c "SELECT (repeat('[', $d) || '1' || repeat(']', $d))::jsonb" >/dev/null 2>&1; then
        DEPTH=$d
        break
    fi
done
((DEPTH > 0)) || fail "PostgreSQL accepted no nested jsonb of depth >= 1000"
echo "jsonb nesting depth: $DEPTH"
src_sql "INSERT INTO deep VALUES
           (1, (repeat('[', $DEPTH) || '\"x\"' || repeat(']', $DEPTH))::jsonb, $DEPTH),
           (2, (repeat('{\"k\": ', $((DEPTH / 2))) || 'null' || repeat('}', $((DEPTH / 2))))::jsonb,
            $((DEPTH / 2)))"

src_sql "INSERT INTO $IDENT_TABLE VALUES (1, 'ça marche ✓', 1), (2, NULL, 2);
         UPDATE $IDENT_TABLE SET \"🐘 col\" = '🐘🐘', \"a\"\"b\" = 20 WHERE id = 2;
         DELETE FROM $IDENT_TABLE WHERE id = 1;
         INSERT INTO $IDENT_TABLE VALUES (3, E'quote \" and \\\\ backslash', 3)"

src_sql "INSERT INTO odd VALUES
           (1, E'tab\\there\\nnewline\\r\\\\ back \\'quote\\' \"dq\" \\x01\\x7f', 'NaN', 'NaN',
            'infinity', 'infinity', ARRAY[NULL, '', 'NULL', 'a,b', '{x}'], ''),
           (2, '', '-Infinity', '-1e-1000'::numeric + 0, '-infinity', '-infinity', '{}', NULL),
           (3, repeat('é', 10000), 1e308, 1e1000, '0001-01-01 00:00:00+00 BC', '4713-01-01 BC',
            NULL, ' ')"

# One 100 MiB text value (3,276,800 md5 strings), in a transaction of its own.
src_sql "INSERT INTO big VALUES (1, 'small', (SELECT string_agg(md5(i::text), '' ORDER BY i)
                                                FROM generate_series(1, 3276800) i))"
src_sql "UPDATE big SET note = 'changed' WHERE id = 1" # the 100 MB value stays unchanged (TOAST)

RSS_MAX=0
watch_rss() { # prints the peak resident set of syncline (kB) so far
    awk '/^VmHWM/ {print $2}' "/proc/$SYNCLINE_PID/status" 2>/dev/null || echo 0
}
wait_synced 240
RSS_MAX=$(watch_rss)

for t in bin deep odd "$IDENT_TABLE"; do assert_same "$t"; done
s=$(src_sql "SELECT length(t) || ' ' || md5(t) || ' ' || note FROM big")
t=$(tgt_sql "SELECT length(t) || ' ' || md5(t) || ' ' || note FROM big")
assert_eq "$s" "$t" "100 MiB text value: length, md5 and note equal"
assert_eq "104857600" "${s%% *}" "the value is 100 MiB"
s=$(src_sql "SELECT md5(b) FROM bin WHERE id = 2")
assert_eq "$s" "$(tgt_sql "SELECT md5(b) FROM bin WHERE id = 2")" "1 MiB random bytea md5"
assert_eq "$DEPTH" "$(tgt_sql "SELECT depth FROM deep WHERE id = 1 AND j IS NOT NULL")" \
    "deep jsonb row on the target"
assert_eq "256" "$(tgt_sql "SELECT length(b) - 3 FROM bin WHERE id = 1")" "all byte values kept"

# Peak RSS (measured: 510 MiB, 563 MiB under ASan): libpq buffers the 100 MiB value on receive
# and again on send, each buffer growing by doubling. Bound at 768 MiB.
echo "syncline peak RSS (VmHWM): $((RSS_MAX / 1024)) MiB"
((RSS_MAX < 768 * 1024)) || fail "syncline peak RSS $((RSS_MAX / 1024)) MiB is above 768 MiB"
syncline_stop
