/*
 * pg_synced_tables: which source tables syncline syncs and the target table of
 * each: the publication's tables (or, before `run` made it, every ordinary
 * user table), routed through the configuration. Shared by verify and
 * sequences; reads the source catalog only.
 */
#ifndef SYNCLINE_PG_SYNCED_H
#define SYNCLINE_PG_SYNCED_H

#include <libpq-fe.h>
#include <stddef.h>

#include "core/config.h"
#include "core/err.h"

typedef struct pg_synced_tables_table {
    char *schema; /* source, unquoted; owned */
    char *name;
    char *tschema; /* target, unquoted; owned */
    char *tname;
} pg_synced_tables_table_t;

typedef struct pg_synced_tables {
    pg_synced_tables_table_t *tables; /* owned, ntables entries, ordered by source name */
    int ntables;
} pg_synced_tables_t;

/* Fills *out from the source session src. Skipped and unlisted tables are
 * left out. Caller frees with pg_synced_tables_clear. */
err_t pg_synced_tables_list(PGconn *src, const config_t *cfg, pg_synced_tables_t *out, char *errbuf,
                            size_t errsize);
void pg_synced_tables_clear(pg_synced_tables_t *s);

/* The target schema of source schema `schema`: the target of a "schema.*"
 * entry for it, else the same name (borrowed). */
const char *pg_synced_tables_target_schema(const config_t *cfg, const char *schema);

#endif
