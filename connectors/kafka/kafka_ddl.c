/*
 * kafka_ddl: replays a DDL event read from the topic through the sink's
 * ddl(), the same call `run`'s apply loop (core/stream.c) makes for the
 * logical message. The event carries the message's content untouched (the
 * event trigger's signature and body), its LSN, and its transaction's xid and
 * commit LSN, so the sink's checks (signature, transaction id, --ddl-applied)
 * are those of `run`. It does not decode or judge the command itself.
 */
#include "kafka/kafka_ddl.h"

#include <stdio.h>

#include "core/lsn.h"

err_t kafka_ddl_apply(const sink_t *snk, const event_t *ev, char *errbuf, size_t errsize)
{
    char l[LSN_STRLEN];
    if (snk->ops->ddl == NULL || !ev->has_txn) {
        snprintf(errbuf, errsize, "DDL event at lsn=%s: %s", lsn_format(ev->ddl.lsn, l, sizeof(l)),
                 !ev->has_txn ? "it names no source transaction"
                              : "this target does not follow DDL; apply it by hand");
        return ERR_SCHEMA;
    }
    sink_ddl_t d = {.json = ev->ddl.content,
                    .len = ev->ddl.len,
                    .lsn = ev->ddl.lsn,
                    .txn_lsn = ev->txn.commit_lsn,
                    .xid = ev->txn.xid};
    return snk->ops->ddl(snk->ctx, &d, errbuf, errsize);
}
