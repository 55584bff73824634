#!/usr/bin/env bash
# syncline cutover --fence under a running pgbench: pgbench writes until the fence and fails after
# it (its sessions are ended, new sessions are read-only); the report prints the final LSN and the
# write pause; afterwards every table is equal on both sides, target sequences >= source, the fence
# stays until `syncline unfence`.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

e2e_setup t204
pgbench_setup 2
cutover_orders_setup

syncline_start
wait_synced 120

cutover_under_pgbench

# unfence
assert_unfence
src_sql "INSERT INTO orders (aid) VALUES (1)"
echo "ok: the source takes writes again"
