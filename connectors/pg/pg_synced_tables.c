/*
 * pg_synced_tables: the list of synced tables, from the source catalog and the
 * configuration's routes. No writes.
 */
#include "pg/pg_synced_tables.h"

#include <stdlib.h>
#include <string.h>

#include "pg/pg_conn.h"
#include "core/route.h"

/* Publication tables when the publication exists, else every user table. */
#define PG_SYNCED_TABLES_SQL                                                                       \
    "SELECT schemaname::text, tablename::text FROM pg_publication_tables WHERE pubname = $1 "      \
    "UNION ALL SELECT n.nspname::text, c.relname::text FROM pg_class c JOIN pg_namespace n "       \
    "ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "            \
    "AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'syncline') "                       \
    "AND n.nspname NOT LIKE 'pg\\_%' "                                                             \
    "AND NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1) ORDER BY 1, 2"

static int pg_synced_tables_add(pg_synced_tables_t *s, const char *schema, const char *name,
                                const char *ts, const char *tn)
{
    pg_synced_tables_table_t *t = &s->tables[s->ntables];
    t->schema = strdup(schema);
    t->name = strdup(name);
    t->tschema = strdup(ts);
    t->tname = strdup(tn);
    s->ntables++;
    return t->schema && t->name && t->tschema && t->tname ? 0 : -1;
}

err_t pg_synced_tables_list(PGconn *src, const config_t *cfg, pg_synced_tables_t *out, char *errbuf,
                            size_t errsize)
{
    const char *params[1] = {cfg->publication};
    memset(out, 0, sizeof(*out));
    PGresult *res = pg_conn_execp(src, PG_SYNCED_TABLES_SQL, 1, params, PGRES_TUPLES_OK,
                                  "source: list tables", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(src);
    int n = PQntuples(res), fail = 0;
    out->tables = calloc((size_t)n + 1, sizeof(*out->tables));
    fail = out->tables == NULL;
    for (int i = 0; i < n && !fail; i++) {
        const char *ts, *tn, *schema = PQgetvalue(res, i, 0), *name = PQgetvalue(res, i, 1);
        if (route_target(cfg, schema, name, &ts, &tn) == ROUTE_SYNC)
            fail = pg_synced_tables_add(out, schema, name, ts, tn) != 0;
    }
    PQclear(res);
    if (fail) {
        pg_synced_tables_clear(out);
        snprintf(errbuf, errsize, "out of memory listing tables");
        return ERR_RUNTIME;
    }
    return ERR_OK;
}

void pg_synced_tables_clear(pg_synced_tables_t *s)
{
    for (int i = 0; s->tables != NULL && i < s->ntables; i++) {
        free(s->tables[i].schema);
        free(s->tables[i].name);
        free(s->tables[i].tschema);
        free(s->tables[i].tname);
    }
    free(s->tables);
    s->tables = NULL;
    s->ntables = 0;
}

const char *pg_synced_tables_target_schema(const config_t *cfg, const char *schema)
{
    for (int i = 0; i < cfg->ntables; i++) {
        const config_table_t *t = &cfg->tables[i];
        if (!t->skip && strcmp(t->source.name, "*") == 0 && strcmp(t->source.schema, schema) == 0)
            return t->target.schema;
    }
    return schema;
}
