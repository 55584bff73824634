/*
 * fallback_config: the configuration of the fallback direction after a
 * cutover (the new database streaming back into the old one): roles swapped,
 * names derived from the forward ones, the synced tables inverted. Pure.
 */
#ifndef SYNCLINE_FALLBACK_CONFIG_H
#define SYNCLINE_FALLBACK_CONFIG_H

#include <stddef.h>

#include "core/config.h"
#include "core/err.h"

/* One synced table of the forward direction: source schema.name goes to
 * target tschema.tname (borrowed strings). */
typedef struct fallback_config_pair {
    const char *schema;
    const char *name;
    const char *tschema;
    const char *tname;
} fallback_config_pair_t;

/*
 * The fallback configuration of fwd: source = fwd's target, target = fwd's
 * source; name, slot and publication are fwd's with "_fallback" appended;
 * the applying session uses the replication origin "syncline_fallback_<name>"
 * and the stream asks for changes without an origin; DDL is not followed.
 * The tables are the pairs inverted (n may be 0 for commands that only need
 * the names); an entry's "fallback" block becomes the inverted entry's columns
 * and exclude. ERR_CONFIG naming the table when a pair's entry maps columns
 * (columns, exclude, where) without a "fallback" block: its inverse is not
 * derivable. NULL with errbuf set on error; caller frees with config_free.
 */
config_t *fallback_config_new(const config_t *fwd, const fallback_config_pair_t *pairs, int n,
                              err_t *err, char *errbuf, size_t errsize);

#endif
