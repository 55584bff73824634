/*
 * copy_progress: turns sampled copy counters into the terminal bar, per
 * table lines and log lines. Pure formatting; the caller owns timing,
 * sampling and where the text goes.
 */
#include "core/copy_progress.h"

#include <stdio.h>

double copy_progress_eta(uint64_t done, uint64_t total, double seconds)
{
    if (done == 0 || seconds <= 0.0 || done >= total)
        return -1.0;
    double rate = (double)done / seconds;
    return (double)(total - done) / rate;
}

int copy_progress_percent(uint64_t done, uint64_t total)
{
    if (total == 0)
        return 100;
    if (done >= total)
        return 99;
    return (int)((double)done * 100.0 / (double)total);
}

void copy_progress_size(uint64_t bytes, char *buf, size_t size)
{
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, size, "%llu B", (unsigned long long)bytes);
    else
        snprintf(buf, size, "%.1f %s", v, units[u]);
}

void copy_progress_duration(double seconds, char *buf, size_t size)
{
    if (seconds < 0.0) {
        snprintf(buf, size, "?");
        return;
    }
    long s = (long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, size, "%ld:%02ld", s / 60, s % 60);
}

static double copy_progress_rate_mb(uint64_t bytes, double seconds)
{
    return seconds > 0.0 ? (double)bytes / 1048576.0 / seconds : 0.0;
}

void copy_progress_bar(const copy_progress_t *p, int width, char *buf, size_t size)
{
    char done[32], total[32], eta[32], cells[130];
    int pct =
        p->tables_done == p->tables_total ? 100 : copy_progress_percent(p->bytes, p->est_bytes);
    if (width > (int)sizeof(cells) - 1)
        width = (int)sizeof(cells) - 1;
    int fill = width * pct / 100;
    for (int i = 0; i < width; i++)
        cells[i] = i < fill ? '#' : '.';
    cells[width > 0 ? width : 0] = '\0';
    copy_progress_size(p->bytes, done, sizeof(done));
    copy_progress_size(p->est_bytes, total, sizeof(total));
    copy_progress_duration(copy_progress_eta(p->bytes, p->est_bytes, p->seconds), eta, sizeof(eta));
    snprintf(buf, size, "[%s] %3d%%  %s/%s  %.1f MB/s  ETA %s  tables %d/%d  rows %llu", cells, pct,
             done, total, copy_progress_rate_mb(p->bytes, p->seconds), eta, p->tables_done,
             p->tables_total, (unsigned long long)p->rows);
}

void copy_progress_table_line(const copy_progress_table_t *t, char *buf, size_t size)
{
    char done[32], total[32], eta[32];
    copy_progress_size(t->bytes, done, sizeof(done));
    copy_progress_size(t->est_bytes, total, sizeof(total));
    copy_progress_duration(copy_progress_eta(t->bytes, t->est_bytes, t->seconds), eta, sizeof(eta));
    snprintf(buf, size, "  %s  %llu rows  %s/%s  %.1f MB/s  ETA %s", t->name,
             (unsigned long long)t->rows, done, total, copy_progress_rate_mb(t->bytes, t->seconds),
             eta);
}

void copy_progress_log_line(const copy_progress_t *p, char *buf, size_t size)
{
    double eta = copy_progress_eta(p->bytes, p->est_bytes, p->seconds);
    snprintf(buf, size,
             "copy progress tables=%d/%d rows=%llu mb=%.1f total_mb=%.1f pct=%d rate_mb_s=%.1f "
             "eta_s=%.0f",
             p->tables_done, p->tables_total, (unsigned long long)p->rows,
             (double)p->bytes / 1048576.0, (double)p->est_bytes / 1048576.0,
             copy_progress_percent(p->bytes, p->est_bytes),
             copy_progress_rate_mb(p->bytes, p->seconds), eta);
}
