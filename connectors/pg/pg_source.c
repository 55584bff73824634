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
#include "pg/pg_ddl.h"
#include "pg/pg_conn.h"
#include "pg/pg_version.h"
#include "core/pgoutput.h"
#include "core/sbuf.h"

struct pg_source {
    const config_t *cfg;
    PGconn *sql;          /* ordinary session */
    PGconn *repl;         /* replication session, once started */
    int version;          /* server_version_num of the source (pg_version.h decides by it) */
    char *copybuf;        /* last payload from PQgetCopyData, owned */
    int lowat;            /* SO_RCVLOWAT in force on the replication socket (0: not set yet) */
    int64_t last_data_ms; /* when the last message came */
    partmap_t *parts;     /* before 13: published leaves -> roots, owned (NULL from 13) */
    int64_t leaves_checked_ms;
};

#define PG_SOURCE_LOWAT (64 * 1024) /* bytes that wake a wait on a busy stream */
#define PG_SOURCE_BUSY_MS 50        /* a message this recent: the stream is busy */
#define PG_SOURCE_BUSY_WAIT_MS 2    /* longest wait on a busy stream */
#define PG_SOURCE_LEAVES_MS 5000    /* how often a 12 source's partition trees are re-checked */

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
    ps->version = PQserverVersion(ps->sql);
    if (ps->version < PG_VERSION_MIN) {
        snprintf(errbuf, errsize,
                 "source: PostgreSQL server_version_num %d is too old; syncline needs 12 or newer",
                 ps->version);
        *err = ERR_SOURCE;
        pg_source_free(ps);
        return NULL;
    }
    return ps;
}

int pg_source_version(const pg_source_t *ps)
{
    return ps->version;
}

void pg_source_free(pg_source_t *ps)
{
    if (ps == NULL)
        return;
    PQfreemem(ps->copybuf);
    partmap_free(ps->parts);
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

err_t pg_source_check_features(const pg_source_t *ps, char *errbuf, size_t errsize)
{
    char v[8];
    if (ps->cfg->binary && !pg_version_has_binary(ps->version)) {
        snprintf(errbuf, errsize,
                 "apply.binary: the source is PostgreSQL %s, whose pgoutput has no binary "
                 "option (14 and newer); set apply.binary to false",
                 pg_version_major(ps->version, v, sizeof(v)));
        return ERR_CONFIG;
    }
    return pg_ddl_check_version(ps->cfg, ps->version, errbuf, errsize);
}

err_t pg_source_ddl_trigger(pg_source_t *ps, int install, char *errbuf, size_t errsize)
{
    if (install)
        return pg_ddl_install(ps->sql, ps->cfg, ps->version, errbuf, errsize);
    return pg_ddl_uninstall(ps->sql, ps->cfg->slot, errbuf, errsize);
}

err_t pg_source_ddl_key(pg_source_t *ps, pg_ddl_key_t *key, char *errbuf, size_t errsize)
{
    memset(key, 0, sizeof(*key));
    if (!pg_ddl_supported(ps->version) || !config_ddl_followed(ps->cfg))
        return ERR_OK;
    return pg_ddl_key_load(ps->sql, key, errbuf, errsize);
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

/* Leaves of a partitioned table (before 13, which cannot publish the root). */
#define PG_SOURCE_LEAVES_SQL                                                                       \
    "SELECT n.nspname, c.relname FROM pg_partition_tree(to_regclass(format('%I.%I', $1::text, "    \
    "$2::text))) t JOIN pg_class c ON c.oid = t.relid JOIN pg_namespace n ON n.oid = "             \
    "c.relnamespace WHERE t.isleaf AND t.level > 0 ORDER BY 1, 2"

/* The tables of a schema (before 15, which has no FOR TABLES IN SCHEMA): with
 * publish_via_partition_root ($2) the plain tables and partition roots, else
 * every plain table, leaves included. */
#define PG_SOURCE_SCHEMA_SQL                                                                       \
    "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "   \
    "WHERE n.nspname = $1 AND CASE WHEN $2::bool THEN c.relkind IN ('r', 'p') AND NOT "            \
    "c.relispartition ELSE c.relkind = 'r' END ORDER BY 1, 2"

/*
 * Appends to sb the tables an older server must list itself: a schema's
 * tables (before 15) or a partitioned table's leaves (before 13). *listed is
 * set when it appended any; else the entry goes in as written. -1 on error.
 */
static int pg_source_expand_entry(pg_source_t *ps, const config_table_t *t, int pattern, sbuf_t *sb,
                                  int *ntables, int *listed, char *errbuf, size_t errsize)
{
    *listed = 0;
    if (pattern ? pg_version_has_schema_publication(ps->version)
                : pg_version_has_partition_root(ps->version))
        return 0;
    const char *params[2] = {t->source.schema,
                             pattern ? (pg_version_has_partition_root(ps->version) ? "t" : "f")
                                     : t->source.name};
    PGresult *res =
        pg_conn_execp(ps->sql, pattern ? PG_SOURCE_SCHEMA_SQL : PG_SOURCE_LEAVES_SQL, 2, params,
                      PGRES_TUPLES_OK, "source: list tables to publish", errbuf, errsize);
    if (res == NULL)
        return -1;
    for (int r = 0; r < PQntuples(res); r++) {
        char *q = pg_conn_qualified(ps->sql, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
        sbuf_add(sb, (*ntables)++ ? ", " : "TABLE ");
        sbuf_add(sb, q ? q : "");
        sb->oom |= q == NULL;
        free(q);
    }
    *listed = PQntuples(res) > 0 || pattern;
    PQclear(res);
    return 0;
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
            int pattern = strcmp(t->source.name, "*") == 0, listed = 0;
            if (t->skip || pattern != pass)
                continue;
            if (pg_source_expand_entry(ps, t, pattern, &sb, &ntables, &listed, errbuf, errsize)) {
                sbuf_clear(&sb);
                return NULL;
            }
            if (listed)
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
        snprintf(errbuf, errsize,
                 "tables: no table to sync (every entry is skip, or the "
                 "schemas listed hold no table)");
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
        snprintf(
            sql, len,
            "CREATE PUBLICATION %s FOR %s%s; COMMENT ON PUBLICATION %s IS '" PG_SOURCE_PUB_MARK "'",
            pub, targets,
            pg_version_has_partition_root(ps->version) ? " WITH (publish_via_partition_root = true)"
                                                       : "",
            pub);
        err = pg_conn_run(ps->sql, sql, 0, NULL, PGRES_COMMAND_OK, "source: create publication",
                          errbuf, errsize);
    }
    PQfreemem(pub);
    free(sql);
    free(targets);
    return err;
}

err_t pg_source_end_publication(pg_source_t *ps, int commit, char *errbuf, size_t errsize)
{
    return pg_conn_run(ps->sql, commit ? "COMMIT" : "ROLLBACK", 0, NULL, PGRES_COMMAND_OK, "source",
                       errbuf, errsize);
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

/* The slot's health; wal_status exists from 13 (NULL, shown as "", before). */
#define PG_SOURCE_SLOT_SQL(wal_status)                                                             \
    "SELECT coalesce(" wal_status "::text, ''), coalesce(active_pid, 0), "                         \
    "coalesce(confirmed_flush_lsn, '0/0'), coalesce(restart_lsn, '0/0'), "                         \
    "database IS DISTINCT FROM current_database(), "                                               \
    "coalesce(pg_current_wal_lsn() - restart_lsn, 0)::bigint "                                     \
    "FROM pg_replication_slots WHERE slot_name = $1"

err_t pg_source_slot_info(pg_source_t *ps, pg_source_slot_t *out, char *errbuf, size_t errsize)
{
    const char *params[1] = {ps->cfg->slot};
    PGresult *res =
        pg_conn_execp(ps->sql,
                      pg_version_has_wal_status(ps->version) ? PG_SOURCE_SLOT_SQL("wal_status")
                                                             : PG_SOURCE_SLOT_SQL("NULL"),
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
    int fits = pg_version_create_slot_sql(ps->version, slot ? slot : "", snapshot != NULL, sql,
                                          sizeof(sql)) == 0;
    PQfreemem(slot);
    if (!fits) {
        snprintf(errbuf, errsize, "source: slot name too long");
        return ERR_CONFIG;
    }
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

err_t pg_source_primary_key(pg_source_t *ps, uint32_t relid, char ***cols, int *n, char *errbuf,
                            size_t errsize)
{
    char oid[16];
    snprintf(oid, sizeof(oid), "%u", (unsigned)relid);
    const char *params[1] = {oid};
    PGresult *res = pg_conn_execp(
        ps->sql,
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = ANY (i.indkey::int2[]) WHERE i.indrelid = $1::oid AND i.indisprimary "
        "ORDER BY array_position(i.indkey::int2[], a.attnum)",
        1, params, PGRES_TUPLES_OK, "source: primary key", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(ps->sql);
    *n = 0;
    *cols = calloc((size_t)PQntuples(res) + 1, sizeof(char *));
    for (int r = 0; *cols != NULL && r < PQntuples(res); r++)
        if (((*cols)[*n] = strdup(PQgetvalue(res, r, 0))) != NULL)
            (*n)++;
    err_t err = *cols != NULL && *n == PQntuples(res) ? ERR_OK : ERR_RUNTIME;
    if (err != ERR_OK)
        snprintf(errbuf, errsize, "out of memory");
    PQclear(res);
    return err;
}

/* Each published table with the root of its partition tree (itself when not a
 * partition): before 13 the publication holds the leaves. */
#define PG_SOURCE_LEAF_ROOTS_SQL                                                                   \
    "SELECT pt.schemaname, pt.tablename, rn.nspname AS root_schema, r.relname AS root_name, "      \
    "c.relispartition, (SELECT count(*) FROM pg_partition_tree(r.oid) t WHERE t.isleaf), "         \
    "(SELECT count(*) FROM pg_partition_tree(r.oid) t JOIN pg_class lc ON lc.oid = t.relid JOIN "  \
    "pg_namespace ln ON ln.oid = lc.relnamespace WHERE t.isleaf AND NOT EXISTS (SELECT 1 FROM "    \
    "pg_publication_tables p2 WHERE p2.pubname = pt.pubname AND p2.schemaname = ln.nspname AND "   \
    "p2.tablename = lc.relname)) FROM pg_publication_tables pt JOIN pg_namespace n ON n.nspname "  \
    "= pt.schemaname JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename "      \
    "JOIN pg_class r ON r.oid = coalesce(pg_partition_root(c.oid), c.oid) JOIN pg_namespace rn "   \
    "ON rn.oid = r.relnamespace WHERE pt.pubname = $1"

err_t pg_source_partitions(pg_source_t *ps, char *errbuf, size_t errsize)
{
    if (pg_version_has_partition_root(ps->version))
        return ERR_OK;
    if (ps->parts == NULL && (ps->parts = partmap_new()) == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    partmap_t *pm = ps->parts;
    partmap_clear(pm);
    const char *params[1] = {ps->cfg->publication};
    PGresult *res = pg_conn_execp(ps->sql, PG_SOURCE_LEAF_ROOTS_SQL " ORDER BY 3, 4, 1, 2", 1,
                                  params, PGRES_TUPLES_OK, "source: partitions", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(ps->sql);
    err_t err = ERR_OK;
    for (int r = 0; err == ERR_OK && r < PQntuples(res); r++) {
        if (PQgetvalue(res, r, 4)[0] != 't')
            continue;
        if (strcmp(PQgetvalue(res, r, 6), "0") != 0) {
            snprintf(errbuf, errsize,
                     "source: publication %s holds partition %s.%s but not every leaf of its "
                     "partitioned table %s.%s (%s missing): PostgreSQL 12 publishes leaves, "
                     "add the missing ones with ALTER PUBLICATION ... ADD TABLE (rows written "
                     "to them before that are not in the stream: copy them by hand)",
                     ps->cfg->publication, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1),
                     PQgetvalue(res, r, 2), PQgetvalue(res, r, 3), PQgetvalue(res, r, 6));
            err = ERR_SOURCE;
        } else if (partmap_add(pm, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1),
                               PQgetvalue(res, r, 2), PQgetvalue(res, r, 3),
                               atoi(PQgetvalue(res, r, 5))) != 0) {
            snprintf(errbuf, errsize, "out of memory");
            err = ERR_RUNTIME;
        }
    }
    PQclear(res);
    return err;
}

const partmap_t *pg_source_partmap(const pg_source_t *ps)
{
    return ps->parts;
}

/* A partition attached while streaming (12) is not in a publication that
 * lists leaves, and its rows would be missed silently: every few seconds the
 * trees are checked again and the stream stops (ERR_SOURCE) on a gap. A
 * Relation message (XLogData 'w', 24 header bytes, then 'R') may name a leaf
 * attached since (FOR ALL TABLES publishes it at once): the map is reloaded
 * before the pipeline sees it. */
static err_t pg_source_watch_leaves(pg_source_t *ps, const char *msg, size_t len, char *errbuf,
                                    size_t errsize)
{
    int relation = msg != NULL && len > 25 && msg[0] == 'w' && msg[25] == 'R';
    if (ps->parts == NULL ||
        (!relation && clock_ms() - ps->leaves_checked_ms < PG_SOURCE_LEAVES_MS))
        return ERR_OK;
    ps->leaves_checked_ms = clock_ms();
    return pg_source_partitions(ps, errbuf, errsize);
}

err_t pg_source_published_tables(pg_source_t *ps, char ***schemas, char ***names, int *n,
                                 char *errbuf, size_t errsize)
{
    const char *params[1] = {ps->cfg->publication};
    PGresult *res =
        pg_conn_execp(ps->sql,
                      pg_version_has_partition_root(ps->version)
                          ? "SELECT schemaname, tablename FROM pg_publication_tables "
                            "WHERE pubname = $1 AND schemaname <> 'syncline' ORDER BY 1, 2"
                          : "SELECT DISTINCT root_schema, root_name FROM (" PG_SOURCE_LEAF_ROOTS_SQL
                            ") l WHERE root_schema <> 'syncline' ORDER BY 1, 2",
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
 * inside the list, and the list as a literal. Options per server version. */
static char *pg_source_start_sql(PGconn *repl, const config_t *cfg, int version, lsn_t start)
{
    char *slot = PQescapeIdentifier(repl, cfg->slot, strlen(cfg->slot));
    char *pubid = PQescapeIdentifier(repl, cfg->publication, strlen(cfg->publication));
    char *publit = pubid ? PQescapeLiteral(repl, pubid, strlen(pubid)) : NULL;
    char *sql = NULL;
    if (slot != NULL && publit != NULL) {
        size_t olen = strlen(publit) + 128, len = strlen(slot) + olen + 128;
        char l[LSN_STRLEN];
        char *opts = malloc(olen);
        sql = malloc(len);
        /* DDL messages (pg_ddl.c) travel in the stream from 14 on */
        const char *messages =
            pg_ddl_supported(version) && config_ddl_followed(cfg) ? ", messages 'true'" : "";
        /* the fallback direction skips what syncline applied (replication origins) */
        int origin_none = cfg->origin_none && pg_version_has_origin(version);
        if (opts != NULL && sql != NULL &&
            pg_version_start_options(version, publit, cfg->binary, opts, olen) == 0)
            snprintf(sql, len, "START_REPLICATION SLOT %s LOGICAL %s (%s%s%s)", slot,
                     lsn_format(start, l, sizeof(l)), opts, messages,
                     origin_none ? ", origin 'none'" : "");
        else if (sql != NULL)
            sql[0] = '\0';
        free(opts);
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
    char *sql = pg_source_start_sql(repl, ps->cfg, ps->version, start);
    if (sql == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    if (sql[0] == '\0') {
        free(sql);
        if (pg_source_check_features(ps, errbuf, errsize) != ERR_OK)
            return ERR_CONFIG;
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

static int pg_source_read(void *ctx, int timeout_ms, char **buf, size_t *len, err_t *err,
                          char *errbuf, size_t errsize)
{
    pg_source_t *ps = ctx;
    PQfreemem(ps->copybuf);
    ps->copybuf = NULL;
    if ((*err = pg_source_watch_leaves(ps, NULL, 0, errbuf, errsize)) != ERR_OK)
        return -1;
    for (int waited = 0;; waited = 1) {
        int n = PQgetCopyData(ps->repl, &ps->copybuf, 1);
        if (n > 0 &&
            (*err = pg_source_watch_leaves(ps, ps->copybuf, (size_t)n, errbuf, errsize)) != ERR_OK)
            return -1;
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
