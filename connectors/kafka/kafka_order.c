/*
 * kafka_order: the partition of a key and the per-partition chain of source
 * transactions (see kafka_order.h).
 */
#include "kafka/kafka_order.h"

int32_t kafka_order_partition(rd_kafka_topic_t *rkt, int partitions, const char *key, size_t keylen)
{
    if (key == NULL || partitions <= 1)
        return 0;
    return rd_kafka_msg_partitioner_murmur2(rkt, key, keylen, partitions, NULL, NULL);
}

lsn_t kafka_order_step(kafka_order_chain_t *c, lsn_t commit_lsn)
{
    if (c->last != commit_lsn) {
        c->prev = c->last;
        c->last = commit_lsn;
    }
    return c->prev;
}
