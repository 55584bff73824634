/*
 * pg_offsets: reads the Kafka consumer offsets stored in the target. Does not
 * write them: that is pg_target's, inside the applied batch's transaction.
 */
#include "pg/pg_offsets.h"

#include <stdio.h>
#include <stdlib.h>

#include "pg/pg_conn.h"

err_t pg_offsets_read(PGconn *conn, const char *name, const char *topic, sink_offset_t **offsets,
                      int *n, char *errbuf, size_t errsize)
{
    const char *params[2] = {name, topic};
    *offsets = NULL;
    *n = 0;
    PGresult *res = pg_conn_execp(
        conn,
        "SELECT o.partition, o.next_offset FROM (SELECT to_regclass('syncline.kafka_offsets') "
        "AS t) r JOIN LATERAL (SELECT partition, next_offset FROM syncline.kafka_offsets WHERE "
        "r.t IS NOT NULL AND name = $1 AND topic = $2) o ON true ORDER BY 1",
        2, params, PGRES_TUPLES_OK, "target: read kafka offsets", errbuf, errsize);
    if (res == NULL)
        return pg_conn_classify(conn);
    int rows = PQntuples(res);
    *offsets = calloc((size_t)rows + 1, sizeof(**offsets));
    if (*offsets == NULL) {
        PQclear(res);
        snprintf(errbuf, errsize, "out of memory");
        return ERR_RUNTIME;
    }
    for (int i = 0; i < rows; i++) {
        (*offsets)[i].topic = topic;
        (*offsets)[i].partition = (int32_t)strtol(PQgetvalue(res, i, 0), NULL, 10);
        (*offsets)[i].next_offset = strtoll(PQgetvalue(res, i, 1), NULL, 10);
    }
    *n = rows;
    PQclear(res);
    return ERR_OK;
}
