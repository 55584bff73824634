/*
 * config: loads the JSON configuration file (jansson) into one validated config_t with
 * every default applied. Property tables drive parsing, validation and defaults; no I/O
 * beyond reading the file, and no error message ever echoes a string value from it.
 */
#include "core/config.h"

#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Design. Each JSON object the file may contain is described by a static table of
 * prop_t: its dotted path (relative to the object the table describes), type, field
 * offset, default, range and doc string. One generic pass first rejects keys that no
 * table row names (so a typo such as "apply.batch_row" is an error, not a silent
 * default), then walks the rows in order to parse, validate and default each value.
 * The two arrays ("tables" and "kafka.properties") and the per-table "columns" and
 * "exclude" are PROP_CUSTOM rows with their own small parser; each "tables" entry is
 * in turn described by its own table and goes through the same generic pass. The doc
 * strings are the source of schemas/config.schema.json's descriptions; the unit test
 * checks that the schema's defaults are the ones the loader applies.
 *
 * Error messages name the path and never quote a string value: conninfo strings may
 * hold passwords, and a message must be safe to log. For the same reason jansson's
 * syntax errors lose their "near '<token>'" suffix, which can quote a conninfo.
 */

#define CONFIG_MAX_STRING 65536 /* bytes; anything longer is hostile or a mistake */
#define CONFIG_MAX_NAME 48      /* "syncline_" + name fits PostgreSQL's 63 */
#define CONFIG_MAX_IDENT 63     /* NAMEDATALEN - 1 */
#define CONFIG_MAX_TOPIC 249    /* Kafka's limit */
#define PATH_SIZE 512
#define LOAD_FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)

typedef struct loader {
    config_t *cfg; /* being filled; cfg->name feeds "<name>" defaults */
    config_err_t err;
    char *errbuf;
    size_t errsize;
} loader_t;

typedef enum prop_type {
    PROP_OBJECT,    /* a block holding further rows ("apply") */
    PROP_STRING,    /* char *, owned */
    PROP_INT,       /* int within [min, max] */
    PROP_BOOL,      /* bool */
    PROP_ENUM,      /* one of choices, stored as an owned copy (char *) */
    PROP_ENUM_FLAG, /* one of two choices, stored as bool: true for the second */
    PROP_QNAME,     /* a table name (config_parse_qname), stored as config_qname_t */
    PROP_CUSTOM,    /* parsed by prop->parse when present */
} prop_type_t;

enum prop_flags {
    PROP_REQUIRED = 1 << 0,          /* must be present unless prop->env is set */
    PROP_REQUIRED_IN_BLOCK = 1 << 1, /* must be present when its enclosing block is */
    PROP_NONEMPTY = 1 << 2,          /* strings: "" is an error */
    PROP_DEFAULT_NCPU = 1 << 3,      /* ints: default is half the online CPUs (at least 1) */
};

typedef int (*prop_parse_fn)(loader_t *ld, json_t *v, void *base, const char *path);

typedef struct prop {
    const char *path; /* dotted, relative to the object the table describes */
    prop_type_t type;
    size_t offset; /* of the field in the struct the table fills */
    unsigned flags;
    int min, max;               /* PROP_INT, inclusive */
    int def;                    /* PROP_INT, PROP_BOOL */
    const char *def_str;        /* PROP_STRING, PROP_ENUM*; "<name>" is the config name */
    const char *const *choices; /* PROP_ENUM*, NULL-terminated */
    const char *env;            /* environment variable that replaces the value */
    bool (*valid)(const char *s);
    const char *valid_msg;
    prop_parse_fn parse; /* PROP_CUSTOM */
    const char *doc;
} prop_t;

#define FIELD(base, p, type) ((type *)(void *)((char *)(base) + (p)->offset))
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- errors ---- */

static int fail(loader_t *ld, config_err_t kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the error kind and message; returns -1 so callers can `return fail(...)`. */
static int fail(loader_t *ld, config_err_t kind, const char *fmt, ...)
{
    va_list ap;

    ld->err = kind;
    if (ld->errbuf && ld->errsize > 0) {
        va_start(ap, fmt);
        vsnprintf(ld->errbuf, ld->errsize, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int fail_nomem(loader_t *ld, const char *path)
{
    return fail(ld, CONFIG_ERR_NOMEM, "%s: out of memory", path);
}

/* Appends s to buf (PATH_SIZE bytes, len in use), truncating; false when truncated. */
static bool path_append(char *buf, size_t *len, const char *s)
{
    size_t n = strlen(s), room = PATH_SIZE - 1 - *len;
    bool fits = n <= room;

    n = fits ? n : room;
    memcpy(buf + *len, s, n);
    *len += n;
    buf[*len] = '\0';
    return fits;
}

/* Joins prefix and key with a dot into buf (PATH_SIZE); false when truncated. */
static bool path_join(char *buf, const char *prefix, const char *key)
{
    size_t len = 0;
    bool fits = path_append(buf, &len, prefix);

    if (*prefix && *key)
        fits = path_append(buf, &len, ".") && fits;
    return path_append(buf, &len, key) && fits;
}

static void path_index(char *buf, const char *prefix, size_t i)
{
    snprintf(buf, PATH_SIZE, "%s[%zu]", prefix, i);
}

/* ---- value validators ---- */

static bool all_of(const char *s, const char *set, size_t maxlen)
{
    size_t n = strlen(s);

    return n > 0 && n <= maxlen && strspn(s, set) == n;
}

#define LOWER_DIGIT_UNDERSCORE "abcdefghijklmnopqrstuvwxyz0123456789_"

static bool valid_name(const char *s)
{
    return all_of(s, LOWER_DIGIT_UNDERSCORE, CONFIG_MAX_NAME);
}

/* PostgreSQL's own rule for replication slot names, applied to the publication too. */
static bool valid_ident(const char *s)
{
    return all_of(s, LOWER_DIGIT_UNDERSCORE, CONFIG_MAX_IDENT);
}

static bool valid_topic(const char *s)
{
    static const char set[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";

    return all_of(s, set, CONFIG_MAX_TOPIC) && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* A Schema Registry URL: http or https, something after the "//". */
static bool valid_registry_url(const char *s)
{
    const char *rest = strncmp(s, "https://", 8) == 0  ? s + 8
                       : strncmp(s, "http://", 7) == 0 ? s + 7
                                                       : NULL;
    return rest != NULL && *rest != '\0' && *rest != '/' && strlen(s) <= CONFIG_MAX_STRING;
}

/* ---- the property tables ---- */

static int parse_tables(loader_t *ld, json_t *v, void *base, const char *path);
static int parse_columns(loader_t *ld, json_t *v, void *base, const char *path);
static int parse_exclude(loader_t *ld, json_t *v, void *base, const char *path);
static int parse_keep(loader_t *ld, json_t *v, void *base, const char *path);
static int parse_properties(loader_t *ld, json_t *v, void *base, const char *path);
static int parse_ddl(loader_t *ld, json_t *v, void *base, const char *path);
static int parse_table_ddl(loader_t *ld, json_t *v, void *base, const char *path);
static int parse_table_fallback(loader_t *ld, json_t *v, void *base, const char *path);

static const char *const on_missing_row_choices[] = {"error", "skip", NULL};
static const char *const format_choices[] = {"avro", "json", NULL};
static const char *const partitioning_choices[] = {"none", "table", "key", NULL};
static const char *const layout_choices[] = {"syncline", "debezium", NULL};

#define CFG(field) offsetof(config_t, field)

/* Order matters: "name" comes first because later defaults are derived from it. */
static const prop_t config_props[] = {
    {.path = "name",
     .type = PROP_STRING,
     .offset = CFG(name),
     .flags = PROP_REQUIRED,
     .valid = valid_name,
     .valid_msg = "must match ^[a-z0-9_]+$ and be at most 48 bytes",
     .doc = "Names the slot, the publication and the progress row."},
    {.path = "source", .type = PROP_OBJECT, .doc = "The PostgreSQL database changes come from."},
    {.path = "source.conninfo",
     .type = PROP_STRING,
     .offset = CFG(source_conninfo),
     .flags = PROP_REQUIRED,
     .env = "SYNCLINE_SOURCE",
     .doc = "libpq connection string; SYNCLINE_SOURCE replaces it when set."},
    {.path = "source.publication",
     .type = PROP_STRING,
     .offset = CFG(publication),
     .def_str = "syncline_<name>",
     .valid = valid_ident,
     .valid_msg = "must match ^[a-z0-9_]+$ and be at most 63 bytes",
     .doc = "Publication to create or reuse."},
    {.path = "source.slot",
     .type = PROP_STRING,
     .offset = CFG(slot),
     .def_str = "syncline_<name>",
     .valid = valid_ident,
     .valid_msg = "must match ^[a-z0-9_]+$ and be at most 63 bytes",
     .doc = "Logical replication slot to create or reuse."},
    {.path = "target", .type = PROP_OBJECT, .doc = "The PostgreSQL database changes go to."},
    {.path = "target.conninfo",
     .type = PROP_STRING,
     .offset = CFG(target_conninfo),
     .env = "SYNCLINE_TARGET",
     .doc = "libpq connection string; SYNCLINE_TARGET replaces it when set. Every command but "
            "capture needs it (config_require_target)."},
    {.path = "tables",
     .type = PROP_CUSTOM,
     .parse = parse_tables,
     .doc = "Table mappings; absent: every ordinary user table, same names."},
    {.path = "apply", .type = PROP_OBJECT, .doc = "How changes are applied to the target."},
    {.path = "apply.batch_rows",
     .type = PROP_INT,
     .offset = CFG(batch_rows),
     .min = 1,
     .max = 1000000,
     .def = 10000,
     .doc = "Max source rows per target transaction."},
    {.path = "apply.batch_ms",
     .type = PROP_INT,
     .offset = CFG(batch_ms),
     .min = 1,
     .max = 60000,
     .def = 200,
     .doc = "Max age in ms of an open target transaction."},
    {.path = "apply.status_interval_ms",
     .type = PROP_INT,
     .offset = CFG(status_interval_ms),
     .min = 100,
     .max = 600000,
     .def = 10000,
     .doc = "Standby status update period in ms."},
    {.path = "apply.target_timeout_s",
     .type = PROP_INT,
     .offset = CFG(target_timeout_s),
     .min = 0,
     .max = 86400,
     .def = 120,
     .doc = "Seconds without a byte from the target while waiting for it: the connection is "
            "presumed stalled and reopened; 0 = wait forever."},
    {.path = "apply.binary",
     .type = PROP_BOOL,
     .offset = CFG(binary),
     .def = false,
     .doc = "Ask pgoutput for binary values."},
    {.path = "apply.on_missing_row",
     .type = PROP_ENUM_FLAG,
     .offset = CFG(on_missing_row_skip),
     .def_str = "error",
     .choices = on_missing_row_choices,
     .doc = "UPDATE or DELETE of a row absent on the target: stop, or skip it."},
    {.path = "apply.collapse",
     .type = PROP_BOOL,
     .offset = CFG(collapse),
     .def = true,
     .doc = "Merge changes to one row within a target transaction into its last state."},
    {.path = "apply.large_value_mb",
     .type = PROP_INT,
     .offset = CFG(large_value_mb),
     .min = 0,
     .max = 1024,
     .def = 16,
     .doc = "A row with a value of at least this many MB goes to the target through a staging "
            "COPY in pieces, so the value is never copied whole into a statement; 0 = off."},
    {.path = "snapshot", .type = PROP_OBJECT, .doc = "The initial copy."},
    {.path = "snapshot.workers",
     .type = PROP_INT,
     .offset = CFG(snapshot_workers),
     .min = 1,
     .max = 64,
     .flags = PROP_DEFAULT_NCPU,
     .doc = "Parallel copy workers; default: half the online CPUs, at least 1."},
    {.path = "snapshot.chunk_mb",
     .type = PROP_INT,
     .offset = CFG(snapshot_chunk_mb),
     .min = 1,
     .max = 1048576,
     .def = 128,
     .doc = "Heap MB per work item; tables above two chunks are split into ctid ranges."},
    {.path = "snapshot.defer_indexes",
     .type = PROP_BOOL,
     .offset = CFG(snapshot_defer_indexes),
     .def = false,
     .doc = "Drop secondary indexes before the copy and build them after it."},
    {.path = "kafka", .type = PROP_OBJECT, .doc = "Kafka transport for capture and apply."},
    {.path = "kafka.brokers",
     .type = PROP_STRING,
     .offset = CFG(kafka.brokers),
     .flags = PROP_REQUIRED_IN_BLOCK | PROP_NONEMPTY,
     .doc = "Bootstrap brokers, host:port,..."},
    {.path = "kafka.topic",
     .type = PROP_STRING,
     .offset = CFG(kafka.topic),
     .def_str = "syncline.<name>",
     .valid = valid_topic,
     .valid_msg = "must match ^[A-Za-z0-9._-]+$, be at most 249 bytes and not be . or ..",
     .doc = "Topic of the change stream."},
    {.path = "kafka.format",
     .type = PROP_ENUM,
     .offset = CFG(kafka.format),
     .def_str = "avro",
     .choices = format_choices,
     .doc = "Message encoding."},
    {.path = "kafka.partitioning",
     .type = PROP_ENUM,
     .offset = CFG(kafka.partitioning),
     .def_str = "none",
     .choices = partitioning_choices,
     .doc = "none keeps commit order and atomicity; table or key spread the stream."},
    {.path = "kafka.layout",
     .type = PROP_ENUM,
     .offset = CFG(kafka.layout),
     .def_str = "syncline",
     .choices = layout_choices,
     .doc =
         "syncline: one topic, syncline's envelope; debezium: what the Debezium PostgreSQL "
         "connector writes (a topic per table, JSON with schemas, or Avro with schema_registry)."},
    {.path = "kafka.topic_prefix",
     .type = PROP_STRING,
     .offset = CFG(kafka.topic_prefix),
     .def_str = "<name>",
     .valid = valid_topic,
     .valid_msg = "must match ^[A-Za-z0-9._-]+$, be at most 249 bytes and not be . or ..",
     .doc = "Layout debezium: topics <topic_prefix>.<schema>.<table>, <topic_prefix>.transaction, "
            "__debezium-heartbeat.<topic_prefix>."},
    {.path = "kafka.topics",
     .type = PROP_STRING,
     .offset = CFG(kafka.topics),
     .flags = PROP_NONEMPTY,
     .doc = "apply, layout debezium: the topics to read, comma-separated, or a regular "
            "expression starting with ^ (default ^<topic_prefix>\\.)."},
    {.path = "kafka.max_transaction_mb",
     .type = PROP_INT,
     .offset = CFG(kafka.max_txn_mb),
     .min = 1,
     .max = 1 << 20,
     .def = 512,
     .doc = "apply, layout debezium: MB of changes held while transactions are re-assembled; "
            "a transaction larger stops apply."},
    {.path = "kafka.schema_registry",
     .type = PROP_STRING,
     .offset = CFG(kafka.schema_registry),
     .flags = PROP_NONEMPTY,
     .valid = valid_registry_url,
     .valid_msg = "must be an http:// or https:// URL (credentials as https://user:password@host)",
     .doc = "Schema Registry URL (avro): Confluent wire format, schemas registered there."},
    {.path = "kafka.properties",
     .type = PROP_CUSTOM,
     .parse = parse_properties,
     .doc = "librdkafka properties, passed verbatim in file order."},
    {.path = "ddl",
     .type = PROP_CUSTOM,
     .parse = parse_ddl,
     .doc = "DDL captured on the source: apply (default), stop before it, or ignore."},
};

#define TBL(field) offsetof(config_table_t, field)

static const prop_t table_props[] = {
    {.path = "source",
     .type = PROP_QNAME,
     .offset = TBL(source),
     .flags = PROP_REQUIRED,
     .doc = "Source table: schema.table, table (schema public) or schema.*."},
    {.path = "target",
     .type = PROP_QNAME,
     .offset = TBL(target),
     .doc = "Target table, same syntax; default: the source name."},
    {.path = "skip",
     .type = PROP_BOOL,
     .offset = TBL(skip),
     .def = false,
     .doc = "Do not sync this source table."},
    {.path = "columns",
     .type = PROP_CUSTOM,
     .parse = parse_columns,
     .doc = "Target column -> PostgreSQL expression over source columns."},
    {.path = "exclude",
     .type = PROP_CUSTOM,
     .parse = parse_exclude,
     .doc = "Source columns deliberately not carried over."},
    {.path = "where",
     .type = PROP_STRING,
     .offset = TBL(where),
     .flags = PROP_NONEMPTY,
     .doc = "Only source rows satisfying this expression are synced."},
    {.path = "ddl",
     .type = PROP_CUSTOM,
     .parse = parse_table_ddl,
     .doc = "DDL on this table: apply, stop or ignore; default: the global ddl."},
    {.path = "fallback",
     .type = PROP_CUSTOM,
     .parse = parse_table_fallback,
     .doc = "The inverse mapping for syncline fallback: columns and exclude from the target "
            "table's columns back to the source table's."},
};

/* A "fallback" block: the same keys as an entry's mapping, the roles swapped. */
static const prop_t fallback_props[] = {
    {.path = "columns",
     .type = PROP_CUSTOM,
     .parse = parse_columns,
     .doc = "Source column -> PostgreSQL expression over target columns."},
    {.path = "exclude",
     .type = PROP_CUSTOM,
     .parse = parse_exclude,
     .doc = "Target columns deliberately not carried back."},
    {.path = "keep",
     .type = PROP_CUSTOM,
     .parse = parse_keep,
     .doc = "Source columns the target has no value for: an UPDATE leaves them as they are, an "
            "INSERT gives them their default."},
};

/* ---- generic helpers ---- */

static const char *env_value(const char *name)
{
    const char *v = name ? getenv(name) : NULL;

    return v && *v ? v : NULL;
}

static int dup_into(loader_t *ld, char **field, const char *s, const char *path)
{
    *field = strdup(s);
    return *field ? 0 : fail_nomem(ld, path);
}

/* Checks that v is a string safe to keep: no NUL byte, at most CONFIG_MAX_STRING bytes. */
static int read_string(loader_t *ld, json_t *v, unsigned flags, const char *path, const char **out)
{
    size_t len;

    if (!json_is_string(v))
        return fail(ld, CONFIG_ERR_INVALID, "%s: expected a string", path);
    len = json_string_length(v);
    *out = json_string_value(v);
    if (len > CONFIG_MAX_STRING)
        return fail(ld, CONFIG_ERR_INVALID, "%s: longer than %d bytes", path, CONFIG_MAX_STRING);
    if (memchr(*out, '\0', len))
        return fail(ld, CONFIG_ERR_INVALID, "%s: contains a NUL byte", path);
    if ((flags & PROP_NONEMPTY) && len == 0)
        return fail(ld, CONFIG_ERR_INVALID, "%s: must not be empty", path);
    return 0;
}

/* Object keys name columns and librdkafka properties: same limits as values. */
static int check_key(loader_t *ld, const char *key, const char *path)
{
    if (*key == '\0')
        return fail(ld, CONFIG_ERR_INVALID, "%s: empty key", path);
    if (strlen(key) > CONFIG_MAX_STRING)
        return fail(ld, CONFIG_ERR_INVALID, "%s: key longer than %d bytes", path,
                    CONFIG_MAX_STRING);
    return 0;
}

/* Follows the first len bytes of a dotted path of object keys from obj; NULL if absent. */
static json_t *lookup_n(json_t *obj, const char *path, size_t len)
{
    const char *end = path + len, *dot;

    while (obj && (dot = memchr(path, '.', (size_t)(end - path))) != NULL) {
        obj = json_object_getn(obj, path, (size_t)(dot - path));
        path = dot + 1;
    }
    return obj ? json_object_getn(obj, path, (size_t)(end - path)) : NULL;
}

static json_t *lookup(json_t *obj, const char *path)
{
    return lookup_n(obj, path, strlen(path));
}

/* The object enclosing the row's value ("kafka" for "kafka.brokers"), NULL if absent. */
static json_t *lookup_parent(json_t *obj, const char *path)
{
    const char *dot = strrchr(path, '.');

    return dot ? lookup_n(obj, path, (size_t)(dot - path)) : obj;
}

static const prop_t *find_prop(const prop_t *props, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(props[i].path, path) == 0)
            return &props[i];
    return NULL;
}

/* ---- unknown keys ---- */

/* Fails on the first key of obj (at relative path rel) that no row describes. */
static int check_keys(loader_t *ld, const prop_t *props, size_t n, json_t *obj, const char *rel,
                      const char *prefix)
{
    char relkey[PATH_SIZE], shown[PATH_SIZE];

    for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
        const char *key = json_object_iter_key(it);
        json_t *v = json_object_iter_value(it);
        /* a dotted key ("apply.batch_rows") must not pass for the nested one */
        const prop_t *p =
            !strchr(key, '.') && path_join(relkey, rel, key) ? find_prop(props, n, relkey) : NULL;

        if (!p) {
            path_join(shown, prefix, rel);
            return fail(ld, CONFIG_ERR_INVALID, "%s%s%s: unknown key", shown, *shown ? "." : "",
                        key);
        }
        if (p->type != PROP_OBJECT)
            continue;
        if (!json_is_object(v)) {
            path_join(shown, prefix, relkey);
            return fail(ld, CONFIG_ERR_INVALID, "%s: expected an object", shown);
        }
        if (check_keys(ld, props, n, v, relkey, prefix) < 0)
            return -1;
    }
    return 0;
}

/* ---- defaults and required rows ---- */

/* Copies def into *field, "<name>" replaced by the config name. */
static int expand_default(loader_t *ld, char **field, const char *def, const char *path)
{
    static const char mark[] = "<name>";
    const char *at = strstr(def, mark);
    const char *name = ld->cfg->name;
    size_t size;

    if (!at || !name)
        return dup_into(ld, field, def, path);
    size = strlen(def) + strlen(name) + 1;
    *field = malloc(size);
    if (!*field)
        return fail_nomem(ld, path);
    snprintf(*field, size, "%.*s%s%s", (int)(at - def), def, name, at + sizeof mark - 1);
    return 0;
}

/* Each copy worker keeps two server processes busy (the source's COPY TO and
 * the target's COPY FROM): one worker per two cores. Measured on 2 cores, two
 * workers copied pgbench scale 50 slower than one (bench/README.md). */
static int default_ncpu(const prop_t *p)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN) / 2;

    if (n < p->min)
        return p->min;
    return n > p->max ? p->max : (int)n;
}

static bool is_required(const prop_t *p, json_t *obj)
{
    if (env_value(p->env))
        return false;
    if (p->flags & PROP_REQUIRED)
        return true;
    return (p->flags & PROP_REQUIRED_IN_BLOCK) && lookup_parent(obj, p->path) != NULL;
}

static int fail_required(loader_t *ld, const prop_t *p, const char *path)
{
    if (p->env)
        return fail(ld, CONFIG_ERR_INVALID, "%s: required (or set %s)", path, p->env);
    return fail(ld, CONFIG_ERR_INVALID, "%s: required", path);
}

/* ---- one handler per row type; v is NULL when the key is absent ---- */

static int apply_string(loader_t *ld, const prop_t *p, json_t *v, void *base, const char *path)
{
    char **field = FIELD(base, p, char *);
    const char *env = env_value(p->env);
    const char *s = NULL;

    if (v && read_string(ld, v, p->flags, path, &s) < 0)
        return -1;
    if (s && p->valid && !p->valid(s))
        return fail(ld, CONFIG_ERR_INVALID, "%s: %s", path, p->valid_msg);
    if (env)
        return dup_into(ld, field, env, path);
    if (s)
        return dup_into(ld, field, s, path);
    return p->def_str ? expand_default(ld, field, p->def_str, path) : 0;
}

static int apply_int(loader_t *ld, const prop_t *p, json_t *v, void *base, const char *path)
{
    int *field = FIELD(base, p, int);
    json_int_t n;

    if (!v) {
        *field = (p->flags & PROP_DEFAULT_NCPU) ? default_ncpu(p) : p->def;
        return 0;
    }
    if (!json_is_integer(v))
        return fail(ld, CONFIG_ERR_INVALID, "%s: expected an integer", path);
    n = json_integer_value(v);
    if (n < p->min || n > p->max)
        return fail(ld, CONFIG_ERR_INVALID, "%s: must be between %d and %d", path, p->min, p->max);
    *field = (int)n;
    return 0;
}

static int apply_bool(loader_t *ld, const prop_t *p, json_t *v, void *base, const char *path)
{
    bool *field = FIELD(base, p, bool);

    if (!v) {
        *field = p->def != 0;
        return 0;
    }
    if (!json_is_boolean(v))
        return fail(ld, CONFIG_ERR_INVALID, "%s: expected true or false", path);
    *field = json_is_true(v);
    return 0;
}

static int choice_index(const prop_t *p, const char *s)
{
    for (int i = 0; p->choices[i]; i++)
        if (strcmp(p->choices[i], s) == 0)
            return i;
    return -1;
}

static int fail_choice(loader_t *ld, const prop_t *p, const char *path)
{
    char list[128] = "";
    size_t used = 0;

    for (int i = 0; p->choices[i] && used < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s\"%s\"", i ? ", " : "",
                                 p->choices[i]);
    return fail(ld, CONFIG_ERR_INVALID, "%s: expected one of %s", path, list);
}

/* PROP_ENUM stores a copy of the matching choice, PROP_ENUM_FLAG whether it is the second. */
static int apply_enum(loader_t *ld, const prop_t *p, json_t *v, void *base, const char *path)
{
    const char *s = p->def_str;
    int i;

    if (v && read_string(ld, v, 0, path, &s) < 0)
        return -1;
    i = choice_index(p, s);
    if (i < 0)
        return fail_choice(ld, p, path);
    if (p->type == PROP_ENUM_FLAG) {
        *FIELD(base, p, bool) = i == 1;
        return 0;
    }
    return dup_into(ld, FIELD(base, p, char *), p->choices[i], path);
}

typedef enum qname_rc { QNAME_OK, QNAME_MALFORMED, QNAME_NOMEM } qname_rc_t;

static qname_rc_t qname_parse(const char *s, config_qname_t *out);

static int apply_qname(loader_t *ld, const prop_t *p, json_t *v, void *base, const char *path)
{
    const char *s = NULL;

    if (!v)
        return 0;
    if (read_string(ld, v, 0, path, &s) < 0)
        return -1;
    switch (qname_parse(s, FIELD(base, p, config_qname_t))) {
    case QNAME_OK:
        return 0;
    case QNAME_NOMEM:
        return fail_nomem(ld, path);
    default:
        return fail(ld, CONFIG_ERR_INVALID,
                    "%s: expected schema.table, table or schema.* (quote a part with \"...\")",
                    path);
    }
}

static int apply_prop(loader_t *ld, const prop_t *p, json_t *obj, void *base, const char *prefix)
{
    char path[PATH_SIZE];
    json_t *v = lookup(obj, p->path);

    path_join(path, prefix, p->path);
    if (!v && p->type != PROP_OBJECT && is_required(p, obj))
        return fail_required(ld, p, path);
    switch (p->type) {
    case PROP_OBJECT:
        return 0;
    case PROP_STRING:
        return apply_string(ld, p, v, base, path);
    case PROP_INT:
        return apply_int(ld, p, v, base, path);
    case PROP_BOOL:
        return apply_bool(ld, p, v, base, path);
    case PROP_ENUM:
    case PROP_ENUM_FLAG:
        return apply_enum(ld, p, v, base, path);
    case PROP_QNAME:
        return apply_qname(ld, p, v, base, path);
    case PROP_CUSTOM:
        return v ? p->parse(ld, v, base, path) : 0;
    }
    return 0;
}

/* Rejects unknown keys in obj, then parses, validates and defaults every row into base. */
static int apply_props(loader_t *ld, const prop_t *props, size_t n, json_t *obj, void *base,
                       const char *prefix)
{
    if (check_keys(ld, props, n, obj, "", prefix) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (apply_prop(ld, &props[i], obj, base, prefix) < 0)
            return -1;
    return 0;
}

/* ---- "tables" ---- */

static bool qname_is_pattern(const config_qname_t *q)
{
    return strcmp(q->name, "*") == 0;
}

static bool qname_equal(const config_qname_t *a, const config_qname_t *b)
{
    return strcmp(a->schema, b->schema) == 0 && strcmp(a->name, b->name) == 0;
}

static int qname_copy(loader_t *ld, config_qname_t *dst, const config_qname_t *src,
                      const char *path)
{
    dst->schema = strdup(src->schema);
    dst->name = strdup(src->name);
    return dst->schema && dst->name ? 0 : fail_nomem(ld, path);
}

/* Rules that involve several keys of one entry; v is the entry's JSON object. */
static int check_table_entry(loader_t *ld, config_table_t *t, json_t *v, const char *path)
{
    static const char *const not_with_skip[] = {"columns", "exclude", "where", "fallback"};

    for (size_t i = 0; t->skip && i < NELEM(not_with_skip); i++)
        if (json_object_get(v, not_with_skip[i]))
            return fail(ld, CONFIG_ERR_INVALID, "%s.%s: not allowed with \"skip\": true", path,
                        not_with_skip[i]);
    if (!t->target.name)
        return qname_copy(ld, &t->target, &t->source, path);
    if (qname_is_pattern(&t->source) && !qname_is_pattern(&t->target))
        return fail(ld, CONFIG_ERR_INVALID, "%s.target: must be a pattern schema.* like the source",
                    path);
    if (!qname_is_pattern(&t->source) && qname_is_pattern(&t->target))
        return fail(ld, CONFIG_ERR_INVALID, "%s.target: a pattern needs a pattern source", path);
    return 0;
}

static int parse_table_entry(loader_t *ld, json_t *v, config_table_t *t, const char *path)
{
    if (!json_is_object(v))
        return fail(ld, CONFIG_ERR_INVALID, "%s: expected an object", path);
    if (apply_props(ld, table_props, NELEM(table_props), v, t, path) < 0)
        return -1;
    return check_table_entry(ld, t, v, path);
}

static int compare_sources(const void *a, const void *b)
{
    const config_table_t *ta = *(const config_table_t *const *)a;
    const config_table_t *tb = *(const config_table_t *const *)b;
    int c = strcmp(ta->source.schema, tb->source.schema);

    if (c == 0)
        c = strcmp(ta->source.name, tb->source.name);
    return c ? c : (ta > tb) - (ta < tb);
}

/* Sorting keeps this O(n log n): the tables array may be as large as the file allows. */
static int check_duplicate_sources(loader_t *ld, const config_t *cfg, const char *path)
{
    const config_table_t **sorted = malloc((size_t)cfg->ntables * sizeof *sorted);
    int rc = 0;

    if (!sorted)
        return fail_nomem(ld, path);
    for (int i = 0; i < cfg->ntables; i++)
        sorted[i] = &cfg->tables[i];
    qsort(sorted, (size_t)cfg->ntables, sizeof *sorted, compare_sources);
    for (int i = 1; i < cfg->ntables && rc == 0; i++)
        if (qname_equal(&sorted[i - 1]->source, &sorted[i]->source))
            rc = fail(ld, CONFIG_ERR_INVALID, "%s[%td].source: same source as %s[%td]", path,
                      sorted[i] - cfg->tables, path, sorted[i - 1] - cfg->tables);
    free(sorted);
    return rc;
}

static int parse_tables(loader_t *ld, json_t *v, void *base, const char *path)
{
    config_t *cfg = base;
    char entry[PATH_SIZE];
    size_t n;

    if (!json_is_array(v))
        return fail(ld, CONFIG_ERR_INVALID, "%s: expected an array", path);
    n = json_array_size(v);
    if (n == 0)
        return fail(ld, CONFIG_ERR_INVALID, "%s: empty; omit it to sync every table", path);
    cfg->tables = n <= INT_MAX ? calloc(n, sizeof *cfg->tables) : NULL;
    if (!cfg->tables)
        return fail_nomem(ld, path);
    cfg->ntables = (int)n;
    cfg->has_tables = true;
    for (size_t i = 0; i < n; i++) {
        path_index(entry, path, i);
        if (parse_table_entry(ld, json_array_get(v, i), &cfg->tables[i], entry) < 0)
            return -1;
    }
    return check_duplicate_sources(ld, cfg, path);
}

/* One "columns" member, at object iterator it, into *m. */
static int parse_column(loader_t *ld, void *it, config_column_map_t *m, const char *path)
{
    const char *key = json_object_iter_key(it);
    json_t *v = json_object_iter_value(it);
    char colpath[PATH_SIZE];
    const char *expr = NULL;

    path_join(colpath, path, key);
    if (check_key(ld, key, path) < 0 || read_string(ld, v, PROP_NONEMPTY, colpath, &expr) < 0)
        return -1;
    if (dup_into(ld, &m->target_column, key, colpath) < 0)
        return -1;
    return dup_into(ld, &m->expression, expr, colpath);
}

static int parse_columns(loader_t *ld, json_t *v, void *base, const char *path)
{
    config_table_t *t = base;
    size_t n, i = 0;

    if (!json_is_object(v))
        return fail(ld, CONFIG_ERR_INVALID, "%s: expected an object", path);
    n = json_object_size(v);
    if (n == 0)
        return 0;
    t->columns = n <= INT_MAX ? calloc(n, sizeof *t->columns) : NULL;
    if (!t->columns)
        return fail_nomem(ld, path);
    t->ncolumns = (int)n;
    for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it))
        if (parse_column(ld, it, &t->columns[i++], path) < 0)
            return -1;
    return 0;
}

static const char *const ddl_choices[] = {"apply", "stop", "ignore", NULL};

/* "apply" | "stop" | "ignore" into *out. */
static int read_ddl(loader_t *ld, json_t *v, const char *path, config_ddl_t *out)
{
    const char *s = NULL;

    if (read_string(ld, v, 0, path, &s) < 0)
        return -1;
    for (int i = 0; ddl_choices[i]; i++) {
        if (strcmp(s, ddl_choices[i]) == 0) {
            *out = (config_ddl_t)(CONFIG_DDL_APPLY + i);
            return 0;
        }
    }
    return fail(ld, CONFIG_ERR_INVALID, "%s: expected one of apply, stop, ignore", path);
}

static int parse_ddl(loader_t *ld, json_t *v, void *base, const char *path)
{
    return read_ddl(ld, v, path, &((config_t *)base)->ddl);
}

static int parse_table_ddl(loader_t *ld, json_t *v, void *base, const char *path)
{
    return read_ddl(ld, v, path, &((config_table_t *)base)->ddl);
}

config_ddl_t config_ddl_mode(const config_t *cfg, const config_table_t *t)
{
    if (t != NULL && t->ddl != CONFIG_DDL_UNSET)
        return t->ddl;
    return cfg->ddl != CONFIG_DDL_UNSET ? cfg->ddl : CONFIG_DDL_APPLY;
}

int config_ddl_followed(const config_t *cfg)
{
    if (config_ddl_mode(cfg, NULL) != CONFIG_DDL_IGNORE)
        return 1;
    for (int i = 0; i < cfg->ntables; i++)
        if (config_ddl_mode(cfg, &cfg->tables[i]) != CONFIG_DDL_IGNORE)
            return 1;
    return 0;
}

const char *config_ddl_name(config_ddl_t mode)
{
    return mode == CONFIG_DDL_STOP ? "stop" : mode == CONFIG_DDL_IGNORE ? "ignore" : "apply";
}

static int parse_table_fallback(loader_t *ld, json_t *v, void *base, const char *path)
{
    config_table_t *t = base;

    if (!json_is_object(v))
        return fail(ld, CONFIG_ERR_INVALID, "%s: expected an object", path);
    t->fallback = calloc(1, sizeof *t->fallback);
    if (!t->fallback)
        return fail_nomem(ld, path);
    return apply_props(ld, fallback_props, NELEM(fallback_props), v, t->fallback, path);
}

/* An array of column names into *out (n entries); nothing for an empty one. */
static int parse_names(loader_t *ld, json_t *v, const char *path, char ***out, int *nout)
{
    char item[PATH_SIZE];
    const char *s = NULL;
    size_t n;

    if (!json_is_array(v))
        return fail(ld, CONFIG_ERR_INVALID, "%s: expected an array", path);
    n = json_array_size(v);
    if (n == 0)
        return 0;
    *out = n <= INT_MAX ? calloc(n, sizeof **out) : NULL;
    if (!*out)
        return fail_nomem(ld, path);
    *nout = (int)n;
    for (size_t i = 0; i < n; i++) {
        path_index(item, path, i);
        if (read_string(ld, json_array_get(v, i), PROP_NONEMPTY, item, &s) < 0 ||
            dup_into(ld, &(*out)[i], s, item) < 0)
            return -1;
    }
    return 0;
}

static int parse_keep(loader_t *ld, json_t *v, void *base, const char *path)
{
    config_table_t *t = base;
    return parse_names(ld, v, path, &t->keep, &t->nkeep);
}

static int parse_exclude(loader_t *ld, json_t *v, void *base, const char *path)
{
    config_table_t *t = base;
    char item[PATH_SIZE];
    const char *s = NULL;
    size_t n;

    if (!json_is_array(v))
        return fail(ld, CONFIG_ERR_INVALID, "%s: expected an array", path);
    n = json_array_size(v);
    if (n == 0)
        return 0;
    t->exclude = n <= INT_MAX ? calloc(n, sizeof *t->exclude) : NULL;
    if (!t->exclude)
        return fail_nomem(ld, path);
    t->nexclude = (int)n;
    for (size_t i = 0; i < n; i++) {
        path_index(item, path, i);
        if (read_string(ld, json_array_get(v, i), PROP_NONEMPTY, item, &s) < 0 ||
            dup_into(ld, &t->exclude[i], s, item) < 0)
            return -1;
    }
    return 0;
}

/* ---- "kafka.properties" ---- */

/* One "properties" member, at object iterator it, into entry i of k. */
static int parse_property(loader_t *ld, void *it, config_kafka_t *k, size_t i, const char *path)
{
    const char *key = json_object_iter_key(it);
    json_t *v = json_object_iter_value(it);
    char proppath[PATH_SIZE];
    const char *s = NULL;

    path_join(proppath, path, key);
    if (check_key(ld, key, path) < 0 || read_string(ld, v, 0, proppath, &s) < 0)
        return -1;
    if (dup_into(ld, &k->property_keys[i], key, proppath) < 0)
        return -1;
    return dup_into(ld, &k->property_values[i], s, proppath);
}

static int parse_properties(loader_t *ld, json_t *v, void *base, const char *path)
{
    config_kafka_t *k = &((config_t *)base)->kafka;
    size_t n, i = 0;

    if (!json_is_object(v))
        return fail(ld, CONFIG_ERR_INVALID, "%s: expected an object", path);
    n = json_object_size(v);
    if (n == 0)
        return 0;
    k->property_keys = n <= INT_MAX ? calloc(n, sizeof *k->property_keys) : NULL;
    k->property_values = n <= INT_MAX ? calloc(n, sizeof *k->property_values) : NULL;
    k->nproperties = k->property_keys && k->property_values ? (int)n : 0;
    if (!k->property_keys || !k->property_values)
        return fail_nomem(ld, path);
    for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it))
        if (parse_property(ld, it, k, i++, path) < 0)
            return -1;
    return 0;
}

/* ---- loading ---- */

/*
 * jansson appends "near '<token>'" to syntax errors, and the token can be a conninfo
 * string (e.g. a value with a raw newline in it), so that part is dropped. The one kept
 * is a duplicate key's: it names the key, which is useful and never a value.
 */
static void fail_json(loader_t *ld, const json_error_t *jerr, const char *file)
{
    enum json_error_code code = json_error_code(jerr);
    char text[JSON_ERROR_TEXT_LENGTH];
    char *near;

    if (code == json_error_cannot_open_file) {
        fail(ld, CONFIG_ERR_IO, "%s", jerr->text);
        return;
    }
    /* jansson leaves the text empty when an allocation fails while parsing */
    if (code == json_error_out_of_memory || jerr->text[0] == '\0') {
        fail(ld, CONFIG_ERR_NOMEM, "%s: out of memory", file ? file : "config");
        return;
    }
    snprintf(text, sizeof text, "%s", jerr->text);
    near = strstr(text, " near '");
    if (near && code != json_error_duplicate_key)
        *near = '\0';
    if (file)
        fail(ld, CONFIG_ERR_PARSE, "%s:%d:%d: %s", file, jerr->line, jerr->column, text);
    else
        fail(ld, CONFIG_ERR_PARSE, "line %d, column %d: %s", jerr->line, jerr->column, text);
}

static config_t *load_root(loader_t *ld, json_t *root)
{
    if (!json_is_object(root)) {
        fail(ld, CONFIG_ERR_INVALID, "(top level): expected an object");
        return NULL;
    }
    ld->cfg = calloc(1, sizeof *ld->cfg);
    if (!ld->cfg) {
        fail_nomem(ld, "(top level)");
        return NULL;
    }
    if (apply_props(ld, config_props, NELEM(config_props), root, ld->cfg, "") < 0) {
        config_free(ld->cfg);
        return NULL;
    }
    return ld->cfg;
}

static void report(const loader_t *ld, config_err_t *err)
{
    if (err)
        *err = ld->err;
}

/* Takes the reference to root (NULL after a jansson error described by jerr). */
static config_t *load_json(loader_t *ld, json_t *root, const json_error_t *jerr, const char *file,
                           config_err_t *err)
{
    config_t *cfg = NULL;

    if (root)
        cfg = load_root(ld, root);
    else
        fail_json(ld, jerr, file);
    json_decref(root);
    report(ld, err);
    return cfg;
}

static loader_t loader_init(char *errbuf, size_t errsize)
{
    loader_t ld = {.err = CONFIG_OK, .errbuf = errbuf, .errsize = errsize};

    if (errbuf && errsize > 0)
        errbuf[0] = '\0';
    return ld;
}

#define CONFIG_MAX_BYTES (16 << 20) /* more is not a configuration (/dev/zero) */
#define CONFIG_WAIT_MS 10000        /* a pipe or FIFO silent this long is given up */

/* Appends what one read brings; 1 at end of file, 0 for more, -1 on error. */
static int read_some(loader_t *ld, const char *path, int fd, char **buf, size_t *len)
{
    char chunk[65536];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n < 0)
        return fail(ld, CONFIG_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    if (n == 0)
        return 1;
    if (*len + (size_t)n > CONFIG_MAX_BYTES)
        return fail(ld, CONFIG_ERR_IO, "%s: larger than %d MB: not a configuration file", path,
                    CONFIG_MAX_BYTES >> 20);
    char *grown = realloc(*buf, *len + (size_t)n + 1);
    if (!grown)
        return fail_nomem(ld, path);
    memcpy(grown + *len, chunk, (size_t)n);
    *buf = grown;
    *len += (size_t)n;
    return 0;
}

/*
 * The whole file into a malloc'd buffer (caller frees). Never blocks for good:
 * the file is opened nonblocking, so a FIFO nobody writes gives end of file at
 * once (an error naming it), and a pipe that stays silent for CONFIG_WAIT_MS is
 * given up; a pipe that is written (bash's -c <(...)) is read to its end.
 */
static char *read_config_file(loader_t *ld, const char *path, size_t *len)
{
    struct stat st = {0};
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        fail(ld, CONFIG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    int done = 0;
    *len = 0;
    /* jansson reports a directory as an empty document; it is an I/O problem */
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
        done = fail(ld, CONFIG_ERR_IO, "%s: is a directory", path);
    /* reads first: a FIFO without writer is at its end at once (poll would wait) */
    for (int first = 1; done == 0; first = 0) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = first || S_ISREG(st.st_mode) ? 1 : poll(&pfd, 1, CONFIG_WAIT_MS);
        if (r == 0)
            done = fail(ld, CONFIG_ERR_IO, "%s: nothing to read for %d s (a pipe nobody writes)",
                        path, CONFIG_WAIT_MS / 1000);
        else if (r > 0 || errno == EINTR)
            done = read_some(ld, path, fd, &buf, len);
        else
            done = fail(ld, CONFIG_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    }
    close(fd);
    if (done == 1 && *len == 0 && S_ISFIFO(st.st_mode))
        done = fail(ld, CONFIG_ERR_IO, "%s: is a FIFO with no writer: pass a regular file", path);
    if (done != 1) {
        free(buf);
        return NULL;
    }
    return buf != NULL ? buf : strdup("");
}

config_t *config_load(const char *path, config_err_t *err, char *errbuf, size_t errsize)
{
    loader_t ld = loader_init(errbuf, errsize);
    json_error_t jerr;
    size_t len = 0;
    char *text = NULL;

    if (!path)
        fail(&ld, CONFIG_ERR_IO, "no configuration file given");
    else
        text = read_config_file(&ld, path, &len);
    if (!text) {
        report(&ld, err);
        return NULL;
    }
    /* a UTF-8 byte-order mark (some editors write one) is not part of the JSON */
    size_t skip = len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
    config_t *cfg =
        load_json(&ld, json_loadb(text + skip, len - skip, LOAD_FLAGS, &jerr), &jerr, path, err);
    free(text);
    return cfg;
}

config_t *config_load_string(const char *json, config_err_t *err, char *errbuf, size_t errsize)
{
    loader_t ld = loader_init(errbuf, errsize);
    json_error_t jerr;

    if (json)
        return load_json(&ld, json_loads(json, LOAD_FLAGS, &jerr), &jerr, NULL, err);
    fail(&ld, CONFIG_ERR_PARSE, "no configuration text given");
    report(&ld, err);
    return NULL;
}

int config_require_target(const config_t *cfg, char *errbuf, size_t errsize)
{
    if (cfg->target_conninfo != NULL)
        return 0;
    snprintf(errbuf, errsize, "target.conninfo: required (or set SYNCLINE_TARGET)");
    return -1;
}

/* ---- freeing ---- */

static void table_free(config_table_t *t)
{
    free(t->source.schema);
    free(t->source.name);
    free(t->target.schema);
    free(t->target.name);
    for (int i = 0; i < t->ncolumns; i++) {
        free(t->columns[i].target_column);
        free(t->columns[i].expression);
    }
    free(t->columns);
    for (int i = 0; i < t->nexclude; i++)
        free(t->exclude[i]);
    free(t->exclude);
    free(t->where);
    if (t->fallback) {
        table_free(t->fallback);
        free(t->fallback);
    }
    for (int i = 0; i < t->nkeep; i++)
        free(t->keep[i]);
    free(t->keep);
}

static void kafka_free(config_kafka_t *k)
{
    free(k->brokers);
    free(k->topic);
    free(k->format);
    free(k->partitioning);
    free(k->layout);
    free(k->topic_prefix);
    free(k->topics);
    free(k->schema_registry);
    for (int i = 0; i < k->nproperties; i++) { /* nproperties > 0: both arrays exist */
        free(k->property_keys[i]);
        free(k->property_values[i]);
    }
    free(k->property_keys);
    free(k->property_values);
}

void config_free(config_t *cfg)
{
    if (!cfg)
        return;
    free(cfg->name);
    free(cfg->source_conninfo);
    free(cfg->publication);
    free(cfg->slot);
    free(cfg->target_conninfo);
    for (int i = 0; i < cfg->ntables; i++)
        table_free(&cfg->tables[i]);
    free(cfg->tables);
    kafka_free(&cfg->kafka);
    free(cfg);
}

/* ---- qualified names ---- */

/*
 * Table names are written the SQL way, with one deliberate difference: an unquoted part
 * is kept exactly as written, not folded to lower case, so "Users" names the table whose
 * pg_class.relname is "Users". Quoting is still needed for a dot or a double quote
 * inside a part, and "" inside quotes is a literal quote. An unquoted part may not
 * contain '"' or '*'; the only wildcard is an unquoted "*" as the whole table part
 * ("schema.*"), and a quoted "*" table is refused since it would read as that pattern.
 */

/* Copies a quoted part starting at *sp (on the opening quote) into buf. */
static bool scan_quoted(const char **sp, char *buf, size_t *len)
{
    const char *s = *sp + 1;

    for (;; s++) {
        if (*s == '\0')
            return false;
        if (*s == '"' && s[1] != '"')
            break;
        if (*s == '"')
            s++;
        buf[(*len)++] = *s;
    }
    *sp = s + 1;
    return **sp == '.' || **sp == '\0';
}

static bool scan_unquoted(const char **sp, char *buf, size_t *len)
{
    const char *s = *sp;

    for (; *s != '.' && *s != '\0'; s++) {
        if (*s == '"')
            return false;
        buf[(*len)++] = *s;
    }
    *sp = s;
    return true;
}

/* Parses one part into a new string in *out and leaves *sp on the following '.' or NUL. */
static qname_rc_t qname_part(const char **sp, char **out, bool *quoted)
{
    char *buf = malloc(strlen(*sp) + 1);
    size_t len = 0;
    bool ok;

    if (!buf)
        return QNAME_NOMEM;
    *quoted = **sp == '"';
    ok = *quoted ? scan_quoted(sp, buf, &len) : scan_unquoted(sp, buf, &len);
    buf[len] = '\0';
    if (!ok || len == 0 || (!*quoted && strchr(buf, '*') && strcmp(buf, "*") != 0)) {
        free(buf);
        return QNAME_MALFORMED;
    }
    *out = buf;
    return QNAME_OK;
}

/* Wildcards: only an unquoted "*", only as the table part. */
static bool qname_wildcard_ok(const char *schema, bool schema_quoted, const char *name,
                              bool name_quoted)
{
    if (!schema_quoted && strcmp(schema, "*") == 0)
        return false;
    return !(name_quoted && strcmp(name, "*") == 0);
}

static qname_rc_t qname_parse(const char *s, config_qname_t *out)
{
    char *first = NULL, *second = NULL;
    bool q1 = false, q2 = false;
    qname_rc_t rc = qname_part(&s, &first, &q1);

    if (rc == QNAME_OK && *s == '.') {
        s++;
        rc = qname_part(&s, &second, &q2);
        if (rc == QNAME_OK && *s != '\0')
            rc = QNAME_MALFORMED; /* a third part */
    }
    if (rc == QNAME_OK && !second) { /* "table" alone is public.table */
        second = first;
        q2 = q1;
        first = strdup("public");
        q1 = true;
        rc = first ? QNAME_OK : QNAME_NOMEM;
    }
    if (rc == QNAME_OK && !qname_wildcard_ok(first, q1, second, q2))
        rc = QNAME_MALFORMED;
    if (rc != QNAME_OK) {
        free(first);
        free(second);
        return rc;
    }
    out->schema = first;
    out->name = second;
    return QNAME_OK;
}

bool config_parse_qname(const char *s, config_qname_t *out)
{
    return s && out && qname_parse(s, out) == QNAME_OK;
}

/* ---- lookup ---- */

static const config_table_t *find_entry(const config_t *cfg, const char *schema, const char *name,
                                        bool pattern)
{
    for (int i = 0; i < cfg->ntables; i++) {
        const config_table_t *t = &cfg->tables[i];

        if (qname_is_pattern(&t->source) == pattern && strcmp(t->source.schema, schema) == 0 &&
            (pattern || strcmp(t->source.name, name) == 0))
            return t;
    }
    return NULL;
}

const config_table_t *config_find_table(const config_t *cfg, const char *schema, const char *name)
{
    const config_table_t *t;

    if (!cfg || !schema || !name)
        return NULL;
    t = find_entry(cfg, schema, name, false);
    return t ? t : find_entry(cfg, schema, name, true);
}
