/*
 * pg_ddl: DDL following on PostgreSQL: the source's event trigger (install,
 * remove) and running a captured DDL command on the target. What to do with
 * a command is decided in core/ddl.c; this module only talks to servers.
 *
 * The trigger: sql_drop keeps what a DROP removed in a transaction-local
 * setting; ddl_command_end writes one transactional logical message per
 * command (tag, the client's query string, the command's ordinal in it, the
 * search_path, the objects touched and the tables they belong to), so the
 * command reaches the stream at the place it committed, between the rows
 * before and after it. The functions have no EXCEPTION block on purpose: a
 * subtransaction holding only a logical message is decoded after the rows
 * that follow it (seen on 15), which would put the DDL in the wrong place.
 */
#include "pg/pg_ddl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ddl.h"
#include "core/log.h"
#include "pg/pg_conn.h"

#define PG_DDL_FIRST_VERSION 140000

const char pg_ddl_install_sql[] =
    "SELECT pg_advisory_xact_lock(hashtext('syncline_ddl'));\n"
    "CREATE SCHEMA IF NOT EXISTS syncline;\n"
    "CREATE OR REPLACE FUNCTION syncline.ddl_drop() RETURNS event_trigger LANGUAGE plpgsql AS "
    "$f$\n"
    "BEGIN\n"
    "  PERFORM set_config('syncline.ddl_dropped', coalesce((SELECT jsonb_agg(jsonb_build_object("
    "'type', o.object_type, 'identity', o.object_identity, 'schema', o.schema_name, "
    "'table_schema', CASE WHEN o.object_type = 'table' THEN o.schema_name "
    "WHEN o.object_type IN ('table column', 'table constraint') THEN o.address_names[1] END, "
    "'table', CASE WHEN o.object_type = 'table' THEN o.object_name "
    "WHEN o.object_type IN ('table column', 'table constraint') THEN o.address_names[2] END)) "
    "FROM pg_event_trigger_dropped_objects() o WHERE NOT o.is_temporary), '[]')::text, true);\n"
    "END $f$;\n"
    "CREATE OR REPLACE FUNCTION syncline.ddl_capture() RETURNS event_trigger LANGUAGE plpgsql AS "
    "$f$\n"
    "DECLARE\n"
    "  q text := coalesce(current_query(), '');\n"
    "  k text := md5(coalesce(current_query(), '')) || '@' || statement_timestamp()::text;\n"
    "  prev text := coalesce(current_setting('syncline.ddl_seq', true), '');\n"
    "  dropped text := coalesce(current_setting('syncline.ddl_dropped', true), '');\n"
    "  n int := 1;\n"
    "  objs jsonb;\n"
    "BEGIN\n"
    "  IF split_part(prev, '#', 1) = k THEN n := split_part(prev, '#', 2)::int + 1; END IF;\n"
    "  PERFORM set_config('syncline.ddl_seq', k || '#' || n, true);\n"
    "  PERFORM set_config('syncline.ddl_dropped', '', true);\n"
    "  SELECT coalesce(jsonb_agg(jsonb_build_object('type', c.object_type, "
    "'identity', c.object_identity, 'schema', c.schema_name, 'table_schema', tn.nspname, "
    "'table', t.relname)), '[]') INTO objs\n"
    "      FROM pg_event_trigger_ddl_commands() c\n"
    "      LEFT JOIN pg_class t ON t.oid = CASE\n"
    "        WHEN c.classid = 'pg_class'::regclass THEN coalesce(\n"
    "          (SELECT i.indrelid FROM pg_index i WHERE i.indexrelid = c.objid),\n"
    "          (SELECT d.refobjid FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
    "AND d.objid = c.objid AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') "
    "AND d.refobjsubid > 0 LIMIT 1),\n"
    "          c.objid)\n"
    "        WHEN c.classid = 'pg_constraint'::regclass THEN\n"
    "          (SELECT x.conrelid FROM pg_constraint x WHERE x.oid = c.objid)\n"
    "        END AND t.relkind IN ('r', 'p')\n"
    "      LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace\n"
    "     WHERE NOT c.in_extension AND coalesce(c.schema_name, '') NOT LIKE 'pg\\_temp%';\n"
    "  IF dropped <> '' THEN objs := objs || dropped::jsonb; END IF;\n"
    "  PERFORM pg_logical_emit_message(true, 'syncline.ddl', jsonb_build_object('tag', tg_tag, "
    "'query', q, 'ordinal', n, 'search_path', current_setting('search_path'), "
    "'objects', objs)::text);\n"
    "END $f$;\n"
    "DO $d$ BEGIN\n"
    "  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'syncline_ddl_drop') THEN\n"
    "    CREATE EVENT TRIGGER syncline_ddl_drop ON sql_drop EXECUTE FUNCTION "
    "syncline.ddl_drop();\n"
    "  END IF;\n"
    "  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'syncline_ddl_end') THEN\n"
    "    CREATE EVENT TRIGGER syncline_ddl_end ON ddl_command_end EXECUTE FUNCTION "
    "syncline.ddl_capture();\n"
    "  END IF;\n"
    "END $d$;\n";

int pg_ddl_supported(int version)
{
    return version >= PG_DDL_FIRST_VERSION;
}

int pg_ddl_wanted(const config_t *cfg)
{
    if (config_ddl_mode(cfg, NULL) != CONFIG_DDL_IGNORE)
        return 1;
    for (int i = 0; i < cfg->ntables; i++)
        if (config_ddl_mode(cfg, &cfg->tables[i]) != CONFIG_DDL_IGNORE)
            return 1;
    return 0;
}

err_t pg_ddl_check_version(const config_t *cfg, int version, char *errbuf, size_t errsize)
{
    if (pg_ddl_supported(version))
        return ERR_OK;
    const char *key = cfg->ddl == CONFIG_DDL_APPLY || cfg->ddl == CONFIG_DDL_STOP ? "ddl" : NULL;
    for (int i = 0; key == NULL && i < cfg->ntables; i++)
        if (cfg->tables[i].ddl == CONFIG_DDL_APPLY || cfg->tables[i].ddl == CONFIG_DDL_STOP)
            key = "tables[].ddl";
    if (key == NULL)
        return ERR_OK;
    snprintf(errbuf, errsize,
             "%s: following DDL needs a source of PostgreSQL 14 or later (logical messages in "
             "pgoutput); the source is %d: remove the setting or set it to \"ignore\"",
             key, version / 10000);
    return ERR_CONFIG;
}

static int pg_ddl_query_bool(PGconn *conn, const char *sql)
{
    PGresult *res = pg_conn_query(conn, sql, 0, NULL);
    int v = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
                ? PQgetvalue(res, 0, 0)[0] == 't'
                : -1;
    PQclear(res);
    return v;
}

/* Runs sql (several statements) in one transaction. */
static err_t pg_ddl_exec_tx(PGconn *conn, const char *sql, const char *what, char *errbuf,
                            size_t errsize)
{
    PGresult *res = pg_conn_exec(conn, "BEGIN", PGRES_COMMAND_OK, what, errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(conn);
    PQclear(res);
    res = PQexec(conn, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok)
        snprintf(errbuf, errsize, "%s: %s", what, PQresultErrorMessage(res));
    PQclear(res);
    res = PQexec(conn, ok ? "COMMIT" : "ROLLBACK");
    if (ok && PQresultStatus(res) != PGRES_COMMAND_OK) {
        snprintf(errbuf, errsize, "%s: %s", what, PQresultErrorMessage(res));
        ok = 0;
    }
    PQclear(res);
    return ok ? ERR_OK : pg_conn_classify(conn) == ERR_CONNECT ? ERR_CONNECT : ERR_SOURCE;
}

err_t pg_ddl_install(PGconn *conn, const config_t *cfg, int version, char *errbuf, size_t errsize)
{
    if (!pg_ddl_supported(version) || !pg_ddl_wanted(cfg))
        return ERR_OK;
    int super = pg_ddl_query_bool(conn, "SELECT rolsuper FROM pg_roles WHERE rolname = "
                                        "current_user");
    if (super < 0)
        return pg_conn_classify(conn);
    if (super) {
        err_t err = pg_ddl_exec_tx(conn, pg_ddl_install_sql,
                                   "source: install the DDL event "
                                   "trigger",
                                   errbuf, errsize);
        if (err == ERR_OK)
            log_info("ddl event trigger installed on the source (syncline_ddl_end, "
                     "syncline_ddl_drop)");
        return err;
    }
    int there = pg_ddl_query_bool(conn, "SELECT count(*) = 2 FROM pg_event_trigger WHERE evtname "
                                        "IN ('syncline_ddl_end', 'syncline_ddl_drop')");
    if (there < 0)
        return pg_conn_classify(conn);
    if (!there)
        log_warn("ddl: the source has no syncline DDL event trigger and this role cannot create "
                 "it (needs superuser): schema changes are not followed; a superuser can install "
                 "it with the SQL in docs/ddl.md");
    return ERR_OK;
}

err_t pg_ddl_uninstall(PGconn *conn, const char *slot, char *errbuf, size_t errsize)
{
    const char *params[1] = {slot};
    PGresult *res = pg_conn_execp(
        conn,
        "SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user), EXISTS (SELECT 1 "
        "FROM pg_event_trigger WHERE evtname IN ('syncline_ddl_end', 'syncline_ddl_drop')), "
        "EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name LIKE 'syncline\\_%' AND "
        "slot_name <> $1 AND database = current_database())",
        1, params, PGRES_TUPLES_OK, "source: DDL event trigger", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(conn);
    int super = PQgetvalue(res, 0, 0)[0] == 't', there = PQgetvalue(res, 0, 1)[0] == 't';
    int others = PQgetvalue(res, 0, 2)[0] == 't';
    PQclear(res);
    if (!there || others) {
        if (there)
            log_info("ddl event trigger kept: another syncline slot streams from this database");
        return ERR_OK;
    }
    if (!super) {
        log_warn("ddl: cannot remove the DDL event trigger (needs superuser): drop event "
                 "triggers syncline_ddl_end and syncline_ddl_drop by hand");
        return ERR_OK;
    }
    err_t err = pg_ddl_exec_tx(conn,
                               "DROP EVENT TRIGGER IF EXISTS syncline_ddl_end;"
                               "DROP EVENT TRIGGER IF EXISTS syncline_ddl_drop;"
                               "DROP FUNCTION IF EXISTS syncline.ddl_capture();"
                               "DROP FUNCTION IF EXISTS syncline.ddl_drop();",
                               "source: remove the DDL event trigger", errbuf, errsize);
    if (err == ERR_OK)
        log_info("ddl event trigger removed from the source");
    return err;
}

/* ---- applying on the target --------------------------------------------- */

/* Sets the session's search_path for this transaction; the old one into *old
 * (malloc'd) when old != NULL. */
static err_t pg_ddl_search_path(PGconn *conn, const char *path, char **old, char *errbuf,
                                size_t errsize)
{
    const char *params[1] = {path};
    PGresult *res =
        pg_conn_execp(conn,
                      "SELECT current_setting('search_path'), "
                      "set_config('search_path', $1, true)",
                      1, params, PGRES_TUPLES_OK, "target: search_path", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(conn);
    if (old != NULL && (*old = strdup(PQgetvalue(res, 0, 0))) == NULL) {
        PQclear(res);
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    PQclear(res);
    return ERR_OK;
}

/* The target already has what the DDL makes, or no longer has what it
 * removes: the user applied it there first (the way before DDL following). */
static int pg_ddl_already(const char *state)
{
    static const char *const states[] = {"42701", "42P07", "42710", "42P06",
                                         "42P01", "42703", "42704", NULL};
    for (int i = 0; state != NULL && states[i]; i++)
        if (strcmp(state, states[i]) == 0)
            return 1;
    return 0;
}

static err_t pg_ddl_simple(PGconn *conn, const char *sql, char *errbuf, size_t errsize)
{
    PGresult *res = pg_conn_exec(conn, sql, PGRES_COMMAND_OK, "target", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(conn);
    PQclear(res);
    return ERR_OK;
}

/* A partition created, attached or detached on the source, where the target
 * has the root as a plain table (rows arrive as the root's, 13 on). */
static int pg_ddl_unpartitioned(const char *state, const char *stmt)
{
    char up[256];
    size_t n = strlen(stmt) < sizeof(up) - 1 ? strlen(stmt) : sizeof(up) - 1;
    for (size_t i = 0; i < n; i++)
        up[i] = (char)toupper((unsigned char)stmt[i]);
    up[n] = '\0';
    return state != NULL && strcmp(state, "42809") == 0 && strstr(up, "PARTITION") != NULL;
}

/* Runs stmt under a savepoint: ERR_OK, *skipped when the target had it already. */
static err_t pg_ddl_exec_stmt(PGconn *conn, const char *stmt, const char *lsn, int *skipped,
                              char *errbuf, size_t errsize)
{
    err_t err = pg_ddl_simple(conn, "SAVEPOINT syncline_ddl", errbuf, errsize);
    if (err != ERR_OK)
        return err;
    PGresult *res = PQexec(conn, stmt);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        PQclear(res);
        return pg_ddl_simple(conn, "RELEASE SAVEPOINT syncline_ddl", errbuf, errsize);
    }
    char summary[400];
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    ddl_summary(stmt, summary, sizeof(summary));
    if (pg_ddl_already(state) || pg_ddl_unpartitioned(state, stmt)) {
        *skipped = 1;
        log_warn("ddl at lsn=%s skipped: the target has it already or is not partitioned: %s: %s",
                 lsn, summary, PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
        PQclear(res);
        return pg_ddl_simple(conn, "ROLLBACK TO SAVEPOINT syncline_ddl", errbuf, errsize);
    }
    snprintf(errbuf, errsize,
             "DDL at lsn=%s failed on the target: %s: %s; make the target able to take it (or "
             "apply it by hand), then run again (with --ddl-applied %s when applied by hand)",
             lsn, summary, PQresultErrorMessage(res), lsn);
    PQclear(res);
    return pg_conn_classify(conn) == ERR_CONNECT ? ERR_CONNECT : ERR_SCHEMA;
}

static err_t pg_ddl_run(PGconn *conn, const ddl_event_t *ev, const char *stmt, const char *lsn,
                        int *skipped, char *errbuf, size_t errsize)
{
    char *old = NULL;
    err_t err = pg_ddl_search_path(conn, ev->search_path, &old, errbuf, errsize);
    if (err == ERR_OK)
        err = pg_ddl_exec_stmt(conn, stmt, lsn, skipped, errbuf, errsize);
    if (err == ERR_OK)
        err = pg_ddl_search_path(conn, old, NULL, errbuf, errsize);
    free(old);
    return err;
}

err_t pg_ddl_apply(PGconn *conn, const config_t *cfg, lsn_t done_lsn, const sink_ddl_t *d,
                   char *errbuf, size_t errsize)
{
    char l[LSN_STRLEN], where[LSN_STRLEN + 8];
    snprintf(where, sizeof(where), "lsn=%s", lsn_format(d->lsn, l, sizeof(l)));
    ddl_event_t ev;
    ddl_decision_t dec = {0};
    char eb[256];
    err_t err = ERR_OK;
    if (ddl_event_parse(d->json, d->len, &ev, eb, sizeof(eb)) != 0) {
        snprintf(errbuf, errsize, "%s (%s)", eb, where);
        err = ERR_RUNTIME;
    } else if (ddl_decide(cfg, &ev, &dec) != 0) {
        snprintf(errbuf, errsize, "out of memory deciding on DDL (%s)", where);
        err = ERR_RUNTIME;
    } else if (done_lsn != 0 && d->lsn == done_lsn) {
        log_info("ddl skipped %s reason=\"applied by hand (--ddl-applied)\"", where);
    } else if (dec.action == DDL_SKIP) {
        log_info("ddl skipped %s reason=\"%s\"", where, dec.reason);
    } else if (dec.action == DDL_STOP) {
        snprintf(errbuf, errsize, "%s (%s: --ddl-applied %s)", dec.reason, where, l);
        err = ERR_SCHEMA;
    } else {
        int skipped = 0;
        err = pg_ddl_run(conn, &ev, dec.statement, l, &skipped, errbuf, errsize);
        if (err == ERR_OK && !skipped) {
            char summary[400];
            ddl_summary(dec.statement, summary, sizeof(summary));
            log_info("ddl applied %s tag=\"%s\" statement=\"%s\"", where, ev.tag, summary);
        }
    }
    free(dec.statement);
    ddl_event_clear(&ev);
    return err;
}
