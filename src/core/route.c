/*
 * route: maps source tables to target tables through the configuration.
 */
#include "core/route.h"

#include <string.h>

route_result_t route_target(const config_t *cfg, const char *schema, const char *name,
                            const char **tschema, const char **tname)
{
    const config_table_t *t = config_find_table(cfg, schema, name);
    *tschema = schema;
    *tname = name;
    /* syncline's own bookkeeping (progress, claims) is never synced: a FOR ALL
     * TABLES publication on a database that also receives (the old one during a
     * fallback) carries it */
    if (strcmp(schema, "syncline") == 0)
        return ROUTE_SKIP;
    if (t == NULL)
        return cfg->has_tables ? ROUTE_UNLISTED : ROUTE_SYNC;
    if (t->skip)
        return ROUTE_SKIP;
    *tschema = t->target.schema;
    if (strcmp(t->target.name, "*") != 0)
        *tname = t->target.name;
    return ROUTE_SYNC;
}
