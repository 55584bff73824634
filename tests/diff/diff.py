#!/usr/bin/env python3
"""Differential driver: native logical replication is the oracle for syncline.

For each seed (or kept case) it creates a fresh source database and, on the target cluster, one
database per replica: `native` (a PostgreSQL subscription), `direct` (`syncline run`) and, with
--kafka, `kafka` (`syncline capture` + `syncline apply`). All read the same publication. It
replays the workload on the source, waits until every replica has a marker row committed after
it, then compares every table row by row. Prints PASS or DIFF per seed; --shrink reduces a DIFF to
a small case under tests/diff/cases/pending/. It only drives servers and processes: it does not start
clusters or brokers (tests/diff/run.sh and tests/e2e/701-differential.sh do).
"""
import argparse
import copy
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
# The features syncline agrees with native replication on today (CI runs these).
CI_FEATURES = ["types", "composite_key", "composite_typed", "full_identity", "index_identity", "partitions",
               "toast", "toast_full", "key_updates", "savepoints", "rollback", "truncate", "multi_table",
               "big_txn", "generated", "dropped_columns", "quoted_names", "full_typed", "no_columns",
               "identity_always"]


class Env:
    def __init__(self, a):
        self.a = a
        self.psql = os.path.join(a.pg_bin, "psql")
        self.procs = []  # (name, Popen, log file)

    # ------------------------------------------------------------- SQL
    def sql(self, port, db, text, check=True, on_error_stop=True):
        cmd = [self.psql, "-X", "-qAt", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", db,
               "-v", "ON_ERROR_STOP=%d" % (1 if on_error_stop else 0), "-f", "-"]
        env = dict(os.environ, PGOPTIONS="-c client_min_messages=warning", PGCLIENTENCODING="UTF8", PGCONNECT_TIMEOUT="10")
        p = subprocess.run(cmd, input=text, capture_output=True, text=True, env=env)
        if check and p.returncode != 0:
            raise RuntimeError("psql on %s/%s failed: %s\nSQL: %s" % (port, db, p.stderr.strip(), text[:500]))
        return p

    def src(self, db, text, **kw):
        return self.sql(self.a.src_port, db, text, **kw).stdout

    def tgt(self, db, text, **kw):
        return self.sql(self.a.tgt_port, db, text, **kw).stdout

    # ------------------------------------------------------------- processes
    def start(self, name, args, log):
        f = open(log, "a")
        f.write("=== %s %s ===\n" % (time.strftime("%T"), " ".join(args)))
        f.flush()
        p = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.procs.append((name, p, log))
        return p

    def stop_all(self):
        """SIGTERM every process we started, SIGKILL after 20 s; returns {name: exit code}."""
        codes = {}
        for name, p, _ in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, p, _ in self.procs:
            try:
                codes[name] = p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                codes[name] = p.wait()
        self.procs = []
        return codes

    def dead(self):
        """(name, code, last log lines) of the first started process that has exited, or None."""
        for name, p, log in self.procs:
            if p.poll() is not None:
                with open(log, errors="replace") as f:
                    lines = f.read().splitlines()
                tail = [x for x in lines if " error " in x or " fatal " in x][-2:] or lines[-3:]
                return name, p.returncode, tail
        return None


def replica_dbs(a):
    names = ["native", "direct"] + (["kafka"] if a.kafka else [])
    return {n: "%s_%s" % (a.prefix, n) for n in names}


def reset(env):
    """Drops what a previous run left: subscription, slots, databases."""
    a = env.a
    dbs = replica_dbs(a)
    exists = env.tgt("postgres", "SELECT 1 FROM pg_database WHERE datname = '%s'" % dbs["native"]).strip()
    if exists:
        env.tgt(dbs["native"], "ALTER SUBSCRIPTION %s_sub DISABLE; ALTER SUBSCRIPTION %s_sub SET (slot_name = NONE);"
                " DROP SUBSCRIPTION %s_sub;" % ((a.prefix,) * 3), check=False)
    for _ in range(50):
        env.src("postgres", "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots"
                " WHERE database = '%s' AND active_pid IS NOT NULL" % a.prefix)
        p = env.sql(a.src_port, "postgres", "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                    " WHERE database = '%s'" % a.prefix, check=False)
        if p.returncode == 0:
            break
        time.sleep(0.2)
    env.src("postgres", "DROP DATABASE IF EXISTS %s WITH (FORCE);" % a.prefix)
    env.tgt("postgres", "".join("DROP DATABASE IF EXISTS %s_%s WITH (FORCE);\n" % (a.prefix, db)
                                for db in ["native", "direct", "kafka"]))


def config(env, name, db, work, kafka_topic=None):
    a = env.a
    cfg = {"name": name,
           "source": {"conninfo": "host=127.0.0.1 port=%d user=postgres dbname=%s" % (a.src_port, a.prefix),
                      "publication": "%s_pub" % a.prefix},
           "target": {"conninfo": "host=127.0.0.1 port=%d user=postgres dbname=%s" % (a.tgt_port, db)},
           "apply": {"batch_ms": 50, "binary": a.binary and not kafka_topic}}  # capture sends text
    if kafka_topic:
        cfg["kafka"] = {"brokers": a.kafka_brokers, "topic": kafka_topic, "format": a.kafka_format,
                        "partitioning": "none"}
    path = os.path.join(work, name + ".json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def wait_for(what, secs, cond, env):
    deadline = time.time() + secs
    while True:
        if cond():
            return
        d = env.dead()
        if d:
            raise Died(*d)
        if time.time() > deadline:
            raise TimeoutError("%s: not after %d s" % (what, secs))
        time.sleep(0.1)


class Died(Exception):
    def __init__(self, name, code, tail):
        super().__init__("%s exited with code %s before catching up: %s" % (name, code, " | ".join(tail)))
        self.name = name


def setup(env, wl, work, marks):
    """Fresh databases and schema; the native subscription and syncline streaming. Appends
    (step, time) to marks."""
    a = env.a
    reset(env)
    marks.append(("reset", time.time()))
    dbs = replica_dbs(a)
    enc = " ENCODING '%s' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0" % a.src_encoding if a.src_encoding else ""
    schema = "\n".join(wl["schema"]) + "\n"
    # one psql session: every walsender of this database spills transactions over 64 kB to
    # disk while decoding; \c switches to the new database
    env.src("postgres", "CREATE DATABASE %s%s;\nALTER DATABASE %s SET logical_decoding_work_mem = '64kB';\n"
            "\\c %s\n%sCREATE PUBLICATION %s_pub FOR ALL TABLES WITH (publish_via_partition_root = true);\n"
            % (a.prefix, enc, a.prefix, a.prefix, schema, a.prefix))
    marks.append(("source", time.time()))
    # every replica's database and schema in one psql session (\c switches database)
    env.tgt("postgres", "".join("CREATE DATABASE %s;\n\\c %s\n%s\\c postgres\n" % (db, db, schema)
                                for db in dbs.values()))
    marks.append(("replicas", time.time()))
    # syncline's slots and the subscription's are created at the same time: each waits for the
    # source's running transactions (other --jobs workers' workloads)
    env.start("direct", [a.syncline, "run", "-c", config(env, a.prefix + "_d", dbs["direct"], work)],
              os.path.join(work, "direct.log"))
    if a.kafka:
        topic = "diff.%s.%d" % (a.prefix, time.time_ns() % 10**10)
        cfg = config(env, a.prefix + "_k", dbs["kafka"], work, topic)
        log = os.path.join(work, "capture.log")
        env.start("capture", [a.syncline, "capture", "-c", cfg], log)
    env.tgt(dbs["native"], "CREATE SUBSCRIPTION %s_sub CONNECTION 'host=127.0.0.1 port=%d user=postgres dbname=%s'"
            " PUBLICATION %s_pub WITH (copy_data = false);" % (a.prefix, a.src_port, a.prefix, a.prefix))
    marks.append(("subscription", time.time()))
    if a.kafka:
        wait_for("capture streaming", 60, lambda: "capture streaming" in open(log, errors="replace").read(), env)
        env.start("apply", [a.syncline, "apply", "-c", cfg], os.path.join(work, "apply.log"))

    def streaming():
        return env.tgt(dbs["direct"], "SELECT 1 FROM pg_tables WHERE schemaname = 'syncline' AND tablename = 'progress'"
                       ).strip() == "1" and env.tgt(
            dbs["direct"], "SELECT state FROM syncline.progress WHERE name = '%s_d'" % a.prefix).strip() == "streaming"
    wait_for("syncline run streaming", 60, streaming, env)


def is_first_inserts(txn):
    """The generator's opening transactions: BEGIN, three INSERTs into one table, COMMIT."""
    return len(txn) == 5 and all(x.startswith("INSERT") for x in txn[1:4])


def run_sessions(env, batches, work, tag):
    """Runs each batch of transactions in its own psql session, all at once; returns the error
    lines, without deadlocks and what they abort. With several sessions other conflicts
    (a row moved to another partition, a savepoint lost with its aborted transaction) are the
    source's business too: run_one then only reports them."""
    a = env.a
    procs = []
    for i, txns in enumerate(batches):
        path = os.path.join(work, "txns.%s.%d.sql" % (tag, i))
        with open(path, "w") as f:
            f.write("".join("\n".join(t) + "\n" for t in txns))
        cmd = [env.psql, "-X", "-qAt", "-h", "127.0.0.1", "-p", str(a.src_port), "-U", "postgres",
               "-d", a.prefix, "-v", "ON_ERROR_STOP=0", "-f", path]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                      env=dict(os.environ, PGOPTIONS="-c client_min_messages=warning", PGCLIENTENCODING="UTF8")))
    errors = []
    for p in procs:
        _, err = p.communicate()
        errors += [line for line in err.splitlines() if "ERROR" in line and not any(
            k in line for k in ("deadlock detected", "current transaction is aborted"))]
    return errors


def replay(env, wl, work):
    """Runs the transactions on the source, then the marker; returns the psql error lines. With
    --sessions N > 1 the opening inserts run first, alone, and the rest is dealt round-robin to
    N concurrent sessions."""
    txns, n = wl["txns"], max(1, env.a.sessions)
    first = len(txns) if n == 1 else next((i for i, t in enumerate(txns) if not is_first_inserts(t)), len(txns))
    errors = run_sessions(env, [txns[:first]], work, "first")
    errors += run_sessions(env, [txns[first + i::n] for i in range(n) if txns[first + i::n]], work, "rest")
    env.src(env.a.prefix, "INSERT INTO zz_marker VALUES (1);")
    return errors


def catch_up(env, secs):
    dbs = replica_dbs(env.a)
    for name, db in dbs.items():
        wait_for("%s has the marker" % name, secs,
                 lambda db=db: env.tgt(db, "SELECT count(*) FROM zz_marker").strip() == "1", env)


def tables(env):
    return env.src(env.a.prefix, "SELECT quote_ident(relname) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
                   " AND relkind IN ('r', 'p') AND relname <> 'zz_marker' ORDER BY relname").splitlines()


def dump_all(env, port, db, names):
    """{table: its rows as text, sorted} for every table of NAMES, in one psql session."""
    marker = "@@diff-table@@ "
    script = "".join("\\echo '%s%d'\nCOPY (SELECT t::text FROM %s t ORDER BY t::text COLLATE \"C\") TO STDOUT;\n"
                     % (marker, i, t) for i, t in enumerate(names))
    rows, cur = {t: [] for t in names}, None
    for line in env.sql(port, db, script).stdout.splitlines():
        if line.startswith(marker):
            cur = rows[names[int(line[len(marker):])]]
        else:
            cur.append(line)
    return rows


def first_diff(a_rows, b_rows, n=5):
    sa, sb = set(a_rows), set(b_rows)
    only_a = [r for r in a_rows if r not in sb][:n]
    only_b = [r for r in b_rows if r not in sa][:n]
    if not only_a and not only_b:  # same rows, different multiplicity
        only_a, only_b = ["(multiplicity) %d rows" % len(a_rows)], ["(multiplicity) %d rows" % len(b_rows)]
    return only_a, only_b


def compare(env):
    """[(replica, table, native-only rows, replica-only rows)] and oracle notes (native != source)."""
    a = env.a
    dbs = replica_dbs(a)
    diffs, notes = [], []
    names = tables(env)
    src = dump_all(env, a.src_port, a.prefix, names)
    got = {n: dump_all(env, a.tgt_port, db, names) for n, db in dbs.items()}
    for t in names:
        nat = got["native"][t]
        if src[t] != nat:
            notes.append((t, first_diff(src[t], nat)))
        for name in [n for n in dbs if n != "native"]:
            if got[name][t] != nat:
                x, y = first_diff(nat, got[name][t])
                diffs.append((name, t, x, y))
    return diffs, notes


def sabotage(env):
    """--control: one row more on the direct replica, so that a working harness says DIFF (an
    extra row, not a deleted one: a workload may leave t_single empty)."""
    env.tgt(replica_dbs(env.a)["direct"], "INSERT INTO t_single (id, v, n) VALUES (-1, 'sabotage', -1);")


def run_one(env, wl, work, strict=True):
    """One workload end to end. Returns (verdict, signature, lines, seconds)."""
    os.makedirs(work, exist_ok=True)
    t0 = time.time()
    lines = []
    sig = None
    diffs, notes = [], []
    marks = [("start", time.time())]
    try:
        try:
            setup(env, wl, work, marks)
            marks.append(("syncline streaming", time.time()))
            errs = replay(env, wl, work)
            marks.append(("replay", time.time()))
            if strict and errs and env.a.sessions <= 1:
                return "ERROR", ("source", "(workload)"), [
                    "  the workload failed on the source (a generator bug): " + errs[0]], time.time() - t0
            if errs:
                lines.append("  (%d statements failed on the source, as a shrunk or concurrent workload may;"
                             " first: %s)" % (len(errs), errs[0][-160:]))
            catch_up(env, env.a.timeout)
            marks.append(("catch-up", time.time()))
            if env.a.control:
                sabotage(env)
            diffs, notes = compare(env)
            marks.append(("compare", time.time()))
        except Died as e:
            marks.append(("until the exit", time.time()))
            diffs = [(e.name, "(exit)", [str(e)], [])]
        except TimeoutError as e:
            marks.append(("until the timeout", time.time()))
            diffs = [(str(e).split()[0], "(timeout)", [str(e)], [])]
        for t, (x, y) in notes:
            lines.append("  note: native differs from the source on %s (source: %s, native: %s)" % (t, x[:2], y[:2]))
        for name, t, x, y in diffs:
            if t.startswith("("):
                lines.append("  %s: %s" % (name, x[0][:600]))
                continue
            lines.append("  %s differs from native on %s" % (name, t))
            lines += ["    native only: %s" % r[:600] for r in x] + ["    %s only: %s" % (name, r[:300]) for r in y]
        if diffs:
            sig = (diffs[0][0], diffs[0][1])
    finally:
        codes = env.stop_all()
        marks.append(("stop", time.time()))
        lines.insert(0, "  seconds: " + ", ".join("%s %.1f" % (marks[i][0], marks[i][1] - marks[i - 1][1])
                                                   for i in range(1, len(marks))))
    bad = {k: v for k, v in codes.items() if v not in (0, None)}
    if bad and not sig:
        sig = (sorted(bad)[0], "(exit)")
        lines.append("  exit codes after SIGTERM: %s" % bad)
    if not env.a.keep:
        reset(env)
    return ("DIFF" if sig else "PASS"), sig, lines, time.time() - t0


# ----------------------------------------------------------------- shrinking

def shrink(env, wl, sig, work, log):
    """Greedy: drop chunks of transactions, then single statements, while the same replica and
    table still differ. Returns the smaller workload."""
    def same(w):
        v, s, _, _ = run_one(env, w, work, strict=False)
        log("    try %d txns / %d statements: %s %s" % (len(w["txns"]), sum(len(t) - 2 for t in w["txns"]), v, s or ""))
        return v == "DIFF" and s == sig

    txns = wl["txns"]
    chunk = max(1, len(txns) // 2)
    while chunk >= 1:
        i = 0
        while i < len(txns):
            cand = txns[:i] + txns[i + chunk:]
            if cand and same(dict(wl, txns=cand)):
                txns = cand
            else:
                i += chunk
        chunk //= 2
    for ti in range(len(txns)):
        si = 1
        while si < len(txns[ti]) - 1:
            t = txns[ti][:si] + txns[ti][si + 1:]
            if len(t) > 2 and same(dict(wl, txns=txns[:ti] + [t] + txns[ti + 1:])):
                txns = txns[:ti] + [t] + txns[ti + 1:]
            else:
                si += 1
    return dict(wl, txns=txns)


def write_case(wl, header, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(gen.render(wl, header))


# ----------------------------------------------------------------- main

def parse_features(text):
    """'types,toast' | 'ci' | 'all' | 'ci,+full_typed' | 'all,-no_columns' -> a feature list."""
    out = []
    for tok in [t for t in text.split(",") if t]:
        if tok in ("ci", "all"):
            out += [f for f in (CI_FEATURES if tok == "ci" else gen.FEATURES) if f not in out]
        elif tok.startswith("-"):
            out = [f for f in out if f != tok[1:]]
        elif tok.lstrip("+") not in out:
            out.append(tok.lstrip("+"))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src-port", type=int, required=True)
    ap.add_argument("--tgt-port", type=int, required=True)
    ap.add_argument("--pg-bin", default=os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
    ap.add_argument("--syncline", required=True)
    ap.add_argument("--work", required=True, help="scratch directory (configs, logs)")
    ap.add_argument("--prefix", default="diff", help="source database name; replicas are PREFIX_native...")
    ap.add_argument("--seed", type=int, action="append", default=[])
    ap.add_argument("--seeds", type=int, default=0, help="run seeds FIRST..FIRST+N-1")
    ap.add_argument("--first", type=int, default=1)
    ap.add_argument("--features", default="ci",
                    help="comma list of features, 'ci' or 'all', each optionally followed by +F or -F")
    ap.add_argument("--txns", type=int, default=30)
    ap.add_argument("--replay", action="append", default=[], help="a workload/case file (repeatable)")
    ap.add_argument("--sessions", type=int, default=1,
                    help="run the transactions from this many concurrent sessions (commit order then varies)")
    ap.add_argument("--src-encoding", help="the source database's encoding (replicas stay UTF8); "
                    "with LATIN1 add the feature latin1")
    ap.add_argument("--binary", action="store_true", help="syncline with apply.binary (pgoutput binary values)")
    ap.add_argument("--kafka", action="store_true", help="also syncline through Kafka (capture + apply)")
    ap.add_argument("--kafka-brokers", default=os.environ.get("KAFKA_BROKERS", ""))
    ap.add_argument("--kafka-format", default="json", choices=["json", "avro"])
    ap.add_argument("--shrink", action="store_true", help="shrink each DIFF into tests/diff/cases/pending/")
    ap.add_argument("--cases-dir", default=os.path.join(HERE, "cases", "pending"))
    ap.add_argument("--timeout", type=int, default=90, help="seconds for every replica to catch up")
    ap.add_argument("--control", action="store_true",
                    help="delete a row on the direct replica before comparing: every seed must DIFF")
    ap.add_argument("--reset-only", action="store_true", help="drop the databases, slots and subscription; run nothing")
    ap.add_argument("--keep", action="store_true", help="keep the databases of the last run")
    ap.add_argument("--jobs", type=int, default=1,
                    help="run this many seeds (or cases) at once, each in its own databases (PREFIX0, PREFIX1...)")
    a = ap.parse_args()
    if a.kafka and not a.kafka_brokers:
        ap.error("--kafka needs --kafka-brokers or KAFKA_BROKERS")
    feats = parse_features(a.features)
    env = Env(a)
    if a.reset_only:
        reset(env)
        return 0

    jobs = []  # (label, workload, header)
    for s in a.seed + list(range(a.first, a.first + a.seeds)):
        hdr = ["seed: %d" % s, "features: %s" % ",".join(feats), "txns: %d" % a.txns] + (
            ["src-encoding: %s" % a.src_encoding] if a.src_encoding else []) + (
            ["binary: true"] if a.binary else []) + (["sessions: %d" % a.sessions] if a.sessions > 1 else [])
        jobs.append(("seed %d" % s, gen.generate(s, feats, a.txns), hdr))
    for path in a.replay:
        wl = gen.parse_workload(open(path).read())
        jobs.append(("case %s" % os.path.basename(path), wl, wl["header"]))
        # a case may need options: header lines "src-encoding: LATIN1", "binary: true"
        opts = {h.split(":", 1)[0]: h.split(":", 1)[1].strip() for h in wl["header"] if ":" in h}
        wl["src_encoding"] = opts.get("src-encoding")
        wl["binary"] = opts.get("binary") == "true"

    lock = threading.Lock()

    def log(msg):
        with lock:
            print(msg, flush=True)

    todo = queue.Queue()
    for job in jobs:
        todo.put(job)
    counts = {"PASS": 0, "bad": 0}
    workers = [threading.Thread(target=worker, args=(copy.copy(a), k, todo, counts, lock, log))
               for k in range(max(1, min(a.jobs, len(jobs))))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    log("diff: %d clean, %d diverged" % (counts["PASS"], counts["bad"]))
    return 1 if counts["bad"] else 0


def worker(a, k, todo, counts, lock, log):
    """Runs jobs from TODO one after the other. With --jobs N, worker K uses its own databases
    (prefix PREFIXK), so N seeds run at once on the same clusters (and broker)."""
    if a.jobs > 1:
        a.prefix = "%s%d" % (a.prefix, k)
    env = Env(a)
    default_encoding, default_binary = a.src_encoding, a.binary
    while True:
        try:
            label, wl, hdr = todo.get_nowait()
        except queue.Empty:
            return
        work = os.path.join(a.work, label.replace(" ", "-"))
        a.src_encoding = wl.get("src_encoding") or default_encoding
        a.binary = wl.get("binary") or default_binary
        try:
            verdict, sig, lines, secs = run_one(env, wl, work, strict=label.startswith("seed"))
        except Exception as e:  # a psql that failed in setup or compare: the seed proves nothing
            verdict, sig, lines, secs = "ERROR", None, ["  harness error: %s" % str(e)[:600]], 0.0
        mode = "direct+kafka(%s)" % a.kafka_format if a.kafka else "direct"
        log("\n".join(["%s %s (%s, %d txns, %.1f s)" % (verdict, label, mode, len(wl["txns"]), secs)] + lines))
        with lock:
            counts["PASS" if verdict == "PASS" else "bad"] += 1
        if a.shrink and verdict == "DIFF":
            log("  shrinking %s (%s on %s)..." % ((label,) + sig))
            small = shrink(env, wl, sig, os.path.join(work, "shrink"), log)
            _, _, why, _ = run_one(env, small, os.path.join(work, "shrunk"), strict=False)
            name = "%s-%s-%s.sql" % (label.replace(" ", "-"), sig[0], sig[1].strip("()"))
            path = os.path.join(a.cases_dir, name)
            write_case(small, hdr + ["shrunk: %s differs from native on %s (%s)" % (sig[0], sig[1], mode)]
                       + [w.strip()[:400] for w in why], path)
            log("  kept %s (%d txns)" % (path, len(small["txns"])))


if __name__ == "__main__":
    sys.exit(main())
