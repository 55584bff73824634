#!/usr/bin/env bash
# CPU accounting shared by the benchmarks (sourced by bench/lib.sh and bench/kafka.sh):
# user+sys clock ticks of processes and their children, from /proc/PID/stat.

CLK_TCK=$(getconf CLK_TCK)

# cpu_snap PID...: "pid:ticks" (user+sys clock ticks, all threads) of each process and each of its
# children alive now.
cpu_snap() {
    local pid f p
    local -a st
    for pid in "$@" $(for p in "$@"; do pgrep -P "$p" || true; done); do
        f=$(cut -d')' -f2- "/proc/$pid/stat" 2>/dev/null) || continue
        read -r -a st <<<"$f"
        printf '%s:%s ' "$pid" $((st[11] + st[12]))
    done
    echo
}

# cpu_delta BEFORE AFTER: CPU seconds spent between two cpu_snap snapshots by the processes alive
# at AFTER (a process that started in between counts from 0). Processes that exited in between
# are left out rather than subtracted (the plain difference of two sums can go negative when,
# say, an autovacuum worker or the CHECKPOINT backend exits during the window).
cpu_delta() {
    awk -v a="$1" -v b="$2" -v hz="$CLK_TCK" 'BEGIN {
        n = split(a, x, " "); for (i = 1; i <= n; i++) { split(x[i], kv, ":"); t0[kv[1]] = kv[2] }
        n = split(b, y, " "); for (i = 1; i <= n; i++) { split(y[i], kv, ":"); s += kv[2] - ((kv[1] in t0) ? t0[kv[1]] : 0) }
        printf "%.2f", s / hz }'
}
