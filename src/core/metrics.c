/*
 * metrics: counters, gauges and histograms behind one mutex, rendered in the
 * Prometheus text format. Labelled series (changes per table and operation,
 * errors per kind) live in small arrays searched linearly: there are as many
 * as tables times four, and the last hit is tried first.
 */
#include "core/metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_NBUCKETS 8

static const double metrics_rows_buckets[METRICS_NBUCKETS] = {1,    10,    100,    1000,
                                                              5000, 10000, 100000, 1000000};
static const double metrics_seconds_buckets[METRICS_NBUCKETS] = {0.001, 0.005, 0.01, 0.05,
                                                                 0.1,   0.5,   1,    5};

typedef struct metrics_hist {
    uint64_t buckets[METRICS_NBUCKETS]; /* not cumulative; summed when rendered */
    uint64_t count;
    double sum;
} metrics_hist_t;

typedef struct metrics_series {
    char *label; /* rendered label set, e.g. table="public.t",op="insert" */
    uint64_t value;
} metrics_series_t;

typedef struct metrics_family {
    metrics_series_t *v;
    int n, cap;
    int last; /* index of the last hit */
} metrics_family_t;

struct metrics {
    pthread_mutex_t lock;
    uint64_t transactions, batches, copy_rows;
    lsn_t applied;
    uint64_t lag_bytes;
    double verify_full_unix_s; /* 0: never */
    long long verify_dirty;    /* -1: no verify yet */
    double lag_seconds;
    metrics_hist_t batch_rows, apply_seconds;
    metrics_family_t changes, errors;
};

metrics_t *metrics_new(void)
{
    metrics_t *m = calloc(1, sizeof(*m));
    if (m != NULL && pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        return NULL;
    }
    if (m != NULL)
        m->verify_dirty = -1;
    return m;
}

static void metrics_family_clear(metrics_family_t *f)
{
    for (int i = 0; i < f->n; i++)
        free(f->v[i].label);
    free(f->v);
}

void metrics_free(metrics_t *m)
{
    if (m == NULL)
        return;
    metrics_family_clear(&m->changes);
    metrics_family_clear(&m->errors);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* Copies s into out as a label value: \\, \" and \n escaped. */
static void metrics_escape(const char *s, char *out, size_t size)
{
    size_t o = 0;
    for (; *s != '\0' && o + 3 < size; s++) {
        if (*s == '\\' || *s == '"' || *s == '\n') {
            out[o++] = '\\';
            out[o++] = *s == '\n' ? 'n' : *s;
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
}

/* Adds 1 to the series `label` of f, creating it. Called with the lock held. */
static void metrics_family_inc(metrics_family_t *f, const char *label)
{
    if (f->last < f->n && strcmp(f->v[f->last].label, label) == 0) {
        f->v[f->last].value++;
        return;
    }
    for (int i = 0; i < f->n; i++) {
        if (strcmp(f->v[i].label, label) == 0) {
            f->v[i].value++;
            f->last = i;
            return;
        }
    }
    if (f->n == f->cap) {
        int cap = f->cap ? f->cap * 2 : 16;
        metrics_series_t *v = realloc(f->v, (size_t)cap * sizeof(*v));
        if (v == NULL)
            return; /* a lost sample beats a failed apply */
        f->v = v;
        f->cap = cap;
    }
    char *copy = strdup(label);
    if (copy == NULL)
        return;
    f->v[f->n] = (metrics_series_t){.label = copy, .value = 1};
    f->last = f->n++;
}

static const char *metrics_op_name(char op)
{
    switch (op) {
    case 'I':
        return "insert";
    case 'U':
        return "update";
    case 'D':
        return "delete";
    case 'T':
        return "truncate";
    }
    return "other";
}

void metrics_change(metrics_t *m, const char *schema, const char *table, char op)
{
    char s[256], t[256], label[640];
    metrics_escape(schema, s, sizeof(s));
    metrics_escape(table, t, sizeof(t));
    snprintf(label, sizeof(label), "table=\"%s.%s\",op=\"%s\"", s, t, metrics_op_name(op));
    pthread_mutex_lock(&m->lock);
    metrics_family_inc(&m->changes, label);
    pthread_mutex_unlock(&m->lock);
}

void metrics_error(metrics_t *m, const char *kind)
{
    char k[64], label[96];
    metrics_escape(kind, k, sizeof(k));
    snprintf(label, sizeof(label), "kind=\"%s\"", k);
    pthread_mutex_lock(&m->lock);
    metrics_family_inc(&m->errors, label);
    pthread_mutex_unlock(&m->lock);
}

void metrics_transaction(metrics_t *m)
{
    pthread_mutex_lock(&m->lock);
    m->transactions++;
    pthread_mutex_unlock(&m->lock);
}

static void metrics_hist_observe(metrics_hist_t *h, const double *bounds, double v)
{
    for (int i = 0; i < METRICS_NBUCKETS; i++) {
        if (v <= bounds[i]) {
            h->buckets[i]++;
            break;
        }
    }
    h->count++;
    h->sum += v;
}

void metrics_batch(metrics_t *m, uint64_t rows, double seconds)
{
    pthread_mutex_lock(&m->lock);
    m->batches++;
    metrics_hist_observe(&m->batch_rows, metrics_rows_buckets, (double)rows);
    metrics_hist_observe(&m->apply_seconds, metrics_seconds_buckets, seconds);
    pthread_mutex_unlock(&m->lock);
}

void metrics_position(metrics_t *m, lsn_t applied, uint64_t lag_bytes, double lag_seconds)
{
    pthread_mutex_lock(&m->lock);
    m->applied = applied;
    m->lag_bytes = lag_bytes;
    m->lag_seconds = lag_seconds < 0 ? 0 : lag_seconds;
    pthread_mutex_unlock(&m->lock);
}

void metrics_copy_rows(metrics_t *m, uint64_t rows)
{
    pthread_mutex_lock(&m->lock);
    m->copy_rows += rows;
    pthread_mutex_unlock(&m->lock);
}

void metrics_verify(metrics_t *m, double full_unix_s, long long dirty)
{
    pthread_mutex_lock(&m->lock);
    m->verify_full_unix_s = full_unix_s;
    m->verify_dirty = dirty;
    pthread_mutex_unlock(&m->lock);
}

static void metrics_head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void metrics_render_family(FILE *f, const char *name, const char *type, const char *help,
                                  const metrics_family_t *fam)
{
    metrics_head(f, name, type, help);
    for (int i = 0; i < fam->n; i++)
        fprintf(f, "%s{%s} %llu\n", name, fam->v[i].label, (unsigned long long)fam->v[i].value);
}

static void metrics_render_hist(FILE *f, const char *name, const char *help,
                                const metrics_hist_t *h, const double *bounds)
{
    uint64_t cumulative = 0;
    metrics_head(f, name, "histogram", help);
    for (int i = 0; i < METRICS_NBUCKETS; i++) {
        cumulative += h->buckets[i];
        fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], (unsigned long long)cumulative);
    }
    fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)h->count);
    fprintf(f, "%s_sum %.6f\n%s_count %llu\n", name, h->sum, name, (unsigned long long)h->count);
}

static void metrics_render_scalar(FILE *f, const char *name, const char *type, const char *help,
                                  double v)
{
    metrics_head(f, name, type, help);
    fprintf(f, "%s %.17g\n", name, v);
}

char *metrics_render(metrics_t *m)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        return NULL;
    pthread_mutex_lock(&m->lock);
    metrics_render_scalar(f, "syncline_lag_bytes", "gauge",
                          "WAL bytes received from the source but not applied yet",
                          (double)m->lag_bytes);
    metrics_render_scalar(f, "syncline_lag_seconds", "gauge",
                          "Age of the newest applied source commit when it was applied; 0 idle",
                          m->lag_seconds);
    metrics_render_scalar(f, "syncline_applied_lsn", "gauge",
                          "Source LSN applied on the target, as a number", (double)m->applied);
    metrics_render_scalar(f, "syncline_transactions_total", "counter",
                          "Source transactions applied", (double)m->transactions);
    metrics_render_family(f, "syncline_changes_total", "counter",
                          "Row changes applied per source table and operation", &m->changes);
    metrics_render_scalar(f, "syncline_batches_total", "counter", "Target transactions committed",
                          (double)m->batches);
    metrics_render_hist(f, "syncline_batch_rows", "Source rows per target transaction",
                        &m->batch_rows, metrics_rows_buckets);
    metrics_render_hist(f, "syncline_apply_seconds",
                        "Commit latency of a target transaction in seconds", &m->apply_seconds,
                        metrics_seconds_buckets);
    metrics_render_scalar(f, "syncline_copy_rows_total", "counter",
                          "Rows written by the initial copy", (double)m->copy_rows);
    metrics_render_family(f, "syncline_errors_total", "counter", "Errors by kind", &m->errors);
    metrics_render_scalar(f, "syncline_verify_last_full_timestamp_seconds", "gauge",
                          "When the last full verify ended (Unix time; 0: never)",
                          m->verify_full_unix_s);
    metrics_render_scalar(f, "syncline_verify_dirty_ranges", "gauge",
                          "Key ranges changed since the last verify (-1: no verify yet)",
                          (double)m->verify_dirty);
    pthread_mutex_unlock(&m->lock);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
