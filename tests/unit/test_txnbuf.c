/*
 * Unit tests for txnbuf, the re-assembly of Debezium transactions from
 * changes spread over topics and the END of the metadata topic: nothing is
 * ready before END and all its changes, changes come out in total_order,
 * transactions in END order, the limit refuses instead of splitting.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/txnbuf.h"

static int freed;

static void free_item(void *item)
{
    freed++;
    free(item);
}

static int *item(int v)
{
    int *p = malloc(sizeof(*p));
    *p = v;
    return p;
}

static int value(const txnbuf_txn_t *t, size_t i)
{
    return *(int *)t->items[i].item;
}

static void pop_all(txnbuf_t *tb)
{
    txnbuf_txn_t *t = txnbuf_ready(tb);
    for (size_t i = 0; i < t->n; i++)
        free(t->items[i].item);
    txnbuf_pop(tb);
}

static void test_ready_after_end_and_all_changes(void **state)
{
    (void)state;
    txnbuf_t *tb = txnbuf_new(1 << 20, free_item);
    assert_int_equal(txnbuf_add(tb, "7:100", 2, item(2), 10), TXNBUF_OK);
    assert_null(txnbuf_ready(tb));
    assert_int_equal(txnbuf_end(tb, "7:100", 3, 0, 42, 26371336), TXNBUF_OK);
    assert_null(txnbuf_ready(tb)); /* END says 3, two missing */
    assert_non_null(txnbuf_head(tb));
    assert_int_equal(txnbuf_add(tb, "7:100", 3, item(3), 10), TXNBUF_OK);
    assert_int_equal(txnbuf_add(tb, "7:100", 1, item(1), 10), TXNBUF_OK);
    txnbuf_txn_t *t = txnbuf_ready(tb);
    assert_non_null(t);
    assert_int_equal(t->n, 3);
    assert_int_equal(t->token, 42);
    assert_int_equal(t->mark, 26371336);
    assert_int_equal(value(t, 0), 1); /* total_order */
    assert_int_equal(value(t, 1), 2);
    assert_int_equal(value(t, 2), 3);
    pop_all(tb);
    assert_null(txnbuf_ready(tb));
    assert_int_equal(txnbuf_items(tb), 0);
    assert_int_equal(txnbuf_bytes(tb), 0);
    txnbuf_free(tb);
}

static void test_end_order_holds_a_complete_later_one(void **state)
{
    (void)state;
    txnbuf_t *tb = txnbuf_new(1 << 20, free_item);
    assert_int_equal(txnbuf_end(tb, "a", 2, 0, 1, 0), TXNBUF_OK);
    assert_int_equal(txnbuf_end(tb, "b", 1, 0, 2, 0), TXNBUF_OK);
    assert_int_equal(txnbuf_add(tb, "b", 1, item(20), 1), TXNBUF_OK);
    assert_int_equal(txnbuf_add(tb, "a", 1, item(10), 1), TXNBUF_OK);
    assert_null(txnbuf_ready(tb)); /* b is complete but a, ended first, is not */
    assert_string_equal(txnbuf_head(tb)->id, "a");
    assert_int_equal(txnbuf_add(tb, "a", 2, item(11), 1), TXNBUF_OK);
    assert_string_equal(txnbuf_ready(tb)->id, "a");
    pop_all(tb);
    assert_string_equal(txnbuf_ready(tb)->id, "b");
    pop_all(tb);
    txnbuf_free(tb);
}

static void test_change_without_block_is_its_own(void **state)
{
    (void)state;
    txnbuf_t *tb = txnbuf_new(1 << 20, free_item);
    assert_int_equal(txnbuf_end(tb, "a", 1, 0, 1, 0), TXNBUF_OK);
    assert_int_equal(txnbuf_add(tb, NULL, 0, item(5), 1), TXNBUF_OK);
    assert_null(txnbuf_ready(tb)); /* behind a */
    assert_int_equal(txnbuf_add(tb, "a", 1, item(1), 1), TXNBUF_OK);
    pop_all(tb);
    txnbuf_txn_t *t = txnbuf_ready(tb);
    assert_non_null(t);
    assert_null(t->id);
    assert_int_equal(value(t, 0), 5);
    pop_all(tb);
    txnbuf_free(tb);
}

static void test_empty_transaction_and_duplicate_end(void **state)
{
    (void)state;
    txnbuf_t *tb = txnbuf_new(1 << 20, free_item);
    assert_int_equal(txnbuf_end(tb, "e", 0, 0, 9, 0), TXNBUF_OK);
    assert_int_equal(txnbuf_end(tb, "e", 0, 0, 10, 0), TXNBUF_DUPLICATE);
    txnbuf_txn_t *t = txnbuf_ready(tb);
    assert_non_null(t);
    assert_int_equal(t->n, 0);
    assert_int_equal(t->token, 9);
    txnbuf_pop(tb);
    assert_null(txnbuf_head(tb));
    txnbuf_free(tb);
}

static void test_limit_refuses_never_splits(void **state)
{
    (void)state;
    txnbuf_t *tb = txnbuf_new(100, free_item);
    int *a = item(1), *b = item(2), *c = item(3);
    assert_int_equal(txnbuf_add(tb, "big", 1, a, 60), TXNBUF_OK);
    assert_int_equal(txnbuf_add(tb, "big", 2, b, 60), TXNBUF_TXN_TOO_BIG);
    assert_int_equal(txnbuf_add(tb, "other", 1, c, 60), TXNBUF_FULL);
    free(b);
    free(c);
    assert_string_equal(txnbuf_unended(tb)->id, "big");
    freed = 0;
    txnbuf_clear(tb); /* frees what it holds */
    assert_int_equal(freed, 1);
    assert_null(txnbuf_unended(tb));
    assert_int_equal(txnbuf_bytes(tb), 0);
    txnbuf_free(tb);
}

static void test_many_transactions(void **state)
{
    (void)state;
    txnbuf_t *tb = txnbuf_new(1 << 24, free_item);
    char id[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(id, sizeof(id), "%d:%d", i, i * 8);
        assert_int_equal(txnbuf_add(tb, id, 2, item(2 * i + 1), 1), TXNBUF_OK);
        assert_int_equal(txnbuf_add(tb, id, 1, item(2 * i), 1), TXNBUF_OK);
    }
    for (int i = 0; i < 10000; i++) {
        snprintf(id, sizeof(id), "%d:%d", i, i * 8);
        assert_int_equal(txnbuf_end(tb, id, 2, 0, i, 0), TXNBUF_OK);
    }
    for (int i = 0; i < 10000; i++) {
        txnbuf_txn_t *t = txnbuf_ready(tb);
        assert_non_null(t);
        assert_int_equal(t->token, i);
        assert_int_equal(value(t, 0), 2 * i);
        pop_all(tb);
    }
    assert_null(txnbuf_ready(tb));
    txnbuf_free(tb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ready_after_end_and_all_changes),
        cmocka_unit_test(test_end_order_holds_a_complete_later_one),
        cmocka_unit_test(test_change_without_block_is_its_own),
        cmocka_unit_test(test_empty_transaction_and_duplicate_end),
        cmocka_unit_test(test_limit_refuses_never_splits),
        cmocka_unit_test(test_many_transactions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
