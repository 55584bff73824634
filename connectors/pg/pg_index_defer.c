/*
 * pg_index_defer: secondary indexes dropped for the initial copy and built
 * again after it. Building an index once over all rows is cheaper than
 * maintaining it row by row, and parallel copy workers then do not contend
 * on the same index pages (docs/operations.md, "Secondary indexes during the copy", and
 * bench/README.md for the numbers).
 *
 * Crash safety: the definitions (pg_get_indexdef) go into
 * syncline.deferred_indexes in the same transaction as the DROPs, and each
 * index is recreated in the transaction that deletes its row. A copy that is
 * interrupted restarts from scratch on the next run and restores them when
 * it completes. Does not decide when: pg_copy calls it. An index of a
 * partitioned table is saved without ONLY, so rebuilding it builds its
 * partitions' indexes too (named by PostgreSQL again).
 */
#include "pg/pg_index_defer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "pg/pg_conn.h"

static const char *const pg_index_defer_ddl =
    "CREATE SCHEMA IF NOT EXISTS syncline;"
    "CREATE TABLE IF NOT EXISTS syncline.deferred_indexes ("
    " name text NOT NULL,"
    " index_name text NOT NULL,"
    " table_name text NOT NULL,"
    " definition text NOT NULL,"
    " saved_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (name, index_name))";

/* Saves the definitions of one table's secondary indexes (caller's transaction). */
static err_t pg_index_defer_save(PGconn *tgt, const config_t *cfg, const char *table, char *errbuf,
                                 size_t errsize)
{
    const char *p[2] = {cfg->name, table};
    PGresult *res = pg_conn_execp(
        tgt,
        "INSERT INTO syncline.deferred_indexes (name, index_name, table_name, definition) "
        "SELECT $1, i.indexrelid::regclass::text, i.indrelid::regclass::text, "
        "CASE WHEN c.relkind = 'I' THEN regexp_replace(pg_get_indexdef(i.indexrelid), "
        "' ON ONLY ', ' ON ') ELSE pg_get_indexdef(i.indexrelid) END "
        "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = $2::regclass "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) "
        "AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid) "
        "ON CONFLICT DO NOTHING",
        2, p, PGRES_COMMAND_OK, "target: save index definitions", errbuf, errsize);
    PQclear(res);
    return res ? ERR_OK : ERR_RUNTIME;
}

/* Drops every saved index of cfg->name that exists (caller's transaction). */
static err_t pg_index_defer_drop_saved(PGconn *tgt, const config_t *cfg, int *ndropped,
                                       char *errbuf, size_t errsize)
{
    const char *p[1] = {cfg->name};
    PGresult *res =
        pg_conn_execp(tgt,
                      "SELECT index_name FROM syncline.deferred_indexes "
                      "WHERE name = $1 AND to_regclass(index_name) IS NOT NULL",
                      1, p, PGRES_TUPLES_OK, "target: deferred indexes", errbuf, errsize);
    if (res == NULL)
        return ERR_RUNTIME;
    err_t err = ERR_OK;
    for (int i = 0; err == ERR_OK && i < PQntuples(res); i++) {
        char sql[1024];
        snprintf(sql, sizeof(sql), "DROP INDEX %s", PQgetvalue(res, i, 0));
        PGresult *d =
            pg_conn_exec(tgt, sql, PGRES_COMMAND_OK, "target: drop index", errbuf, errsize);
        err = d ? ERR_OK : ERR_RUNTIME;
        PQclear(d);
        *ndropped += err == ERR_OK;
    }
    PQclear(res);
    return err;
}

/* Runs one statement that returns no rows; ERR_RUNTIME with the message otherwise. */
static err_t pg_index_defer_cmd(PGconn *tgt, const char *sql, const char *what, char *errbuf,
                                size_t errsize)
{
    PGresult *res = pg_conn_exec(tgt, sql, PGRES_COMMAND_OK, what, errbuf, errsize);
    PQclear(res);
    return res ? ERR_OK : ERR_RUNTIME;
}

err_t pg_index_defer_drop(const config_t *cfg, const char *const *tables, int ntables,
                          int *ndropped, char *errbuf, size_t errsize)
{
    err_t err;
    *ndropped = 0;
    PGconn *tgt = pg_conn_open(cfg->target_conninfo, PG_CONN_SQL, "target", &err, errbuf, errsize);
    if (tgt == NULL)
        return err;
    err = pg_index_defer_cmd(tgt, pg_index_defer_ddl, "target", errbuf, errsize);
    if (err == ERR_OK)
        err = pg_index_defer_cmd(tgt, "BEGIN", "target", errbuf, errsize);
    for (int t = 0; err == ERR_OK && t < ntables; t++)
        err = pg_index_defer_save(tgt, cfg, tables[t], errbuf, errsize);
    if (err == ERR_OK)
        err = pg_index_defer_drop_saved(tgt, cfg, ndropped, errbuf, errsize);
    if (err == ERR_OK)
        err = pg_index_defer_cmd(tgt, "COMMIT", "target", errbuf, errsize);
    else
        PQclear(PQexec(tgt, "ROLLBACK"));
    PQfinish(tgt);
    if (err != ERR_OK)
        *ndropped = 0;
    return err;
}

/* Recreates one saved index (definition NULL: it exists already) and forgets
 * it, in one transaction. */
static err_t pg_index_defer_restore_one(PGconn *tgt, const config_t *cfg, const char *index,
                                        const char *definition, char *errbuf, size_t errsize)
{
    const char *p[2] = {cfg->name, index};
    err_t err = pg_index_defer_cmd(tgt, "BEGIN", "target", errbuf, errsize);
    if (err == ERR_OK && definition != NULL)
        err = pg_index_defer_cmd(tgt, definition, "target: recreate index", errbuf, errsize);
    if (err == ERR_OK) {
        PGresult *res = pg_conn_execp(
            tgt, "DELETE FROM syncline.deferred_indexes WHERE name = $1 AND index_name = $2", 2, p,
            PGRES_COMMAND_OK, "target", errbuf, errsize);
        err = res ? ERR_OK : ERR_RUNTIME;
        PQclear(res);
    }
    if (err == ERR_OK)
        return pg_index_defer_cmd(tgt, "COMMIT", "target", errbuf, errsize);
    PQclear(PQexec(tgt, "ROLLBACK"));
    return err;
}

err_t pg_index_defer_restore(const config_t *cfg, int *nrestored, char *errbuf, size_t errsize)
{
    err_t err;
    *nrestored = 0;
    PGconn *tgt = pg_conn_open(cfg->target_conninfo, PG_CONN_SQL, "target", &err, errbuf, errsize);
    if (tgt == NULL)
        return err;
    const char *p[1] = {cfg->name};
    PGresult *res = pg_conn_exec(tgt, "SELECT to_regclass('syncline.deferred_indexes') IS NULL",
                                 PGRES_TUPLES_OK, "target", errbuf, errsize);
    int none = res == NULL || PQgetvalue(res, 0, 0)[0] == 't';
    err = res ? ERR_OK : ERR_RUNTIME;
    PQclear(res);
    res = none ? NULL
               : pg_conn_execp(tgt,
                               "SELECT index_name, definition, to_regclass(index_name) IS NOT "
                               "NULL FROM syncline.deferred_indexes WHERE name = $1 AND "
                               "to_regclass(table_name) IS NOT NULL ORDER BY saved_at, index_name",
                               1, p, PGRES_TUPLES_OK, "target: deferred indexes", errbuf, errsize);
    if (!none && res == NULL)
        err = ERR_RUNTIME;
    for (int i = 0; res != NULL && err == ERR_OK && i < PQntuples(res); i++) {
        const char *index = PQgetvalue(res, i, 0);
        int exists = PQgetvalue(res, i, 2)[0] == 't';
        err = pg_index_defer_restore_one(tgt, cfg, index, exists ? NULL : PQgetvalue(res, i, 1),
                                         errbuf, errsize);
        if (err == ERR_OK)
            log_info("index recreated index=%s", index);
        *nrestored += err == ERR_OK;
    }
    PQclear(res);
    PQfinish(tgt);
    return err;
}
