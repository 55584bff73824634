/*
 * event_avro_read: the Avro change envelope read straight from bytes.
 *
 * Why: avro-c's generic values and the jansson tree built from them put a
 * third of apply's CPU samples in malloc and free (perf; bench/README.md,
 * "What changed in the evening of 2026-12-05"). A writer schema derived by
 * event_schema_derive has a fixed layout, so its datum can be walked in
 * place: the plan records the Value record's column types once per writer
 * schema.
 *
 * The reader must read a message exactly as the generic path does or leave
 * it. It leaves every datum that is not plainly canonical (a union branch,
 * boolean, int or long outside what the writer emits, an array in blocks
 * with byte sizes, trailing bytes), every message the generic path refuses
 * (bad UTF-8, an LSN that does not parse, ts_ms or truncate out of range)
 * and duplicate column names, which the generic path maps by name.
 */
#include "event/event_avro_read.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sbuf.h"
#include "core/utf8.h"

/* ---- the plan ------------------------------------------------------------- */

typedef struct event_avro_read_spec {
    const char *name;
    avro_type_t type;
} event_avro_read_spec_t;

static const event_avro_read_spec_t event_avro_read_spec_top[] = {
    {"op", AVRO_STRING},     {"before", AVRO_UNION}, {"after", AVRO_UNION},
    {"source", AVRO_RECORD}, {"ts_ms", AVRO_INT64},  {"syncline", AVRO_RECORD}};
static const event_avro_read_spec_t event_avro_read_spec_source[] = {
    {"version", AVRO_STRING}, {"connector", AVRO_STRING}, {"name", AVRO_STRING},
    {"schema", AVRO_STRING},  {"table", AVRO_STRING},     {"txId", AVRO_INT64},
    {"lsn", AVRO_INT64},      {"ts_ms", AVRO_INT64},      {"commit_lsn", AVRO_STRING},
    {"end_lsn", AVRO_UNION},  {"xid", AVRO_INT64},        {"seq", AVRO_INT64},
    {"last", AVRO_BOOLEAN}};
static const event_avro_read_spec_t event_avro_read_spec_meta[] = {
    {"relid", AVRO_INT64},     {"replident", AVRO_STRING}, {"old", AVRO_UNION},
    {"unchanged", AVRO_ARRAY}, {"columns", AVRO_ARRAY},    {"truncate", AVRO_UNION}};
static const event_avro_read_spec_t event_avro_read_spec_column[] = {
    {"name", AVRO_STRING}, {"type", AVRO_INT64}, {"typmod", AVRO_INT32}, {"key", AVRO_BOOLEAN}};
static const event_avro_read_spec_t event_avro_read_spec_truncate[] = {
    {"options", AVRO_INT32}, {"n", AVRO_INT32}, {"i", AVRO_INT32}};

#define EVENT_AVRO_READ_N(a) (sizeof(a) / sizeof((a)[0]))

static avro_schema_t event_avro_read_deref(avro_schema_t s)
{
    return s != NULL && is_avro_link(s) ? avro_schema_link_target(s) : s;
}

static avro_schema_t event_avro_read_field(avro_schema_t rec, size_t i)
{
    return event_avro_read_deref(avro_schema_record_field_get_by_index(rec, (int)i));
}

/* rec is a record whose fields have these names and types, in this order. */
static bool event_avro_read_fields(avro_schema_t rec, const event_avro_read_spec_t *spec, size_t n)
{
    if (rec == NULL || !is_avro_record(rec) || avro_schema_record_size(rec) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        avro_schema_t f = event_avro_read_field(rec, i);
        const char *name = avro_schema_record_field_name(rec, (int)i);
        if (f == NULL || name == NULL || strcmp(name, spec[i].name) != 0 ||
            avro_typeof(f) != spec[i].type)
            return false;
    }
    return true;
}

/* ["null", X]: X, or NULL. */
static avro_schema_t event_avro_read_nullable(avro_schema_t u)
{
    if (u == NULL || !is_avro_union(u) || avro_schema_union_size(u) != 2)
        return NULL;
    avro_schema_t first = event_avro_read_deref(avro_schema_union_branch(u, 0));
    if (first == NULL || !is_avro_null(first))
        return NULL;
    return event_avro_read_deref(avro_schema_union_branch(u, 1));
}

static bool event_avro_read_type(avro_schema_t s, event_schema_type_t *out)
{
    static const struct {
        avro_type_t avro;
        event_schema_type_t type;
    } map[] = {{AVRO_STRING, EVENT_SCHEMA_STRING}, {AVRO_BOOLEAN, EVENT_SCHEMA_BOOLEAN},
               {AVRO_INT32, EVENT_SCHEMA_INT},     {AVRO_INT64, EVENT_SCHEMA_LONG},
               {AVRO_FLOAT, EVENT_SCHEMA_FLOAT},   {AVRO_DOUBLE, EVENT_SCHEMA_DOUBLE},
               {AVRO_BYTES, EVENT_SCHEMA_BYTES}};
    for (size_t i = 0; s != NULL && i < EVENT_AVRO_READ_N(map); i++) {
        if (avro_typeof(s) == map[i].avro) {
            *out = map[i].type;
            return true;
        }
    }
    return false;
}

/* The fixed parts: source, syncline (with its column and truncate records). */
static bool event_avro_read_fixed(avro_schema_t top)
{
    avro_schema_t meta = event_avro_read_field(top, 5);
    avro_schema_t end_lsn =
        event_avro_read_nullable(event_avro_read_field(event_avro_read_field(top, 3), 9));
    if (!event_avro_read_fields(event_avro_read_field(top, 3), event_avro_read_spec_source,
                                EVENT_AVRO_READ_N(event_avro_read_spec_source)) ||
        end_lsn == NULL || !is_avro_string(end_lsn) ||
        !event_avro_read_fields(meta, event_avro_read_spec_meta,
                                EVENT_AVRO_READ_N(event_avro_read_spec_meta)))
        return false;
    avro_schema_t old = event_avro_read_nullable(event_avro_read_field(meta, 2));
    avro_schema_t unchanged =
        event_avro_read_deref(avro_schema_array_items(event_avro_read_field(meta, 3)));
    avro_schema_t column =
        event_avro_read_deref(avro_schema_array_items(event_avro_read_field(meta, 4)));
    avro_schema_t truncate = event_avro_read_nullable(event_avro_read_field(meta, 5));
    return old != NULL && is_avro_string(old) && unchanged != NULL && is_avro_string(unchanged) &&
           event_avro_read_fields(column, event_avro_read_spec_column,
                                  EVENT_AVRO_READ_N(event_avro_read_spec_column)) &&
           event_avro_read_fields(truncate, event_avro_read_spec_truncate,
                                  EVENT_AVRO_READ_N(event_avro_read_spec_truncate));
}

void event_avro_plan_init(event_avro_plan_t *plan, avro_schema_t schema)
{
    memset(plan, 0, sizeof(*plan));
    avro_schema_t top = event_avro_read_deref(schema);
    if (!event_avro_read_fields(top, event_avro_read_spec_top,
                                EVENT_AVRO_READ_N(event_avro_read_spec_top)) ||
        !event_avro_read_fixed(top))
        return;
    avro_schema_t value = event_avro_read_nullable(event_avro_read_field(top, 1));
    if (value == NULL || !is_avro_record(value) ||
        event_avro_read_nullable(event_avro_read_field(top, 2)) != value ||
        strcmp(avro_schema_type_name(value), "Value") != 0)
        return;
    size_t n = avro_schema_record_size(value);
    event_schema_type_t *types = calloc(n + 1, sizeof(*types));
    for (size_t i = 0; types != NULL && i < n; i++) {
        if (!event_avro_read_type(event_avro_read_nullable(event_avro_read_field(value, i)),
                                  &types[i])) {
            free(types);
            return;
        }
    }
    plan->types = types;
    plan->ncols = (int)n;
    for (size_t i = 0; i < n; i++)
        plan->numbers += types[i] != EVENT_SCHEMA_STRING && types[i] != EVENT_SCHEMA_BYTES;
}

void event_avro_plan_clear(event_avro_plan_t *plan)
{
    free(plan->types);
    free(plan->seen);
    memset(plan, 0, sizeof(*plan));
}

/* ---- typed values as PostgreSQL text --------------------------------------- */

/*
 * PostgreSQL's float text (extra_float_digits > 0): the shortest digits that
 * read back as the same value, fixed-point for decimal exponents from -4 up
 * to 14 (float8) or 5 (float4), else d.ddde+XX.
 */
size_t event_avro_read_float(double d, bool single, char out[EVENT_AVRO_READ_FLOATLEN])
{
    if (isnan(d))
        return (size_t)snprintf(out, EVENT_AVRO_READ_FLOATLEN, "NaN");
    if (isinf(d))
        return (size_t)snprintf(out, EVENT_AVRO_READ_FLOATLEN, "%s",
                                d > 0 ? "Infinity" : "-Infinity");
    int digits = 1;
    for (; digits < 17; digits++) {
        snprintf(out, EVENT_AVRO_READ_FLOATLEN, "%.*e", digits - 1, d);
        if (single ? strtof(out, NULL) == (float)d : strtod(out, NULL) == d)
            break;
    }
    snprintf(out, EVENT_AVRO_READ_FLOATLEN, "%.*e", digits - 1, d);
    int exp = atoi(strchr(out, 'e') + 1);
    if (exp >= -4 && exp < (single ? 6 : 15))
        snprintf(out, EVENT_AVRO_READ_FLOATLEN, "%.*f", digits - 1 - exp > 0 ? digits - 1 - exp : 0,
                 d);
    return strlen(out);
}

size_t event_avro_read_bytea(const uint8_t *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    out[0] = '\\';
    out[1] = 'x';
    for (size_t i = 0; i < n; i++) {
        out[2 + 2 * i] = hex[p[i] >> 4];
        out[3 + 2 * i] = hex[p[i] & 15];
    }
    out[2 * n + 2] = '\0';
    return 2 * n + 2;
}

/* ---- the datum ------------------------------------------------------------- */

typedef struct event_avro_reader {
    const uint8_t *p, *end;
    char *out; /* next free byte of the arena (ev->strings) */
} event_avro_reader_t;

/* A varint of at most max bytes (raw, before zig-zag). */
static bool event_avro_read_varint(event_avro_reader_t *r, int max, uint64_t *u)
{
    *u = 0;
    for (int i = 0; i < max && r->p < r->end; i++) {
        uint8_t b = *r->p++;
        *u |= (uint64_t)(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0)
            return i < 9 || b <= 1; /* the tenth byte holds one bit */
    }
    return false;
}

static bool event_avro_read_long(event_avro_reader_t *r, int64_t *v)
{
    uint64_t u;
    if (!event_avro_read_varint(r, 10, &u))
        return false;
    *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return true;
}

static bool event_avro_read_int(event_avro_reader_t *r, int32_t *v)
{
    uint64_t u;
    if (!event_avro_read_varint(r, 5, &u) || u > UINT32_MAX)
        return false;
    *v = (int32_t)((int64_t)(u >> 1) ^ -(int64_t)(u & 1));
    return true;
}

static bool event_avro_read_bool(event_avro_reader_t *r, bool *b)
{
    if (r->p >= r->end || *r->p > 1)
        return false;
    *b = *r->p++ == 1;
    return true;
}

/* A union ["null", X]: false for null, true for X; *ok false when neither. */
static bool event_avro_read_branch(event_avro_reader_t *r, bool *ok)
{
    if (r->p < r->end && (*r->p == 0 || *r->p == 2))
        return *r->p++ == 2;
    *ok = false;
    return false;
}

static bool event_avro_read_bytes(event_avro_reader_t *r, const uint8_t **s, size_t *n)
{
    int64_t len;
    if (!event_avro_read_long(r, &len) || len < 0 || len > r->end - r->p)
        return false;
    *s = r->p;
    *n = (size_t)len;
    r->p += len;
    return true;
}

/* A string, valid UTF-8, copied NUL-terminated into the arena (*s). */
static bool event_avro_read_string(event_avro_reader_t *r, const char **s, size_t *n)
{
    const uint8_t *b;
    if (!event_avro_read_bytes(r, &b, n) || !utf8_valid((const char *)b, *n))
        return false;
    memcpy(r->out, b, *n);
    r->out[*n] = '\0';
    *s = r->out;
    r->out += *n + 1;
    return true;
}

/* A string the event does not keep: only checked. */
static bool event_avro_read_skip_string(event_avro_reader_t *r)
{
    const uint8_t *b;
    size_t n;
    return event_avro_read_bytes(r, &b, &n) && utf8_valid((const char *)b, n);
}

static void event_avro_read_decimal(event_avro_reader_t *r, int64_t v, change_value_t *out)
{
    out->len = (uint32_t)sbuf_int_text(v, r->out);
    r->out[out->len] = '\0';
}

static uint64_t event_avro_read_le(const uint8_t *p, int n)
{
    uint64_t u = 0;
    for (int i = n - 1; i >= 0; i--)
        u = (u << 8) | p[i];
    return u;
}

/* A float or double's text into the arena. */
static bool event_avro_read_real(event_avro_reader_t *r, bool single, change_value_t *out)
{
    int n = single ? 4 : 8;
    if (r->end - r->p < n)
        return false;
    uint64_t u = event_avro_read_le(r->p, n);
    double d;
    if (single) {
        uint32_t u32 = (uint32_t)u;
        float f;
        memcpy(&f, &u32, sizeof(f));
        d = f;
    } else {
        memcpy(&d, &u, sizeof(d));
    }
    r->p += n;
    out->len = (uint32_t)event_avro_read_float(d, single, r->out);
    return true;
}

/* The typed value of one column as its text (in the arena). */
static bool event_avro_read_typed(event_avro_reader_t *r, event_schema_type_t type,
                                  change_value_t *out)
{
    const uint8_t *b;
    size_t n;
    int64_t l;
    int32_t i;
    bool flag;
    out->kind = CHANGE_TEXT;
    out->data = r->out;
    switch (type) {
    case EVENT_SCHEMA_STRING:
        if (!event_avro_read_string(r, &out->data, &n))
            return false;
        out->len = (uint32_t)n;
        return true;
    case EVENT_SCHEMA_BYTES:
        if (!event_avro_read_bytes(r, &b, &n))
            return false;
        out->len = (uint32_t)event_avro_read_bytea(b, n, r->out);
        break;
    case EVENT_SCHEMA_BOOLEAN:
        if (!event_avro_read_bool(r, &flag))
            return false;
        r->out[0] = flag ? 't' : 'f';
        r->out[1] = '\0';
        out->len = 1;
        break;
    case EVENT_SCHEMA_INT:
        if (!event_avro_read_int(r, &i))
            return false;
        event_avro_read_decimal(r, i, out);
        break;
    case EVENT_SCHEMA_LONG:
        if (!event_avro_read_long(r, &l))
            return false;
        event_avro_read_decimal(r, l, out);
        break;
    case EVENT_SCHEMA_FLOAT:
    case EVENT_SCHEMA_DOUBLE:
        if (!event_avro_read_real(r, type == EVENT_SCHEMA_FLOAT, out))
            return false;
        break;
    }
    r->out += out->len + 1;
    return true;
}

/* before/after: absent, or a Value record (values into t, plan->ncols of them). */
static bool event_avro_read_image(event_avro_reader_t *r, const event_avro_plan_t *plan,
                                  bool *present, change_tuple_t *t)
{
    bool ok = true;
    *present = event_avro_read_branch(r, &ok);
    if (!ok || !*present)
        return ok;
    t->ncols = plan->ncols;
    t->values = calloc((size_t)(plan->ncols > 0 ? plan->ncols : 1), sizeof(*t->values));
    if (t->values == NULL)
        return false;
    for (int c = 0; c < plan->ncols; c++) {
        t->values[c].kind = CHANGE_NULL;
        if (event_avro_read_branch(r, &ok) &&
            !event_avro_read_typed(r, plan->types[c], &t->values[c]))
            return false;
        if (!ok)
            return false;
    }
    return true;
}

/* What the reader collected besides the images; strings in the arena. */
typedef struct event_avro_read_doc {
    event_parts_t f;
    const char **unchanged;
    int nunchanged;
    const uint8_t *cols_at, *cols_end; /* the columns section of the datum */
} event_avro_read_doc_t;

static bool event_avro_read_source(event_avro_reader_t *r, event_avro_read_doc_t *d)
{
    size_t n;
    int64_t ignored;
    bool ok = true;
    if (!event_avro_read_skip_string(r) || !event_avro_read_skip_string(r) ||
        !event_avro_read_skip_string(r) || !event_avro_read_string(r, &d->f.schema, &n) ||
        !event_avro_read_string(r, &d->f.table, &n) || !event_avro_read_long(r, &ignored) ||
        !event_avro_read_long(r, &ignored) || !event_avro_read_long(r, &d->f.ts_ms) ||
        !event_avro_read_string(r, &d->f.commit_lsn, &n))
        return false;
    if (event_avro_read_branch(r, &ok) && !event_avro_read_string(r, &d->f.end_lsn, &n))
        return false;
    return ok && event_avro_read_long(r, &d->f.xid) && event_avro_read_long(r, &d->f.seq) &&
           event_avro_read_bool(r, &d->f.last);
}

/* An array's one block of count items (or none); arrays in several blocks
 * or with byte sizes are left to the generic path. */
static bool event_avro_read_count(event_avro_reader_t *r, int64_t *count)
{
    return event_avro_read_long(r, count) && *count >= 0 && *count <= r->end - r->p;
}

static bool event_avro_read_unchanged(event_avro_reader_t *r, event_avro_read_doc_t *d)
{
    int64_t count, more;
    size_t n;
    if (!event_avro_read_count(r, &count))
        return false;
    if (count > 0 && (d->unchanged = calloc((size_t)count, sizeof(*d->unchanged))) == NULL)
        return false;
    for (int64_t i = 0; i < count; i++) {
        if (!event_avro_read_string(r, &d->unchanged[i], &n))
            return false;
    }
    d->nunchanged = (int)count;
    return count == 0 || (event_avro_read_long(r, &more) && more == 0);
}

static bool event_avro_read_columns(event_avro_reader_t *r, event_avro_read_doc_t *d)
{
    int64_t count, more, type;
    size_t n;
    d->cols_at = r->p;
    if (!event_avro_read_count(r, &count))
        return false;
    if (count > 0 && (d->f.cols = calloc((size_t)count, sizeof(*d->f.cols))) == NULL)
        return false;
    for (int64_t i = 0; i < count; i++) {
        change_column_t *c = &d->f.cols[i];
        const char *name;
        if (!event_avro_read_string(r, &name, &n) || !event_avro_read_long(r, &type) ||
            !event_avro_read_int(r, &c->typmod) || !event_avro_read_bool(r, &c->is_key))
            return false;
        c->name = (char *)name;
        c->type_oid = (uint32_t)type;
    }
    d->f.ncols = (int)count;
    if (count > 0 && (!event_avro_read_long(r, &more) || more != 0))
        return false;
    d->cols_end = r->p;
    return true;
}

static bool event_avro_read_meta(event_avro_reader_t *r, event_avro_read_doc_t *d)
{
    size_t n;
    bool ok = true;
    if (!event_avro_read_long(r, &d->f.relid) || !event_avro_read_string(r, &d->f.replident, &n))
        return false;
    if (event_avro_read_branch(r, &ok) && !event_avro_read_string(r, &d->f.old, &n))
        return false;
    if (!ok || !event_avro_read_unchanged(r, d) || !event_avro_read_columns(r, d))
        return false;
    d->f.truncate = event_avro_read_branch(r, &ok);
    if (!ok)
        return false;
    int32_t options, tn, ti;
    if (!d->f.truncate)
        return true;
    if (!event_avro_read_int(r, &options) || !event_avro_read_int(r, &tn) ||
        !event_avro_read_int(r, &ti))
        return false;
    d->f.t_options = options;
    d->f.t_n = tn;
    d->f.t_i = ti;
    return true;
}

/* No column name twice (the generic path maps images by name). A columns
 * section found clean is remembered: a relation's messages repeat it. */
static bool event_avro_read_unique(event_avro_plan_t *plan, const event_avro_read_doc_t *d)
{
    size_t len = (size_t)(d->cols_end - d->cols_at);
    if (plan->seen != NULL && plan->seen_len == len && memcmp(plan->seen, d->cols_at, len) == 0)
        return true;
    for (int a = 0; a < d->f.ncols; a++) {
        for (int b = a + 1; b < d->f.ncols; b++) {
            if (strcmp(d->f.cols[a].name, d->f.cols[b].name) == 0)
                return false;
        }
    }
    char *copy = malloc(len + 1);
    if (copy != NULL) {
        memcpy(copy, d->cols_at, len);
        free(plan->seen);
        plan->seen = copy;
        plan->seen_len = len;
    }
    return true;
}

/* The new image's unchanged TOAST columns, by name. */
static void event_avro_read_mark(const event_avro_read_doc_t *d, change_tuple_t *t)
{
    for (int k = 0; k < d->nunchanged; k++) {
        for (int c = 0; c < d->f.ncols; c++) {
            if (strcmp(d->unchanged[k], d->f.cols[c].name) == 0)
                t->values[c].kind = CHANGE_UNCHANGED;
        }
    }
}

static bool event_avro_read_event(event_avro_plan_t *plan, event_avro_read_doc_t *d, event_t *ev)
{
    if ((ev->has_old || ev->has_new) &&
        (d->f.ncols != plan->ncols || !event_avro_read_unique(plan, d)))
        return false;
    if (!event_from_parts(ev, &d->f))
        return false;
    if (ev->has_new)
        event_avro_read_mark(d, &ev->new_tuple);
    return true;
}

/* Arena room: strings and bytea at most triple their bytes; each number's
 * text (in both images) gets 32 bytes. */
static size_t event_avro_read_room(const event_avro_plan_t *plan, size_t len)
{
    return 3 * len + 64 + 2 * 32 * (size_t)plan->numbers + (size_t)EVENT_AVRO_READ_FLOATLEN;
}

int event_avro_read(event_avro_plan_t *plan, const uint8_t *p, size_t len, event_t *ev)
{
    memset(ev, 0, sizeof(*ev));
    if (plan->types == NULL || (ev->strings = malloc(event_avro_read_room(plan, len))) == NULL)
        return 0;
    event_avro_reader_t r = {.p = p, .end = p + len, .out = ev->strings};
    event_avro_read_doc_t d = {0};
    size_t n;
    int64_t ts_ms;
    bool ok = event_avro_read_string(&r, &d.f.op, &n) &&
              event_avro_read_image(&r, plan, &ev->has_old, &ev->old_tuple) &&
              event_avro_read_image(&r, plan, &ev->has_new, &ev->new_tuple) &&
              event_avro_read_source(&r, &d) && event_avro_read_long(&r, &ts_ms) &&
              event_avro_read_meta(&r, &d) && r.p == r.end && event_avro_read_event(plan, &d, ev);
    free(d.unchanged);
    free(d.f.cols);
    if (!ok)
        event_clear(ev);
    return ok;
}
