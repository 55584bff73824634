/*
 * config: loads and validates the JSON configuration file (jansson) into one
 * config_t passed explicitly everywhere. One property table drives parsing,
 * validation, defaults and the documentation; no I/O beyond reading the file.
 */
#ifndef SYNCLINE_CONFIG_H
#define SYNCLINE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum config_err {
    CONFIG_OK = 0,
    CONFIG_ERR_IO,      /* file missing or unreadable */
    CONFIG_ERR_PARSE,   /* not JSON */
    CONFIG_ERR_INVALID, /* JSON, but wrong keys, types or values */
    CONFIG_ERR_NOMEM,
} config_err_t;

/* A qualified name split into schema and relation, both unquoted. */
typedef struct config_qname {
    char *schema; /* owned; "public" when the name had no schema */
    char *name;   /* owned; "*" for the pattern form "schema.*" */
} config_qname_t;

/* One target column fed by a PostgreSQL expression over source columns. */
typedef struct config_column_map {
    char *target_column; /* owned */
    char *expression;    /* owned */
} config_column_map_t;

/* "ddl": what to do with a DDL command captured on the source (docs/ddl.md). */
typedef enum config_ddl {
    CONFIG_DDL_UNSET = 0, /* not in the file: the global one, else apply */
    CONFIG_DDL_APPLY,     /* run it on the target at its place in the stream */
    CONFIG_DDL_STOP,      /* stop before it, naming it */
    CONFIG_DDL_IGNORE,    /* carry on without it */
} config_ddl_t;

/* One entry of "tables". */
typedef struct config_table {
    config_qname_t source;
    config_qname_t target; /* same as source when "target" is absent */
    bool skip;
    config_column_map_t *columns; /* owned, ncolumns entries, file order */
    int ncolumns;
    char **exclude; /* owned */
    int nexclude;
    char *where;      /* owned, NULL when absent */
    config_ddl_t ddl; /* CONFIG_DDL_UNSET: the global "ddl" */
    /* "fallback": the inverse mapping (columns, exclude; source/target unset)
     * for syncline fallback, from the target table back to the source; owned,
     * NULL when absent */
    struct config_table *fallback;
    char **keep; /* in a "fallback" block: source columns left as they are; owned */
    int nkeep;
} config_table_t;

typedef struct config_kafka {
    char *brokers;         /* owned, NULL when the "kafka" block is absent */
    char *topic;           /* default "syncline.<name>" */
    char *format;          /* "avro" (default) or "json" */
    char *partitioning;    /* "none" (default), "table", "key" */
    char *layout;          /* "syncline" (default) or "debezium" */
    char *topic_prefix;    /* layout debezium: default "<name>" */
    char *topics;          /* apply, layout debezium: "a,b" or a pattern "^..."; NULL: default */
    int max_txn_mb;        /* apply, layout debezium: kafka.max_transaction_mb (default 512) */
    char *schema_registry; /* NULL when absent */
    char **property_keys;  /* owned, passed verbatim to librdkafka */
    char **property_values;
    int nproperties;
} config_kafka_t;

typedef struct config {
    char *name; /* [a-z0-9_]+ */

    char *source_conninfo; /* SYNCLINE_SOURCE overrides the file */
    char *publication;     /* default "syncline_<name>" */
    char *slot;            /* default "syncline_<name>" */

    char *target_conninfo; /* SYNCLINE_TARGET overrides the file */

    bool has_tables; /* false: every ordinary user table, same names */
    config_table_t *tables;
    int ntables;

    /* apply */
    int batch_rows;           /* max source rows per target transaction (default 10000) */
    int batch_ms;             /* max age of an open target transaction (default 200) */
    int status_interval_ms;   /* standby status period (default 10000) */
    int target_timeout_s;     /* silence while waiting for the target: stalled (120, 0 = off) */
    bool binary;              /* request binary values from pgoutput (default false) */
    bool on_missing_row_skip; /* "on_missing_row": "error" (default) or "skip" */
    bool collapse;            /* merge changes per row in a target transaction (default true) */
    int large_value_mb;       /* a value this large is staged by COPY in pieces (16, 0 = off) */

    /* snapshot */
    int snapshot_workers;        /* default: number of online CPUs */
    int snapshot_chunk_mb;       /* heap MB per ctid range of a split table (default 128) */
    bool snapshot_defer_indexes; /* drop secondary indexes for the copy, rebuild after */

    config_kafka_t kafka;

    config_ddl_t ddl; /* "ddl"; CONFIG_DDL_UNSET when absent (means apply) */

    /* the fallback direction's (fallback_config.h); never read from the file */
    char apply_origin[128]; /* replication origin of the applying session, "" for none */
    bool origin_none;       /* stream only changes that have no origin (16 and newer) */

    /* set by the command line, never read from the file: marks this process's
     * target sessions (connectors/pg/pg_reap.h); {0, 0} = unmarked */
    int32_t session_key[2];
} config_t;

/*
 * Reads and validates the file at path. Returns NULL on error with the kind in
 * *err and a message naming the key (e.g. "tables[2].source: expected a string")
 * in errbuf. The environment variables SYNCLINE_SOURCE and SYNCLINE_TARGET,
 * when set, replace the conninfo strings. Caller frees with config_free.
 */
config_t *config_load(const char *path, config_err_t *err, char *errbuf, size_t errsize);

/* The same from a string already in memory (used by tests and fuzzers). */
config_t *config_load_string(const char *json, config_err_t *err, char *errbuf, size_t errsize);

/* target.conninfo is optional in the file because `capture` needs none; every
 * command that opens the target checks it here: 0, or -1 with errbuf naming
 * the key (a configuration error). */
int config_require_target(const config_t *cfg, char *errbuf, size_t errsize);

/* Frees cfg and everything it owns. NULL is fine. */
void config_free(config_t *cfg);

/*
 * Splits "schema.name" or "name" (double quotes allowed around either part,
 * "" inside quotes is a literal quote) into *out. Returns false on malformed
 * input. Caller frees out->schema and out->name.
 */
bool config_parse_qname(const char *s, config_qname_t *out);

/* Returns the tables entry whose source matches schema.name (exact entries
 * first, then "schema.*" patterns), or NULL. */
const config_table_t *config_find_table(const config_t *cfg, const char *schema, const char *name);

/* The DDL mode in force for a table entry (NULL: the global one): never UNSET. */
config_ddl_t config_ddl_mode(const config_t *cfg, const config_table_t *t);

/* Does the configuration follow DDL anywhere (some mode, global or a table's,
 * is not ignore)? */
int config_ddl_followed(const config_t *cfg);

/* "apply", "stop" or "ignore". */
const char *config_ddl_name(config_ddl_t mode);

#endif
