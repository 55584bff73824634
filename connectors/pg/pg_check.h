/*
 * pg_check: validates the configuration against both live schemas without
 * changing anything. Each source table is described from the catalog exactly
 * as a pgoutput Relation message would describe it and handed to the
 * target's own relation check, so `check` and the stream judge alike.
 */
#ifndef SYNCLINE_PG_CHECK_H
#define SYNCLINE_PG_CHECK_H

#include <stddef.h>

#include "core/config.h"
#include "core/err.h"

/* Called once per finding with a one-line message naming table and column.
 * A warning does not make the configuration fail (it may hold in practice). */
typedef void (*pg_check_report_fn)(void *arg, int warning, const char *message);

/*
 * Checks every table the configuration syncs. *problems counts the findings
 * that are not warnings; *tables counts the tables checked. Returns ERR_OK when the check
 * could run (problems or not), else the connection or runtime error.
 */
err_t pg_check_run(const config_t *cfg, pg_check_report_fn report, void *arg, int *problems,
                   int *tables, char *errbuf, size_t errsize);

#endif
