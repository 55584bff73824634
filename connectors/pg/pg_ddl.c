/*
 * pg_ddl: DDL following on PostgreSQL: the source's event trigger (install,
 * remove) and running a captured DDL command on the target. What to do with
 * a command is decided in core/ddl.c; this module only talks to servers.
 *
 * The trigger: sql_drop keeps what a DROP removed in a transaction-local
 * setting; ddl_command_end writes one transactional logical message per
 * command (tag, the client's query string, the command's ordinal in it, the
 * search_path, the objects touched and the tables they belong to, the
 * transaction's id), signed with a key no application role can read, so the
 * command reaches the stream at the place it committed, between the rows
 * before and after it, and the applier can tell it from a message any
 * session may write with pg_logical_emit_message (docs/ddl.md, "What is
 * trusted"). The functions are SECURITY DEFINER and keep their numbering in
 * syncline.ddl_state, which sessions cannot write. The functions have no EXCEPTION block on
 * purpose: a subtransaction holding only a logical message is decoded after the rows that follow it
 * (seen on 15), which would put the DDL in the wrong place.
 */
#include "pg/pg_ddl.h"

#include <ctype.h>
#include <stdint.h>
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
    "CREATE MATERIALIZED VIEW IF NOT EXISTS syncline.ddl_key AS SELECT true AS one, "
    "decode((SELECT string_agg(lpad(to_hex(get_byte(s.k, j) # 54), 2, '0'), '' ORDER BY j) FROM "
    "generate_series(0, 63) j), 'hex') AS ipad, decode((SELECT "
    "string_agg(lpad(to_hex(get_byte(s.k, "
    "j) # 92), 2, '0'), '' ORDER BY j) FROM generate_series(0, 63) j), 'hex') AS opad FROM "
    "(SELECT decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '') || "
    "repeat('00', 32), 'hex') AS k) s;\n"
    "REVOKE ALL ON syncline.ddl_key FROM PUBLIC;\n"
    "CREATE UNLOGGED TABLE IF NOT EXISTS syncline.ddl_state (pid int PRIMARY KEY, xid xid8 NOT "
    "NULL, k text NOT NULL, n int NOT NULL, dropped text NOT NULL);\n"
    "REVOKE ALL ON syncline.ddl_state FROM PUBLIC;\n"
    "CREATE OR REPLACE FUNCTION syncline.ddl_drop() RETURNS event_trigger LANGUAGE plpgsql "
    "SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$\n"
    "DECLARE\n"
    "  d text;\n"
    "BEGIN\n"
    "  SELECT coalesce(jsonb_agg(jsonb_build_object('type', o.object_type, 'identity', "
    "o.object_identity, 'schema', o.schema_name, 'table_schema', CASE WHEN o.object_type = 'table' "
    "THEN o.schema_name WHEN o.object_type IN ('table column', 'table constraint') THEN "
    "o.address_names[1] END, 'table', CASE WHEN o.object_type = 'table' THEN o.object_name WHEN "
    "o.object_type IN ('table column', 'table constraint') THEN o.address_names[2] END)), "
    "'[]')::text INTO d FROM pg_event_trigger_dropped_objects() o WHERE NOT o.is_temporary;\n"
    "  INSERT INTO syncline.ddl_state AS s VALUES (pg_backend_pid(), pg_current_xact_id(), '', 0, "
    "d)\n"
    "    ON CONFLICT (pid) DO UPDATE SET dropped = excluded.dropped, xid = excluded.xid,\n"
    "      k = CASE WHEN s.xid = excluded.xid THEN s.k ELSE '' END, n = CASE WHEN s.xid = "
    "excluded.xid THEN s.n ELSE 0 END;\n"
    "END $f$;\n"
    "CREATE OR REPLACE FUNCTION syncline.ddl_capture() RETURNS event_trigger LANGUAGE plpgsql "
    "SECURITY DEFINER AS $f$\n"
    "DECLARE\n"
    "  sp text := pg_catalog.current_setting('search_path');\n"
    "  q text;\n"
    "  k text;\n"
    "  x xid8;\n"
    "  prev syncline.ddl_state;\n"
    "  n int := 1;\n"
    "  objs jsonb;\n"
    "  body text;\n"
    "  sec syncline.ddl_key;\n"
    "BEGIN\n"
    "  PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);\n"
    "  q := coalesce(current_query(), '');\n"
    "  k := md5(q) || '@' || statement_timestamp()::text;\n"
    "  x := pg_current_xact_id();\n"
    "  SELECT * INTO prev FROM syncline.ddl_state s WHERE s.pid = pg_backend_pid() AND s.xid = x;\n"
    "  IF prev.k = k THEN n := prev.n + 1; END IF;\n"
    "  INSERT INTO syncline.ddl_state AS s VALUES (pg_backend_pid(), x, k, n, '')\n"
    "    ON CONFLICT (pid) DO UPDATE SET xid = excluded.xid, k = excluded.k, n = excluded.n, "
    "dropped = '';\n"
    "  SELECT coalesce(jsonb_agg(jsonb_build_object('type', c.object_type, 'identity', "
    "c.object_identity, 'schema', c.schema_name, 'table_schema', tn.nspname, 'table', t.relname)), "
    "'[]') INTO objs\n"
    "      FROM pg_event_trigger_ddl_commands() c\n"
    "      LEFT JOIN pg_class t ON t.oid = CASE\n"
    "        WHEN c.classid = 'pg_class'::regclass THEN coalesce(\n"
    "          (SELECT i.indrelid FROM pg_index i WHERE i.indexrelid = c.objid),\n"
    "          (SELECT d.refobjid FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND "
    "d.objid = c.objid AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') AND "
    "d.refobjsubid > 0 LIMIT 1),\n"
    "          c.objid)\n"
    "        WHEN c.classid = 'pg_constraint'::regclass THEN\n"
    "          (SELECT y.conrelid FROM pg_constraint y WHERE y.oid = c.objid)\n"
    "        END AND t.relkind IN ('r', 'p')\n"
    "      LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace\n"
    "     WHERE NOT c.in_extension AND coalesce(c.schema_name, '') NOT LIKE 'pg\\_temp%';\n"
    "  IF coalesce(prev.dropped, '') <> '' THEN objs := objs || prev.dropped::jsonb; END IF;\n"
    "  body := jsonb_build_object('tag', tg_tag, 'query', q, 'ordinal', n, 'search_path', sp, "
    "'xid', x::text, 'objects', objs)::text;\n"
    "  SELECT * INTO sec FROM syncline.ddl_key;\n"
    "  PERFORM pg_logical_emit_message(true, 'syncline.ddl', encode(sha256(sec.opad || "
    "sha256(sec.ipad || convert_to(body, getdatabaseencoding()))), 'hex') || body);\n"
    "  PERFORM pg_catalog.set_config('search_path', sp, true);\n"
    "END $f$;\n"
    "DO $d$ BEGIN\n"
    "  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'syncline_ddl_drop') THEN\n"
    "    CREATE EVENT TRIGGER syncline_ddl_drop ON sql_drop EXECUTE FUNCTION syncline.ddl_drop();\n"
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

/* Runs sql (several statements) in one transaction, with the session's
 * event triggers off: syncline's own objects (created again at each start,
 * CREATE OR REPLACE) must not reach the stream as DDL to follow. */
static err_t pg_ddl_exec_tx(PGconn *conn, const char *sql, const char *what, char *errbuf,
                            size_t errsize)
{
    PGresult *res = pg_conn_exec(conn, "BEGIN", PGRES_COMMAND_OK, what, errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(conn);
    PQclear(res);
    res = PQexec(conn, "SET LOCAL session_replication_role = replica");
    if (PQresultStatus(res) == PGRES_COMMAND_OK) {
        PQclear(res);
        res = PQexec(conn, sql);
    }
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
    if (!pg_ddl_supported(version) || !config_ddl_followed(cfg))
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
                               "DROP FUNCTION IF EXISTS syncline.ddl_drop();"
                               "DROP TABLE IF EXISTS syncline.ddl_state;"
                               "DROP MATERIALIZED VIEW IF EXISTS syncline.ddl_key;",
                               "source: remove the DDL event trigger", errbuf, errsize);
    if (err == ERR_OK)
        log_info("ddl event trigger removed from the source");
    return err;
}

/* ---- the signing key ------------------------------------------------------ */

err_t pg_ddl_key_load(PGconn *conn, pg_ddl_key_t *key, char *errbuf, size_t errsize)
{
    memset(key, 0, sizeof(*key));
    PGresult *res = PQexec(conn, "SELECT encode(ipad, 'hex'), encode(opad, 'hex') FROM "
                                 "syncline.ddl_key");
    int ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
             strlen(PQgetvalue(res, 0, 0)) == sizeof(key->ipad) - 1 &&
             strlen(PQgetvalue(res, 0, 1)) == sizeof(key->opad) - 1;
    if (ok) {
        memcpy(key->ipad, PQgetvalue(res, 0, 0), sizeof(key->ipad));
        memcpy(key->opad, PQgetvalue(res, 0, 1), sizeof(key->opad));
        key->loaded = 1;
    } else if (PQstatus(conn) == CONNECTION_BAD) {
        snprintf(errbuf, errsize, "source: DDL key: %s", PQerrorMessage(conn));
        PQclear(res);
        return ERR_CONNECT;
    } else {
        log_warn("ddl: cannot read the source's DDL signing key syncline.ddl_key (%s): DDL "
                 "messages cannot be verified and stop the sync; install the event trigger "
                 "(docs/ddl.md) and GRANT SELECT ON syncline.ddl_key to this role",
                 PQresultStatus(res) == PGRES_TUPLES_OK
                     ? "no key"
                     : PQresultErrorField(res, PG_DIAG_SQLSTATE));
    }
    PQclear(res);
    return ERR_OK;
}

err_t pg_ddl_key_fetch(const config_t *cfg, pg_ddl_key_t *key, char *errbuf, size_t errsize)
{
    err_t err = ERR_OK;
    memset(key, 0, sizeof(*key));
    if (cfg->source_conninfo == NULL || cfg->source_conninfo[0] == '\0') {
        log_info("ddl: no source.conninfo to read the DDL signing key from: DDL events cannot be "
                 "verified and stop apply (docs/kafka.md#ddl)");
        return ERR_OK;
    }
    PGconn *conn = pg_conn_open(cfg->source_conninfo, PG_CONN_SQL, "source", &err, errbuf, errsize);
    if (conn == NULL) {
        key->unreachable = err == ERR_CONNECT;
        log_warn("ddl: cannot read the source's DDL signing key (%s): %s (docs/kafka.md#ddl)",
                 errbuf,
                 key->unreachable ? "a DDL event waits until the source answers"
                                  : "DDL events cannot be verified and stop apply");
        errbuf[0] = '\0';
        return ERR_OK;
    }
    err = pg_ddl_key_load(conn, key, errbuf, errsize);
    PQfinish(conn);
    return err;
}

static err_t pg_ddl_reject(const sink_ddl_t *d, const char *why, char *errbuf, size_t errsize)
{
    char l[LSN_STRLEN];
    lsn_format(d->lsn, l, sizeof(l));
    snprintf(errbuf, errsize,
             "DDL message at lsn=%s rejected: %s; it was not written by syncline's event "
             "trigger in this transaction (a forged or replayed pg_logical_emit_message with "
             "prefix \"" DDL_MESSAGE_PREFIX "\"), so nothing of its transaction is applied; "
             "find out who wrote it, then run again with --ddl-applied %s to skip it",
             l, why, l);
    return ERR_SCHEMA;
}

/* The hex HMAC-SHA256 of body under key, computed by conn's server, into out. */
static err_t pg_ddl_hmac(PGconn *conn, const pg_ddl_key_t *key, const char *body, size_t len,
                         char out[DDL_SIG_HEX + 1], char *errbuf, size_t errsize)
{
    const char *params[3] = {key->opad, key->ipad, body};
    int lens[3] = {0, 0, (int)len}, formats[3] = {0, 0, 1};
    PGresult *res = PQexecParams(conn,
                                 "SELECT pg_catalog.encode(pg_catalog.sha256(pg_catalog.decode($1, "
                                 "'hex') || pg_catalog.sha256(pg_catalog.decode($2, 'hex') || "
                                 "$3::bytea)), 'hex')",
                                 3, NULL, params, lens, formats, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
        strlen(PQgetvalue(res, 0, 0)) != DDL_SIG_HEX) {
        snprintf(errbuf, errsize, "target: checking a DDL message's signature: %s",
                 PQresultErrorMessage(res));
        PQclear(res);
        return pg_conn_classify(conn) == ERR_CONNECT ? ERR_CONNECT : ERR_RUNTIME;
    }
    memcpy(out, PQgetvalue(res, 0, 0), DDL_SIG_HEX + 1);
    PQclear(res);
    return ERR_OK;
}

/* Compares the two signatures in constant time (hex, either case). */
static int pg_ddl_sig_equal(const char *a, const char *b)
{
    unsigned diff = 0;
    for (int i = 0; i < DDL_SIG_HEX; i++)
        diff |= (unsigned)(tolower((unsigned char)a[i]) ^ tolower((unsigned char)b[i]));
    return diff == 0;
}

err_t pg_ddl_verify(PGconn *conn, const pg_ddl_key_t *key, const sink_ddl_t *d, const char **body,
                    size_t *body_len, char *errbuf, size_t errsize)
{
    const char *sig;
    if (ddl_message_split(d->json, d->len, &sig, body, body_len) != 0)
        return pg_ddl_reject(d, "it carries no signature", errbuf, errsize);
    if (!key->loaded)
        return pg_ddl_reject(d,
                             "its signature cannot be checked (this role cannot read the "
                             "source's syncline.ddl_key: GRANT SELECT ON syncline.ddl_key to it)",
                             errbuf, errsize);
    char want[DDL_SIG_HEX + 1];
    err_t err = pg_ddl_hmac(conn, key, *body, *body_len, want, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    if (!pg_ddl_sig_equal(sig, want))
        return pg_ddl_reject(d, "its signature does not verify", errbuf, errsize);
    ddl_event_t ev;
    char eb[256];
    int parsed = ddl_event_parse(*body, *body_len, &ev, eb, sizeof(eb)) == 0;
    uint64_t xid = ev.xid;
    ddl_event_clear(&ev);
    if (!parsed) {
        char l[LSN_STRLEN];
        snprintf(errbuf, errsize, "%s (lsn=%s)", eb, lsn_format(d->lsn, l, sizeof(l)));
        return ERR_RUNTIME;
    }
    if (xid == 0 || (uint32_t)xid != d->xid) {
        char why[200];
        snprintf(why, sizeof(why),
                 "its signature verifies but it names transaction %llu, not %u (a replayed "
                 "message)",
                 (unsigned long long)xid, (unsigned)d->xid);
        return pg_ddl_reject(d, why, errbuf, errsize);
    }
    return ERR_OK;
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
    return pg_conn_run(conn, sql, 0, NULL, PGRES_COMMAND_OK, "target", errbuf, errsize);
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

/* A key not read at start (the source down, its event trigger not installed
 * yet, the grant not given yet) is read again when a message needs it; a
 * source still out of reach is a lost connection: the session starts again. */
static err_t pg_ddl_key_ensure(const config_t *cfg, pg_ddl_key_t *key, lsn_t lsn, char *errbuf,
                               size_t errsize)
{
    if (key->loaded)
        return ERR_OK;
    err_t err = pg_ddl_key_fetch(cfg, key, errbuf, errsize);
    if (err == ERR_OK && key->unreachable) {
        char l[LSN_STRLEN];
        snprintf(errbuf, errsize,
                 "DDL message at lsn=%s: its signature is checked under the source's signing "
                 "key, and the source cannot be reached to read it",
                 lsn_format(lsn, l, sizeof(l)));
        err = ERR_CONNECT;
    }
    return err;
}

err_t pg_ddl_apply(PGconn *conn, const config_t *cfg, lsn_t done_lsn, pg_ddl_key_t *key,
                   const sink_ddl_t *d, char *errbuf, size_t errsize)
{
    char l[LSN_STRLEN], where[LSN_STRLEN + 8];
    snprintf(where, sizeof(where), "lsn=%s", lsn_format(d->lsn, l, sizeof(l)));
    if (done_lsn != 0 && d->lsn == done_lsn) { /* nothing runs: no need to trust it */
        log_info("ddl skipped %s reason=\"applied by hand (--ddl-applied)\"", where);
        return ERR_OK;
    }
    const char *body;
    size_t blen;
    err_t err = pg_ddl_key_ensure(cfg, key, d->lsn, errbuf, errsize);
    if (err == ERR_OK)
        err = pg_ddl_verify(conn, key, d, &body, &blen, errbuf, errsize);
    if (err != ERR_OK)
        return err;
    ddl_event_t ev;
    ddl_decision_t dec = {0};
    char eb[256];
    if (ddl_event_parse(body, blen, &ev, eb, sizeof(eb)) != 0) {
        snprintf(errbuf, errsize, "%s (%s)", eb, where);
        err = ERR_RUNTIME;
    } else if (ddl_decide(cfg, &ev, &dec) != 0) {
        snprintf(errbuf, errsize, "out of memory deciding on DDL (%s)", where);
        err = ERR_RUNTIME;
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
