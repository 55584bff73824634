/*
 * copy_progress: formats the initial copy's progress (terminal bar, table
 * lines, key=value log lines) from counters the caller samples. Pure: no I/O,
 * no clock, no database.
 */
#ifndef SYNCLINE_COPY_PROGRESS_H
#define SYNCLINE_COPY_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

/* One table as sampled by the copy's main thread. */
typedef struct copy_progress_table {
    const char *name;   /* "schema.table", borrowed */
    uint64_t rows;      /* rows copied so far */
    uint64_t bytes;     /* COPY stream bytes so far */
    uint64_t est_bytes; /* on-disk size of the source table (an estimate of the stream) */
    double seconds;     /* since its first work item started */
} copy_progress_table_t;

/* The whole copy. */
typedef struct copy_progress {
    uint64_t rows, bytes, est_bytes;
    int tables_done, tables_total;
    double seconds; /* since the copy started */
} copy_progress_t;

/* Seconds left at the average rate so far; -1 when unknown (no rate yet, or
 * the estimate was already passed). */
double copy_progress_eta(uint64_t done, uint64_t total, double seconds);

/* Percent done from bytes, 0-99 until done == total (estimates are rough); 100 when
 * total is 0. */
int copy_progress_percent(uint64_t done, uint64_t total);

/* "[#######.............]  35%  1.2 GB/3.4 GB  85.0 MB/s  ETA 0:27  tables 3/9  rows 1234567",
 * the bar `width` cells wide. Always NUL-terminates buf. */
void copy_progress_bar(const copy_progress_t *p, int width, char *buf, size_t size);

/* "  public.accounts  1234567 rows  12.0 MB/40.0 MB  8.1 MB/s  ETA 0:03" */
void copy_progress_table_line(const copy_progress_table_t *t, char *buf, size_t size);

/* "copy progress tables=3/9 rows=.. mb=12.0 total_mb=40.0 pct=30 rate_mb_s=8.1 eta_s=3" */
void copy_progress_log_line(const copy_progress_t *p, char *buf, size_t size);

/* "1.2 GB", "512.0 kB", "17 B": a human size. */
void copy_progress_size(uint64_t bytes, char *buf, size_t size);

/* "0:27", "1:02:03", "?" when eta < 0. */
void copy_progress_duration(double seconds, char *buf, size_t size);

#endif
