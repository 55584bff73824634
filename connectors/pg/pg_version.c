/*
 * pg_version: what each PostgreSQL major accepts, decided from
 * server_version_num. Pure: builds SQL text, does no I/O.
 */
#include "pg/pg_version.h"

#include <stdio.h>

const char *pg_version_major(int num, char *buf, size_t size)
{
    snprintf(buf, size, "%d", num / 10000);
    return buf;
}

int pg_version_proto(int num)
{
    if (num >= 160000)
        return 4;
    if (num >= 150000)
        return 3;
    if (num >= 140000)
        return 2;
    return 1;
}

int pg_version_has_binary(int num)
{
    return num >= 140000;
}

int pg_version_has_partition_root(int num)
{
    return num >= 130000;
}

int pg_version_has_schema_publication(int num)
{
    return num >= 150000;
}

int pg_version_has_wal_status(int num)
{
    return num >= 130000;
}

int pg_version_has_xid8(int num)
{
    return num >= 130000;
}

int pg_version_has_origin(int num)
{
    return num >= 160000;
}

int pg_version_create_slot_sql(int num, const char *slot, int export_snapshot, char *buf,
                               size_t size)
{
    int n;
    if (num >= 150000)
        n = snprintf(buf, size, "CREATE_REPLICATION_SLOT %s LOGICAL pgoutput (SNAPSHOT '%s')", slot,
                     export_snapshot ? "export" : "nothing");
    else
        n = snprintf(buf, size, "CREATE_REPLICATION_SLOT %s LOGICAL pgoutput %s", slot,
                     export_snapshot ? "EXPORT_SNAPSHOT" : "NOEXPORT_SNAPSHOT");
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

int pg_version_start_options(int num, const char *publication_literal, int binary, char *buf,
                             size_t size)
{
    if (binary && !pg_version_has_binary(num))
        return -2;
    int n = snprintf(buf, size, "proto_version '%d', publication_names %s%s", pg_version_proto(num),
                     publication_literal,
                     !pg_version_has_binary(num) ? ""
                     : binary                    ? ", binary 'true'"
                                                 : ", binary 'false'");
    return n < 0 || (size_t)n >= size ? -1 : 0;
}
