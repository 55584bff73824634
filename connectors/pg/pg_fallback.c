/*
 * pg_fallback: builds the fallback configuration from the old database's
 * synced tables and re-arms the forward slot and progress when switching back.
 */
#include "pg/pg_fallback.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fallback_config.h"
#include "core/log.h"
#include "pg/pg_conn.h"
#include "pg/pg_origin.h"
#include "pg/pg_synced_tables.h"

static config_t *pg_fallback_from_synced(const config_t *fwd, const pg_synced_tables_t *st,
                                         err_t *err, char *errbuf, size_t errsize)
{
    fallback_config_pair_t *pairs = calloc((size_t)st->ntables + 1, sizeof(*pairs));
    if (pairs == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        *err = ERR_RUNTIME;
        return NULL;
    }
    for (int i = 0; i < st->ntables; i++) {
        const pg_synced_tables_table_t *t = &st->tables[i];
        pairs[i] = (fallback_config_pair_t){t->schema, t->name, t->tschema, t->tname};
    }
    config_t *rev = fallback_config_new(fwd, pairs, st->ntables, err, errbuf, errsize);
    free(pairs);
    return rev;
}

config_t *pg_fallback_config(const config_t *fwd, int with_tables, err_t *err, char *errbuf,
                             size_t errsize)
{
    if (!with_tables)
        return fallback_config_new(fwd, NULL, 0, err, errbuf, errsize);
    PGconn *old = pg_conn_open(fwd->source_conninfo, PG_CONN_SQL, "source", err, errbuf, errsize);
    if (old == NULL)
        return NULL;
    pg_synced_tables_t st;
    config_t *rev = NULL;
    *err = pg_synced_tables_list(old, fwd, &st, errbuf, errsize);
    if (*err == ERR_OK && st.ntables == 0) {
        snprintf(errbuf, errsize, "fallback: no synced table to stream back");
        *err = ERR_CONFIG;
    }
    if (*err == ERR_OK)
        rev = pg_fallback_from_synced(fwd, &st, err, errbuf, errsize);
    pg_synced_tables_clear(&st);
    PQfinish(old);
    return rev;
}

/* On the old database: its current position, and the forward slot moved there. */
static err_t pg_fallback_advance_slot(const config_t *fwd, lsn_t *at, char *errbuf, size_t errsize)
{
    err_t err;
    PGconn *old = pg_conn_open(fwd->source_conninfo, PG_CONN_SQL, "source", &err, errbuf, errsize);
    if (old == NULL)
        return err;
    const char *params[1] = {fwd->slot};
    PGresult *res = pg_conn_execp(
        old,
        "SELECT pg_current_wal_lsn(), (SELECT coalesce(active_pid, 0) FROM pg_replication_slots "
        "WHERE slot_name = $1 AND database = current_database())",
        1, params, PGRES_TUPLES_OK, "source: forward slot", errbuf, errsize);
    err = res != NULL ? ERR_OK : pg_conn_classify(old);
    if (res != NULL && PQgetisnull(res, 0, 1)) {
        snprintf(errbuf, errsize, "source: the forward slot %s does not exist", fwd->slot);
        err = ERR_SOURCE;
    } else if (res != NULL && atoi(PQgetvalue(res, 0, 1)) != 0) {
        snprintf(errbuf, errsize,
                 "source: the forward slot %s is in use (pid %s): stop the forward run first",
                 fwd->slot, PQgetvalue(res, 0, 1));
        err = ERR_SOURCE;
    }
    if (err == ERR_OK)
        lsn_parse(PQgetvalue(res, 0, 0), at);
    PQclear(res);
    char l[LSN_STRLEN];
    const char *p2[2] = {fwd->slot, lsn_format(*at, l, sizeof(l))};
    res = err == ERR_OK ? pg_conn_execp(old,
                                        "SELECT pg_replication_slot_advance($1, $2::pg_lsn) "
                                        "FROM pg_replication_slots WHERE slot_name = $1 AND "
                                        "confirmed_flush_lsn < $2::pg_lsn",
                                        2, p2, PGRES_TUPLES_OK, "source: advance the forward slot",
                                        errbuf, errsize)
                        : NULL;
    if (err == ERR_OK && res == NULL)
        err = pg_conn_classify(old);
    PQclear(res);
    PQfinish(old);
    return err;
}

/* On the new database: the forward progress row moved to at. */
static err_t pg_fallback_move_progress(const config_t *fwd, lsn_t at, char *errbuf, size_t errsize)
{
    err_t err;
    PGconn *conn = pg_conn_open(fwd->target_conninfo, PG_CONN_SQL, "target", &err, errbuf, errsize);
    if (conn == NULL)
        return err;
    char l[LSN_STRLEN];
    const char *params[2] = {fwd->name, lsn_format(at, l, sizeof(l))};
    err = pg_conn_run(conn,
                      "UPDATE syncline.progress SET applied_lsn = $2::pg_lsn, "
                      "updated_at = now() WHERE name = $1 AND applied_lsn < $2::pg_lsn",
                      2, params, PGRES_COMMAND_OK, "target: forward progress", errbuf, errsize);
    PQfinish(conn);
    return err;
}

err_t pg_fallback_rearm(const config_t *fwd, lsn_t *at, char *errbuf, size_t errsize)
{
    err_t err = pg_fallback_advance_slot(fwd, at, errbuf, errsize);
    if (err == ERR_OK)
        err = pg_fallback_move_progress(fwd, *at, errbuf, errsize);
    char l[LSN_STRLEN];
    if (err == ERR_OK)
        log_info("fallback: forward slot=%s and progress moved to lsn=%s (the fallback's writes "
                 "are not streamed forward again)",
                 fwd->slot, lsn_format(*at, l, sizeof(l)));
    return err;
}

err_t pg_fallback_drop_origin(const config_t *rev, char *errbuf, size_t errsize)
{
    err_t err;
    PGconn *old = pg_conn_open(rev->target_conninfo, PG_CONN_SQL, "target", &err, errbuf, errsize);
    if (old == NULL)
        return err;
    err = pg_origin_drop(old, rev->apply_origin, errbuf, errsize);
    PQfinish(old);
    return err;
}

/* ---- every old column fed ------------------------------------------------ */

#define PG_FALLBACK_COLUMNS_SQL                                                                    \
    "SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN "             \
    "pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 AND "        \
    "a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum"

static int pg_fallback_has(PGresult *cols, const char *name)
{
    for (int r = 0; cols != NULL && r < PQntuples(cols); r++)
        if (strcmp(PQgetvalue(cols, r, 0), name) == 0)
            return 1;
    return 0;
}

/* Whether old column col is fed by entry t from the new table's columns. */
static int pg_fallback_fed(const config_table_t *t, PGresult *newcols, const char *col)
{
    for (int i = 0; i < t->nkeep; i++) /* deliberately left as they are */
        if (strcmp(t->keep[i], col) == 0)
            return 1;
    for (int i = 0; i < t->ncolumns; i++)
        if (strcmp(t->columns[i].target_column, col) == 0)
            return 1;
    for (int i = 0; i < t->nexclude; i++)
        if (strcmp(t->exclude[i], col) == 0)
            return 0;
    return pg_fallback_has(newcols, col);
}

static err_t pg_fallback_check_table(PGconn *newc, PGconn *oldc, const config_table_t *t,
                                     void (*report)(void *, int, const char *), void *arg,
                                     int *problems, char *errbuf, size_t errsize)
{
    const char *np[2] = {t->source.schema, t->source.name};
    const char *op[2] = {t->target.schema, t->target.name};
    PGresult *newcols = pg_conn_execp(newc, PG_FALLBACK_COLUMNS_SQL, 2, np, PGRES_TUPLES_OK,
                                      "target: columns", errbuf, errsize);
    PGresult *oldcols = newcols != NULL
                            ? pg_conn_execp(oldc, PG_FALLBACK_COLUMNS_SQL, 2, op, PGRES_TUPLES_OK,
                                            "source: columns", errbuf, errsize)
                            : NULL;
    err_t err = oldcols != NULL ? ERR_OK : pg_conn_classify(newcols != NULL ? oldc : newc);
    for (int r = 0; oldcols != NULL && r < PQntuples(oldcols); r++) {
        const char *col = PQgetvalue(oldcols, r, 0);
        if (PQntuples(newcols) == 0 || pg_fallback_fed(t, newcols, col))
            continue; /* a missing table is pg_check's to report */
        char msg[1024];
        snprintf(msg, sizeof(msg),
                 "fallback: table %s.%s: column \"%s\" of the source table is fed by nothing "
                 "(no column of that name in the target table %s.%s, or excluded): switching "
                 "back would lose its values; give it an expression in the entry's "
                 "\"fallback\": {\"columns\": ...}, or list it in \"fallback\": {\"keep\": "
                 "[...]} to leave it as it is",
                 t->target.schema, t->target.name, col, t->source.schema, t->source.name);
        report(arg, 0, msg);
        (*problems)++;
    }
    PQclear(newcols);
    PQclear(oldcols);
    return err;
}

err_t pg_fallback_check_fed(const config_t *rev,
                            void (*report)(void *arg, int warning, const char *message), void *arg,
                            int *problems, char *errbuf, size_t errsize)
{
    err_t err;
    PGconn *oldc = NULL;
    PGconn *newc = pg_conn_open(rev->source_conninfo, PG_CONN_SQL, "target", &err, errbuf, errsize);
    if (newc != NULL)
        oldc = pg_conn_open(rev->target_conninfo, PG_CONN_SQL, "source", &err, errbuf, errsize);
    for (int i = 0; oldc != NULL && err == ERR_OK && i < rev->ntables; i++)
        err = pg_fallback_check_table(newc, oldc, &rev->tables[i], report, arg, problems, errbuf,
                                      errsize);
    PQfinish(oldc);
    PQfinish(newc);
    return err;
}
