/*
 * Unit tests for kafka_sink against librdkafka's in-process mock cluster:
 * commit returns only after the broker acknowledged the batch, commit_async
 * batches become durable only once acknowledged and in order, and a
 * delivery failure (produce error, broker down) fails the batch so nothing
 * is confirmed; a message refused as too large is named with both limits.
 * No real broker needed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "core/config.h"
#include "kafka/kafka_sink.h"

#define TOPIC "mock.changes"
#define PRODUCE_API_KEY 0

typedef struct fixture {
    rd_kafka_t *rk; /* owns the mock cluster */
    rd_kafka_mock_cluster_t *mc;
    config_t *cfg;
    kafka_sink_t *ks;
    volatile sig_atomic_t stop;
} fixture_t;

static change_column_t cols[] = {{.name = "id", .type_oid = 23, .typmod = -1, .is_key = true}};
static change_relation_t rel = {
    .relid = 1, .nspname = "public", .relname = "t", .replident = 'd', .ncols = 1, .cols = cols};

static int setup(void **state)
{
    static fixture_t f;
    char err[512];
    memset(&f, 0, sizeof(f));
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err));
    f.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    assert_non_null(f.rk);
    f.mc = rd_kafka_mock_cluster_new(f.rk, 1);
    assert_non_null(f.mc);
    assert_int_equal(rd_kafka_mock_topic_create(f.mc, TOPIC, 1, 1), 0);
    char json[1024];
    snprintf(json, sizeof(json),
             "{\"name\": \"mock\", \"source\": {\"conninfo\": \"host=none\"}, \"target\": "
             "{\"conninfo\": \"host=none\"}, \"kafka\": {\"brokers\": \"%s\", \"topic\": \"" TOPIC
             "\", "
             "\"format\": \"json\", \"properties\": {\"message.timeout.ms\": \"3000\", "
             "\"log_level\": \"0\"}}}",
             rd_kafka_mock_cluster_bootstraps(f.mc));
    config_err_t cerr;
    f.cfg = config_load_string(json, &cerr, err, sizeof(err));
    if (f.cfg == NULL)
        fail_msg("config: %s", err);
    kafka_sink_opts_t opts = {.partitions = 1, .stop = &f.stop};
    err_t e;
    f.ks = kafka_sink_new(f.cfg, &opts, &e, err, sizeof(err));
    if (f.ks == NULL)
        fail_msg("kafka_sink_new: %s", err);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    kafka_sink_free(f->ks);
    config_free(f->cfg);
    rd_kafka_mock_cluster_destroy(f->mc);
    rd_kafka_destroy(f->rk);
    return 0;
}

/* One batch of n inserts; returns what commit returned. */
static err_t batch(fixture_t *f, int n, char *err, size_t errsize)
{
    sink_t snk = kafka_sink_sink(f->ks);
    change_value_t v = {.kind = CHANGE_TEXT, .len = 1, .data = "7"};
    change_tuple_t t = {1, &v};
    change_row_t row = {.op = CHANGE_INSERT, .rel = &rel, .new_tuple = &t, .lsn = 0x100};
    assert_int_equal(snk.ops->begin(snk.ctx, err, errsize), ERR_OK);
    for (int i = 0; i < n; i++)
        assert_int_equal(snk.ops->row(snk.ctx, &row, err, errsize), ERR_OK);
    sink_position_t pos = {.end_lsn = 0x200};
    return snk.ops->commit(snk.ctx, &pos, err, errsize);
}

static void test_commit_waits_for_acks(void **state)
{
    char err[512];
    err_t e = batch(*state, 100, err, sizeof(err));
    if (e != ERR_OK)
        fail_msg("commit: %s", err);
}

static void test_produce_error_fails_batch(void **state)
{
    fixture_t *f = *state;
    char err[512] = "";
    rd_kafka_mock_push_request_errors(f->mc, PRODUCE_API_KEY, 1,
                                      RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    err_t e = batch(f, 10, err, sizeof(err));
    assert_int_not_equal(e, ERR_OK);
    if (strstr(err, "delivery failed") == NULL || strstr(err, "topic=" TOPIC) == NULL ||
        strstr(err, "lsn=0/200") == NULL)
        fail_msg("unexpected error text: %s", err);
}

/* A message the broker refuses as too large: the error names the table, the
 * message size and the two limits to raise. */
static void test_too_large_names_limits(void **state)
{
    fixture_t *f = *state;
    char err[2048] = "";
    rd_kafka_mock_push_request_errors(f->mc, PRODUCE_API_KEY, 1,
                                      RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    err_t e = batch(f, 1, err, sizeof(err));
    assert_int_not_equal(e, ERR_OK);
    static const char *const want[] = {"delivery failed", "table=public.t",
                                       "size=", "topic's max.message.bytes",
                                       "producer's message.max.bytes"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (strstr(err, want[i]) == NULL)
            fail_msg("no \"%s\" in: %s", want[i], err);
    }
}

static void test_broker_down_fails_batch(void **state)
{
    fixture_t *f = *state;
    char err[512] = "";
    rd_kafka_mock_broker_set_down(f->mc, 1);
    err_t e = batch(f, 5, err, sizeof(err));
    rd_kafka_mock_broker_set_up(f->mc, 1);
    assert_int_equal(e, ERR_CONNECT); /* retryable: capture starts a new session */
    assert_non_null(strstr(err, "delivery failed"));
}

/* Rows of one batch, ended with commit_async at end_lsn. */
static void batch_async(fixture_t *f, int n, lsn_t end_lsn)
{
    char err[512];
    sink_t snk = kafka_sink_sink(f->ks);
    change_value_t v = {.kind = CHANGE_TEXT, .len = 1, .data = "7"};
    change_tuple_t t = {1, &v};
    change_row_t row = {.op = CHANGE_INSERT, .rel = &rel, .new_tuple = &t, .lsn = end_lsn};
    assert_int_equal(snk.ops->begin(snk.ctx, err, sizeof(err)), ERR_OK);
    for (int i = 0; i < n; i++)
        assert_int_equal(snk.ops->row(snk.ctx, &row, err, sizeof(err)), ERR_OK);
    sink_position_t pos = {.end_lsn = end_lsn};
    if (snk.ops->commit_async(snk.ctx, &pos, err, sizeof(err)) != ERR_OK)
        fail_msg("commit_async: %s", err);
}

static void test_async_durable_in_order(void **state)
{
    fixture_t *f = *state;
    char err[512];
    sink_t snk = kafka_sink_sink(f->ks);
    batch_async(f, 50, 0x200);
    batch_async(f, 50, 0x300);
    lsn_t seen = 0;
    for (int i = 0; i < 500 && seen != 0x300; i++) {
        lsn_t d = 0;
        if (snk.ops->durable(snk.ctx, &d, err, sizeof(err)) != ERR_OK)
            fail_msg("durable: %s", err);
        assert_true(d == 0 || d == 0x200 || d == 0x300);
        assert_true(d >= seen);
        seen = d;
        if (seen != 0x300)
            rd_kafka_poll(f->rk, 10);
    }
    assert_true(seen == 0x300);
    assert_int_equal(snk.ops->drain(snk.ctx, err, sizeof(err)), ERR_OK);
}

/* Broker down: the batch never becomes durable; its delivery failure shows. */
static void test_async_broker_down(void **state)
{
    fixture_t *f = *state;
    char err[512] = "";
    sink_t snk = kafka_sink_sink(f->ks);
    rd_kafka_mock_broker_set_down(f->mc, 1);
    batch_async(f, 5, 0x200);
    err_t e = ERR_OK;
    for (int i = 0; i < 1500 && e == ERR_OK; i++) {
        lsn_t d = 0;
        e = snk.ops->durable(snk.ctx, &d, err, sizeof(err));
        if (e == ERR_OK)
            assert_true(d == 0);
        rd_kafka_poll(f->rk, 10);
    }
    rd_kafka_mock_broker_set_up(f->mc, 1);
    assert_int_equal(e, ERR_CONNECT);
    assert_non_null(strstr(err, "delivery failed"));
}

/* CPU seconds this process used so far (all threads). */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * While a produce request is out, the producer sleeps until the broker
 * answers. librdkafka 2.0's idempotent producer counted messages against its
 * 5 requests in flight: with a request of 5 or more messages out it sent
 * nothing more, yet woke its broker thread at once, again and again, until
 * the answer came (a core's worth of CPU per waiting capture, taken from the
 * broker and the databases on a small machine).
 */
static void test_waiting_for_the_broker_is_idle(void **state)
{
    fixture_t *f = *state;
    char err[512];
    rd_kafka_mock_broker_set_rtt(f->mc, 1, 1500);
    batch_async(f, 10, 0x200); /* goes out after linger.ms; answered in 1.5 s */
    struct timespec pause = {0, 100 * 1000000L};
    nanosleep(&pause, NULL);
    batch_async(f, 10, 0x300); /* waits for that answer */
    double before = cpu_seconds();
    struct timespec wait = {1, 0};
    nanosleep(&wait, NULL);
    double used = cpu_seconds() - before;
    rd_kafka_mock_broker_set_rtt(f->mc, 1, 0);
    sink_t snk = kafka_sink_sink(f->ks);
    assert_int_equal(snk.ops->drain(snk.ctx, err, sizeof(err)), ERR_OK);
    if (used > 0.15)
        fail_msg("%.3f CPU s used in 1 s of waiting for the broker", used);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commit_waits_for_acks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_produce_error_fails_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_large_names_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_down_fails_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_durable_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_broker_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_waiting_for_the_broker_is_idle, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
