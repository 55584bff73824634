/*
 * pg_source: PostgreSQL source connector: publication and slot management on
 * an ordinary session, and the pgoutput stream on a replication session.
 * Hands raw CopyData payloads to the core; decoding happens there.
 */
#include "pg/pg_source.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/clock.h"
#include "core/log.h"
#include "pg/pg_conn.h"
#include "core/pgoutput.h"
#include "core/sbuf.h"

struct pg_source {
    const config_t *cfg;
    PGconn *sql;          /* ordinary session */
    PGconn *repl;         /* replication session, once started */
    char *copybuf;        /* last payload from PQgetCopyData, owned */
    int lowat;            /* SO_RCVLOWAT in force on the replication socket (0: not set yet) */
    int64_t last_data_ms; /* when the last message came */
};

#define PG_SOURCE_LOWAT (64 * 1024) /* bytes that wake a wait on a busy stream */
#define PG_SOURCE_BUSY_MS 50        /* a message this recent: the stream is busy */
#define PG_SOURCE_BUSY_WAIT_MS 2    /* longest wait on a busy stream */

pg_source_t *pg_source_open(const config_t *cfg, err_t *err, char *errbuf, size_t errsize)
{
    pg_source_t *ps = calloc(1, sizeof(*ps));
    if (ps == NULL) {
        *err = ERR_RUNTIME;
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    ps->cfg = cfg;
    ps->sql = pg_conn_open(cfg->source_conninfo, PG_CONN_SQL, "source", err, errbuf, errsize);
    if (ps->sql == NULL) {
        free(ps);
        return NULL;
    }
    return ps;
}

void pg_source_free(pg_source_t *ps)
{
    if (ps == NULL)
        return;
    PQfreemem(ps->copybuf);
    PQfinish(ps->repl);
    PQfinish(ps->sql);
    free(ps);
}

err_t pg_source_lock(pg_source_t *ps, char *errbuf, size_t errsize)
{
    const char *params[1] = {ps->cfg->slot};
    PGresult *res = pg_conn_execp(
        ps->sql,
        "SELECT pg_try_advisory_lock(hashtext('syncline'), hashtext($1)), "
        "(SELECT string_agg(pid::text, ', ') FROM pg_locks WHERE locktype = 'advisory' AND "
        "granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND classid = hashtext('syncline')::oid AND objid = hashtext($1)::oid AND objsubid = 2)",
        1, params, PGRES_TUPLES_OK, "source: advisory lock", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(ps->sql);
    err_t err = ERR_OK;
    if (PQgetvalue(res, 0, 0)[0] != 't') {
        snprintf(errbuf, errsize,
                 "'%s' is already running: another syncline process (source backend pid %s) "
                 "holds the lock of slot %s",
                 ps->cfg->name, PQgetisnull(res, 0, 1) ? "?" : PQgetvalue(res, 0, 1),
                 ps->cfg->slot);
        err = ERR_SOURCE;
    }
    PQclear(res);
    return err;
}

err_t pg_source_check_wal_level(pg_source_t *ps, char *errbuf, size_t errsize)
{
    PGresult *res =
        pg_conn_exec(ps->sql, "SHOW wal_level", PGRES_TUPLES_OK, "source", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(ps->sql);
    err_t err = ERR_OK;
    if (strcmp(PQgetvalue(res, 0, 0), "logical") != 0) {
        snprintf(errbuf, errsize,
                 "source: wal_level is '%s'; logical decoding needs wal_level=logical "
                 "(ALTER SYSTEM SET wal_level = logical, then restart the source server)",
                 PQgetvalue(res, 0, 0));
        err = ERR_SOURCE;
    }
    PQclear(res);
    return err;
}

/* "FOR TABLE a, b, TABLES IN SCHEMA s" from the tables list; NULL on error. */
static char *pg_source_publication_targets(pg_source_t *ps, char *errbuf, size_t errsize)
{
    const config_t *cfg = ps->cfg;
    sbuf_t sb = {0};
    int ntables = 0, nschemas = 0;
    /* exact tables first, then whole schemas: FOR TABLE a, b, TABLES IN SCHEMA s */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < cfg->ntables; i++) {
            const config_table_t *t = &cfg->tables[i];
            int pattern = strcmp(t->source.name, "*") == 0;
            if (t->skip || pattern != pass)
                continue;
            char *q = pattern
                          ? PQescapeIdentifier(ps->sql, t->source.schema, strlen(t->source.schema))
                          : pg_conn_qualified(ps->sql, t->source.schema, t->source.name);
            sbuf_add(&sb, pattern ? (nschemas++
                                         ? ", "
                                         : (ntables ? ", TABLES IN SCHEMA " : "TABLES IN SCHEMA "))
                                  : (ntables++ ? ", " : "TABLE "));
            sbuf_add(&sb, q ? q : "");
            sb.oom |= q == NULL;
            if (pattern)
                PQfreemem(q);
            else
                free(q);
        }
    }
    if (ntables + nschemas == 0) {
        snprintf(errbuf, errsize, "tables: no table to sync (every entry is skip)");
        sbuf_clear(&sb);
        return NULL;
    }
    char *out = sbuf_take(&sb);
    if (out == NULL)
        snprintf(errbuf, errsize, "out of memory building the publication");
    return out;
}

/* The comment run puts on a publication it creates: drop removes such a one
 * even when no progress row says so (run stopped before writing it). */
#define PG_SOURCE_PUB_MARK "created by syncline run; removed by syncline drop"

static err_t pg_source_create_publication(pg_source_t *ps, char *errbuf, size_t errsize)
{
    char *targets = ps->cfg->has_tables ? pg_source_publication_targets(ps, errbuf, errsize)
                                        : strdup("ALL TABLES");
    if (targets == NULL)
        return ps->cfg->has_tables ? ERR_CONFIG : ERR_RUNTIME;
    char *pub = PQescapeIdentifier(ps->sql, ps->cfg->publication, strlen(ps->cfg->publication));
    size_t len = strlen(targets) + (pub ? 2 * strlen(pub) : 0) + 256;
    char *sql = malloc(len);
    err_t err = ERR_RUNTIME;
    if (pub != NULL && sql != NULL) {
        snprintf(sql, len,
                 "CREATE PUBLICATION %s FOR %s WITH (publish_via_partition_root = true); "
                 "COMMENT ON PUBLICATION %s IS '" PG_SOURCE_PUB_MARK "'",
                 pub, targets, pub);
        PGresult *res = pg_conn_exec(ps->sql, sql, PGRES_COMMAND_OK, "source: create publication",
                                     errbuf, errsize);
        err = res ? ERR_OK : pg_conn_classify(ps->sql);
        PQclear(res);
    }
    PQfreemem(pub);
    free(sql);
    free(targets);
    return err;
}

err_t pg_source_end_publication(pg_source_t *ps, int commit, char *errbuf, size_t errsize)
{
    PGresult *res = pg_conn_exec(ps->sql, commit ? "COMMIT" : "ROLLBACK", PGRES_COMMAND_OK,
                                 "source", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(ps->sql);
    PQclear(res);
    return ERR_OK;
}

err_t pg_source_ensure_publication(pg_source_t *ps, int *created, char *errbuf, size_t errsize)
{
    const char *params[1] = {ps->cfg->publication};
    PGresult *res = pg_conn_exec(ps->sql, "BEGIN", PGRES_COMMAND_OK, "source", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(ps->sql);
    PQclear(res);
    res = pg_conn_execp(ps->sql, "SELECT 1 FROM pg_publication WHERE pubname = $1", 1, params,
                        PGRES_TUPLES_OK, "source", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(ps->sql);
    int exists = PQntuples(res) > 0;
    PQclear(res);
    *created = 0;
    if (exists)
        return ERR_OK;
    err_t err = pg_source_create_publication(ps, errbuf, errsize);
    if (err == ERR_OK) {
        *created = 1;
        log_info("publication created publication=%s", ps->cfg->publication);
    }
    return err;
}

err_t pg_source_slot_info(pg_source_t *ps, pg_source_slot_t *out, char *errbuf, size_t errsize)
{
    const char *params[1] = {ps->cfg->slot};
    PGresult *res =
        pg_conn_execp(ps->sql,
                      "SELECT coalesce(wal_status, ''), coalesce(active_pid, 0), "
                      "coalesce(confirmed_flush_lsn, '0/0'), coalesce(restart_lsn, '0/0'), "
                      "database IS DISTINCT FROM current_database(), "
                      "coalesce(pg_current_wal_lsn() - restart_lsn, 0)::bigint "
                      "FROM pg_replication_slots WHERE slot_name = $1",
                      1, params, PGRES_TUPLES_OK, "source: read slot", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(ps->sql);
    memset(out, 0, sizeof(*out));
    out->exists = PQntuples(res) > 0;
    if (out->exists) {
        snprintf(out->wal_status, sizeof(out->wal_status), "%s", PQgetvalue(res, 0, 0));
        out->active_pid = atoi(PQgetvalue(res, 0, 1));
        lsn_parse(PQgetvalue(res, 0, 2), &out->confirmed_flush);
        lsn_parse(PQgetvalue(res, 0, 3), &out->restart_lsn);
        out->other_database = PQgetvalue(res, 0, 4)[0] == 't';
        out->retained_bytes = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
    }
    PQclear(res);
    return ERR_OK;
}

err_t pg_source_check_slot(const pg_source_t *ps, const pg_source_slot_t *slot, char *errbuf,
                           size_t errsize)
{
    const char *name = ps->cfg->slot;
    if (slot->other_database) {
        snprintf(errbuf, errsize,
                 "source: replication slot %s belongs to another database; set source.slot to "
                 "another name",
                 name);
        return ERR_SOURCE;
    }
    if (strcmp(slot->wal_status, "lost") == 0) {
        snprintf(errbuf, errsize,
                 "source: replication slot %s is lost (wal_status=lost): the WAL it needed was "
                 "removed (max_slot_wal_keep_size) and changes are missing; run 'syncline drop "
                 "-c FILE' and start again with a fresh copy of the data",
                 name);
        return ERR_SOURCE;
    }
    if (slot->active_pid != 0) {
        snprintf(errbuf, errsize,
                 "source: replication slot %s is in use by another process (pid %d); is another "
                 "syncline running with this configuration?",
                 name, slot->active_pid);
        return ERR_SOURCE;
    }
    return ERR_OK;
}

static PGconn *pg_source_repl_conn(pg_source_t *ps, err_t *err, char *errbuf, size_t errsize)
{
    if (ps->repl == NULL) {
        ps->repl = pg_conn_open(ps->cfg->source_conninfo, PG_CONN_REPLICATION, "source", err,
                                errbuf, errsize);
        ps->lowat = 0; /* a new socket: the kernel default */
    }
    return ps->repl;
}

err_t pg_source_create_slot(pg_source_t *ps, lsn_t *consistent_point, char *snapshot,
                            size_t snapsize, char *errbuf, size_t errsize)
{
    err_t err = ERR_OK;
    PGconn *repl = pg_source_repl_conn(ps, &err, errbuf, errsize);
    if (repl == NULL)
        return err;
    char *slot = PQescapeIdentifier(repl, ps->cfg->slot, strlen(ps->cfg->slot));
    char sql[256];
    snprintf(sql, sizeof(sql), "CREATE_REPLICATION_SLOT %s LOGICAL pgoutput (SNAPSHOT '%s')",
             slot ? slot : "", snapshot ? "export" : "nothing");
    PQfreemem(slot);
    PGresult *res = pg_conn_exec(repl, sql, PGRES_TUPLES_OK, "source: create replication slot",
                                 errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(repl) == ERR_CONNECT ? ERR_CONNECT : ERR_SOURCE;
    lsn_parse(PQgetvalue(res, 0, 1), consistent_point);
    if (snapshot != NULL)
        snprintf(snapshot, snapsize, "%s", PQgetvalue(res, 0, 2));
    PQclear(res);
    char l[LSN_STRLEN];
    log_info("slot created slot=%s consistent_point=%s%s%s", ps->cfg->slot,
             lsn_format(*consistent_point, l, sizeof(l)), snapshot ? " snapshot=" : "",
             snapshot ? snapshot : "");
    return ERR_OK;
}

err_t pg_source_current_lsn(pg_source_t *ps, lsn_t *out, char *errbuf, size_t errsize)
{
    PGresult *res = pg_conn_exec(ps->sql, "SELECT pg_current_wal_lsn()", PGRES_TUPLES_OK, "source",
                                 errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(ps->sql);
    lsn_parse(PQgetvalue(res, 0, 0), out);
    PQclear(res);
    return ERR_OK;
}

void pg_source_free_names(char **v, int n)
{
    for (int i = 0; v != NULL && i < n; i++)
        free(v[i]);
    free(v);
}

err_t pg_source_published_tables(pg_source_t *ps, char ***schemas, char ***names, int *n,
                                 char *errbuf, size_t errsize)
{
    const char *params[1] = {ps->cfg->publication};
    PGresult *res = pg_conn_execp(ps->sql,
                                  "SELECT schemaname, tablename FROM pg_publication_tables "
                                  "WHERE pubname = $1 ORDER BY 1, 2",
                                  1, params, PGRES_TUPLES_OK, "source", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(ps->sql);
    int rows = PQntuples(res);
    *schemas = calloc((size_t)rows + 1, sizeof(char *));
    *names = calloc((size_t)rows + 1, sizeof(char *));
    int ok = *schemas != NULL && *names != NULL;
    for (int i = 0; ok && i < rows; i++) {
        (*schemas)[i] = strdup(PQgetvalue(res, i, 0));
        (*names)[i] = strdup(PQgetvalue(res, i, 1));
        ok = (*schemas)[i] != NULL && (*names)[i] != NULL;
    }
    PQclear(res);
    *n = rows;
    if (!ok) {
        pg_source_free_names(*schemas, rows);
        pg_source_free_names(*names, rows);
        *schemas = *names = NULL;
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    return ERR_OK;
}

/* START_REPLICATION ... with the publication quoted twice: as an identifier
 * inside the list, and the list as a literal. */
static char *pg_source_start_sql(PGconn *repl, const config_t *cfg, lsn_t start)
{
    char *slot = PQescapeIdentifier(repl, cfg->slot, strlen(cfg->slot));
    char *pubid = PQescapeIdentifier(repl, cfg->publication, strlen(cfg->publication));
    char *publit = pubid ? PQescapeLiteral(repl, pubid, strlen(pubid)) : NULL;
    char *sql = NULL;
    if (slot != NULL && publit != NULL) {
        size_t len = strlen(slot) + strlen(publit) + 256;
        char l[LSN_STRLEN];
        sql = malloc(len);
        if (sql != NULL)
            snprintf(sql, len,
                     "START_REPLICATION SLOT %s LOGICAL %s (proto_version '1', "
                     "publication_names %s, binary '%s')",
                     slot, lsn_format(start, l, sizeof(l)), publit, cfg->binary ? "true" : "false");
    }
    PQfreemem(slot);
    PQfreemem(pubid);
    PQfreemem(publit);
    return sql;
}

err_t pg_source_start(pg_source_t *ps, lsn_t start, char *errbuf, size_t errsize)
{
    err_t err = ERR_OK;
    PGconn *repl = pg_source_repl_conn(ps, &err, errbuf, errsize);
    if (repl == NULL)
        return err;
    char *sql = pg_source_start_sql(repl, ps->cfg, start);
    if (sql == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    PGresult *res =
        pg_conn_exec(repl, sql, PGRES_COPY_BOTH, "source: start replication", errbuf, errsize);
    free(sql);
    if (res == NULL) {
        /* slot busy, invalidated or gone: a precondition, not a transient fault */
        return pg_conn_classify(repl) == ERR_CONNECT ? ERR_CONNECT : ERR_SOURCE;
    }
    PQclear(res);
    char l[LSN_STRLEN];
    log_info("streaming slot=%s publication=%s from=%s", ps->cfg->slot, ps->cfg->publication,
             lsn_format(start, l, sizeof(l)));
    return ERR_OK;
}

/* Why the copy stream ended; the server's error when it sent one. */
static err_t pg_source_stream_error(pg_source_t *ps, char *errbuf, size_t errsize)
{
    char m[1024];
    err_t err = ERR_CONNECT; /* a stream that ends is worth resuming... */
    PGresult *res = PQgetResult(ps->repl);
    if (res != NULL && PQresultStatus(res) == PGRES_FATAL_ERROR) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        /* ...unless the slot itself is broken (invalidated, dropped) */
        if (state != NULL && (strcmp(state, "55000") == 0 || strcmp(state, "42704") == 0))
            err = ERR_SOURCE;
        snprintf(errbuf, errsize, "source: replication stream: %s", PQresultErrorMessage(res));
    } else {
        snprintf(errbuf, errsize, "source: replication stream ended: %s",
                 pg_conn_message(ps->repl, m, sizeof(m)));
        err = ERR_CONNECT;
    }
    size_t n = strlen(errbuf);
    while (n > 0 && errbuf[n - 1] == '\n')
        errbuf[--n] = '\0';
    PQclear(res);
    return err;
}

/*
 * Waits for the replication socket. While the stream is busy (a message came
 * within PG_SOURCE_BUSY_MS) the socket only wakes us once PG_SOURCE_LOWAT bytes
 * are there, or after PG_SOURCE_BUSY_WAIT_MS: read in large chunks. Waking for
 * every small message made us and the walsender contend for the socket on
 * each one (bench/README.md, "Reading the source in large chunks"). When the
 * stream is quiet, any byte wakes us, so a lone transaction is not delayed.
 */
static int pg_source_wait(pg_source_t *ps, int timeout_ms)
{
    int fd = PQsocket(ps->repl);
    int busy = clock_ms() - ps->last_data_ms < PG_SOURCE_BUSY_MS;
    int lowat = busy ? PG_SOURCE_LOWAT : 1;
    if (lowat != ps->lowat && setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat)) == 0)
        ps->lowat = lowat;
    if (ps->lowat > 1 && timeout_ms > PG_SOURCE_BUSY_WAIT_MS)
        timeout_ms = PG_SOURCE_BUSY_WAIT_MS;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int r = poll(&pfd, 1, timeout_ms);
    return (r < 0 && errno == EINTR) ? 0 : r;
}

static int pg_source_read(void *ctx, int timeout_ms, const char **buf, size_t *len, err_t *err,
                          char *errbuf, size_t errsize)
{
    pg_source_t *ps = ctx;
    PQfreemem(ps->copybuf);
    ps->copybuf = NULL;
    for (int waited = 0;; waited = 1) {
        int n = PQgetCopyData(ps->repl, &ps->copybuf, 1);
        if (n > 0) {
            ps->last_data_ms = clock_ms();
            *buf = ps->copybuf;
            *len = (size_t)n;
            return 1;
        }
        if (n < 0) {
            *err = pg_source_stream_error(ps, errbuf, errsize);
            return -1;
        }
        if (waited || timeout_ms <= 0) {
            if (timeout_ms <= 0 && !waited && PQconsumeInput(ps->repl))
                continue; /* data may already sit in the kernel buffer */
            return 0;
        }
        if (pg_source_wait(ps, timeout_ms) < 0 || !PQconsumeInput(ps->repl)) {
            *err = pg_source_stream_error(ps, errbuf, errsize);
            return -1;
        }
    }
}

static err_t pg_source_send_status(void *ctx, lsn_t write, lsn_t flush, lsn_t apply,
                                   int reply_requested, char *errbuf, size_t errsize)
{
    pg_source_t *ps = ctx;
    char msg[PGOUTPUT_STATUS_LEN];
    pgoutput_write_status(msg, write, flush, apply, lsn_pgtime_now(), reply_requested);
    if (PQputCopyData(ps->repl, msg, sizeof(msg)) != 1 || PQflush(ps->repl) != 0) {
        char m[512];
        snprintf(errbuf, errsize, "source: sending status: %s",
                 pg_conn_message(ps->repl, m, sizeof(m)));
        return ERR_CONNECT;
    }
    return ERR_OK;
}

static const source_ops_t pg_source_ops = {
    .read = pg_source_read,
    .send_status = pg_source_send_status,
};

source_t pg_source_stream(pg_source_t *ps)
{
    source_t s = {.ops = &pg_source_ops, .ctx = ps};
    return s;
}

/* 1 when the publication carries run's comment, 0 when not, -1 on error. */
static int pg_source_publication_ours(pg_source_t *ps, char *errbuf, size_t errsize)
{
    const char *p[1] = {ps->cfg->publication};
    PGresult *res =
        pg_conn_execp(ps->sql,
                      "SELECT 1 FROM pg_publication WHERE pubname = $1 AND "
                      "obj_description(oid, 'pg_publication') = '" PG_SOURCE_PUB_MARK "'",
                      1, p, PGRES_TUPLES_OK, "source: read publication", errbuf, errsize);
    if (res == NULL)
        return -1;
    int ours = PQntuples(res) > 0;
    PQclear(res);
    return ours;
}

err_t pg_source_drop(pg_source_t *ps, pg_source_pub_drop_t pub, int *pub_dropped, char *errbuf,
                     size_t errsize)
{
    int drop_publication = pub == PG_SOURCE_PUB_DROP;
    if (pub_dropped != NULL)
        *pub_dropped = 0;
    const char *params[1] = {ps->cfg->slot};
    PGresult *res = pg_conn_execp(ps->sql,
                                  "SELECT pg_drop_replication_slot(slot_name) FROM "
                                  "pg_replication_slots WHERE slot_name = $1",
                                  1, params, PGRES_TUPLES_OK, "source: drop slot", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(ps->sql) == ERR_CONNECT ? ERR_CONNECT : ERR_SOURCE;
    PQclear(res);
    if (pub == PG_SOURCE_PUB_IF_OURS) { /* run made it, and stopped before recording that */
        drop_publication = pg_source_publication_ours(ps, errbuf, errsize);
        if (drop_publication < 0)
            return pg_conn_classify(ps->sql);
    }
    if (!drop_publication)
        return ERR_OK;
    char *qpub = PQescapeIdentifier(ps->sql, ps->cfg->publication, strlen(ps->cfg->publication));
    char sql[256];
    snprintf(sql, sizeof(sql), "DROP PUBLICATION IF EXISTS %s", qpub ? qpub : "");
    PQfreemem(qpub);
    res = pg_conn_exec(ps->sql, sql, PGRES_COMMAND_OK, "source: drop publication", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(ps->sql);
    PQclear(res);
    if (pub_dropped != NULL)
        *pub_dropped = 1;
    return ERR_OK;
}
