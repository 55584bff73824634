/*
 * clock: monotonic time for timeouts, intervals and latencies. Reads
 * CLOCK_MONOTONIC and nothing else: never wall-clock time, holds no state.
 */
#ifndef SYNCLINE_CLOCK_H
#define SYNCLINE_CLOCK_H

#include <stdint.h>

/* Milliseconds on the monotonic clock (truncated), for deadlines and
 * intervals. Only differences between two readings mean anything. */
int64_t clock_ms(void);

/* Seconds on the monotonic clock with nanosecond resolution, for latencies
 * below a millisecond and durations reported in seconds. Only differences
 * between two readings mean anything. */
double clock_seconds(void);

#endif
