/*
 * route: where a source table goes. Applies the "tables" entries of the
 * configuration (exact entries, then schema patterns, then skip) to a source
 * schema and name. No I/O.
 */
#ifndef SYNCLINE_ROUTE_H
#define SYNCLINE_ROUTE_H

#include "core/config.h"

typedef enum route_result {
    ROUTE_SYNC,     /* *tschema.*tname receives the table */
    ROUTE_SKIP,     /* configured "skip": ignore its changes */
    ROUTE_UNLISTED, /* a tables list exists and does not mention it */
} route_result_t;

/* *tschema and *tname point into cfg or at schema/name (borrowed). */
route_result_t route_target(const config_t *cfg, const char *schema, const char *name,
                            const char **tschema, const char **tname);

#endif
