/*
 * pg_seq: carries sequence positions from the source to the target (logical
 * decoding does not replicate them). Never lowers a target sequence. Sequences
 * owned by a synced table column go to the target column's sequence; others
 * keep their name in the mapped schema.
 */
#ifndef SYNCLINE_PG_SEQ_H
#define SYNCLINE_PG_SEQ_H

#include <stddef.h>

#include "core/config.h"
#include "core/err.h"

typedef enum pg_seq_action {
    PG_SEQ_RAISED,    /* target set to the source's position */
    PG_SEQ_UNCHANGED, /* target already at or past the source */
    PG_SEQ_MISSING,   /* no target sequence */
} pg_seq_action_t;

/* What happened to one sequence; strings are borrowed for the callback. */
typedef struct pg_seq_result {
    const char *source; /* "schema.name" */
    const char *target; /* "schema.name", or "" when missing */
    pg_seq_action_t action;
    long long source_value; /* last_value on the source */
    int source_called;      /* is_called on the source */
    long long target_before;
} pg_seq_result_t;

typedef struct pg_seq_stats {
    int raised;
    int unchanged;
    int missing;
} pg_seq_stats_t;

/*
 * For every source sequence in a schema of a synced table: reads the source's
 * last_value and is_called and, when the target's next value would be lower,
 * calls setval(target, last_value, is_called) on it. report(arg, r) is called
 * per sequence (may be NULL). A missing target sequence is reported and
 * counted, not an error; the caller decides.
 */
err_t pg_seq_sync(const config_t *cfg, void (*report)(void *arg, const pg_seq_result_t *r),
                  void *arg, pg_seq_stats_t *stats, char *errbuf, size_t errsize);

#endif
