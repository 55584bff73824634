/*
 * event_json: the JSON change envelope written straight to text.
 *
 * Why: building a jansson tree per change and dumping it cost capture about
 * 13 us of CPU per row, 90 % of it in jansson, malloc and printf
 * (bench/README.md, "Kafka path"). Appending to one growing buffer costs a
 * fraction of that. The members and their order are the reference encoder's
 * (tests/support/event_oracle.c), so a reader sees no difference; the unit tests compare both
 * documents.
 */
#include "event/event_json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ddl.h"
#include "core/utf8.h"

static void event_json_escape(sbuf_t *b, unsigned char c)
{
    static const char hex[] = "0123456789ABCDEF";
    switch (c) {
    case '"':
        sbuf_add(b, "\\\"");
        return;
    case '\\':
        sbuf_add(b, "\\\\");
        return;
    case '\b':
        sbuf_add(b, "\\b");
        return;
    case '\f':
        sbuf_add(b, "\\f");
        return;
    case '\n':
        sbuf_add(b, "\\n");
        return;
    case '\r':
        sbuf_add(b, "\\r");
        return;
    case '\t':
        sbuf_add(b, "\\t");
        return;
    default: {
        char u[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], '\0'};
        sbuf_add(b, u);
    }
    }
}

/* Appends s[0..n) as a JSON string; -1 when it is not valid UTF-8. */
static int event_json_string(sbuf_t *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t run = 0, i = 0;
    sbuf_addc(b, '"');
    while (i < n) {
        if (u[i] >= 0x80) {
            size_t len = utf8_seq_len(u + i, n - i);
            if (len == 0)
                return -1;
            i += len;
            continue;
        }
        if (u[i] >= 0x20 && u[i] != '"' && u[i] != '\\') {
            i++;
            continue;
        }
        sbuf_addn(b, s + run, i - run);
        event_json_escape(b, u[i]);
        run = ++i;
    }
    sbuf_addn(b, s + run, n - run);
    sbuf_addc(b, '"');
    return 0;
}

/* "key": with a leading comma unless first. Keys are ASCII literals. */
static void event_json_key(sbuf_t *b, const char *key, int first)
{
    if (!first)
        sbuf_addc(b, ',');
    sbuf_addc(b, '"');
    sbuf_add(b, key);
    sbuf_add(b, "\":");
}

/* A name from the catalog (column, schema, table), refused if not UTF-8. */
static int event_json_name(sbuf_t *b, const char *name, char *errbuf, size_t errsize)
{
    if (event_json_string(b, name, strlen(name)) == 0)
        return 0;
    snprintf(errbuf, errsize, "name \"%s\" is not valid UTF-8", name);
    return -1;
}

static int event_json_value(sbuf_t *b, const change_value_t *v, const char *col, sbuf_t *unchanged,
                            char *errbuf, size_t errsize)
{
    switch (v->kind) {
    case CHANGE_NULL:
        sbuf_add(b, "null");
        return 0;
    case CHANGE_UNCHANGED:
        if (unchanged->len > 1)
            sbuf_addc(unchanged, ',');
        (void)event_json_string(unchanged, col, strlen(col)); /* checked as a key already */
        sbuf_add(b, "\"" EVENT_UNAVAILABLE "\"");
        return 0;
    case CHANGE_TEXT:
        if (event_json_string(b, v->data, v->len) == 0)
            return 0;
        snprintf(errbuf, errsize, "column \"%s\": value is not valid UTF-8", col);
        return -1;
    case CHANGE_BINARY:
        break;
    }
    event_refuse_binary(col, errbuf, errsize);
    return -1;
}

/* {column: text|null} of a row image; key_only keeps the identity columns. */
static int event_json_tuple(sbuf_t *b, const change_relation_t *rel, const change_tuple_t *t,
                            int key_only, sbuf_t *unchanged, char *errbuf, size_t errsize)
{
    int first = 1;
    sbuf_addc(b, '{');
    for (int c = 0; c < rel->ncols && c < t->ncols; c++) {
        if (key_only && !rel->cols[c].is_key)
            continue;
        const char *name = rel->cols[c].name;
        if (!first)
            sbuf_addc(b, ',');
        first = 0;
        if (event_json_name(b, name, errbuf, errsize) != 0)
            return -1;
        sbuf_addc(b, ':');
        if (event_json_value(b, &t->values[c], name, unchanged, errbuf, errsize) != 0)
            return -1;
    }
    sbuf_addc(b, '}');
    return 0;
}

static int event_json_images(sbuf_t *b, const change_row_t *row, sbuf_t *unchanged, char *errbuf,
                             size_t errsize)
{
    event_json_key(b, "before", 1);
    if (row->old_kind != 0 && row->old_tuple != NULL) {
        if (event_json_tuple(b, row->rel, row->old_tuple, row->old_kind == 'K', unchanged, errbuf,
                             errsize) != 0)
            return -1;
    } else {
        sbuf_add(b, "null");
    }
    event_json_key(b, "after", 0);
    if (row->op != CHANGE_DELETE && row->op != CHANGE_TRUNCATE && row->new_tuple != NULL)
        return event_json_tuple(b, row->rel, row->new_tuple, 0, unchanged, errbuf, errsize);
    sbuf_add(b, "null");
    return 0;
}

static void event_json_lsn_string(sbuf_t *b, lsn_t lsn)
{
    char l[LSN_STRLEN];
    sbuf_addc(b, '"');
    sbuf_add(b, lsn_format(lsn, l, sizeof(l)));
    sbuf_addc(b, '"');
}

static int event_json_source(event_json_t *out, const change_row_t *row, const event_txn_t *txn,
                             const char *name, char *errbuf, size_t errsize)
{
    sbuf_t *b = &out->text;
    event_json_key(b, "source", 0);
    sbuf_addc(b, '{');
    event_json_key(b, "version", 1);
    sbuf_add(b, "\"" SYNCLINE_VERSION "\"");
    event_json_key(b, "connector", 0);
    sbuf_add(b, "\"postgresql\"");
    event_json_key(b, "name", 0);
    if (event_json_name(b, name, errbuf, errsize) != 0)
        return -1;
    event_json_key(b, "schema", 0);
    if (event_json_name(b, row->rel->nspname, errbuf, errsize) != 0)
        return -1;
    event_json_key(b, "table", 0);
    if (event_json_name(b, row->rel->relname, errbuf, errsize) != 0)
        return -1;
    event_json_key(b, "txId", 0);
    sbuf_add_int(b, (long long)txn->xid);
    event_json_key(b, "lsn", 0);
    sbuf_add_int(b, (long long)txn->commit_lsn);
    event_json_key(b, "ts_ms", 0);
    sbuf_add_int(b, (long long)event_ts_ms(txn->commit_time));
    event_json_key(b, "commit_lsn", 0);
    event_json_lsn_string(b, txn->commit_lsn);
    event_json_key(b, "end_lsn", 0);
    out->end_lsn_at = b->len;
    if (txn->last)
        event_json_lsn_string(b, txn->end_lsn);
    else
        sbuf_add(b, "null");
    event_json_key(b, "xid", 0);
    sbuf_add_int(b, (long long)txn->xid);
    event_json_key(b, "seq", 0);
    sbuf_add_int(b, (long long)txn->seq);
    event_json_key(b, "last", 0);
    out->last_at = b->len;
    sbuf_add(b, txn->last ? "true}" : "false}");
    return 0;
}

static void event_json_columns(sbuf_t *b, const change_relation_t *rel)
{
    sbuf_addc(b, '[');
    for (int c = 0; c < rel->ncols; c++) {
        const change_column_t *col = &rel->cols[c];
        sbuf_add(b, c == 0 ? "{" : ",{");
        event_json_key(b, "name", 1);
        (void)event_json_string(b, col->name, strlen(col->name)); /* checked with the images */
        event_json_key(b, "type", 0);
        sbuf_add_int(b, (long long)col->type_oid);
        event_json_key(b, "typmod", 0);
        sbuf_add_int(b, (long long)col->typmod);
        event_json_key(b, "key", 0);
        sbuf_add(b, col->is_key ? "true}" : "false}");
    }
    sbuf_addc(b, ']');
}

static void event_json_meta(sbuf_t *b, const change_row_t *row, const event_truncate_t *tpos,
                            const sbuf_t *unchanged)
{
    char ri[2] = {row->rel->replident, '\0'}, old[2] = {row->old_kind, '\0'};
    event_json_key(b, "syncline", 0);
    sbuf_addc(b, '{');
    event_json_key(b, "relid", 1);
    sbuf_add_int(b, (long long)row->rel->relid);
    event_json_key(b, "replident", 0);
    (void)event_json_string(b, ri, strlen(ri));
    event_json_key(b, "old", 0);
    if (row->old_kind)
        (void)event_json_string(b, old, 1);
    else
        sbuf_add(b, "null");
    event_json_key(b, "unchanged", 0);
    sbuf_addn(b, unchanged->s, unchanged->len);
    sbuf_addc(b, ']');
    event_json_key(b, "columns", 0);
    event_json_columns(b, row->rel);
    event_json_key(b, "truncate", 0);
    if (row->op == CHANGE_TRUNCATE) {
        sbuf_addc(b, '{');
        event_json_key(b, "options", 1);
        sbuf_add_int(b, (long long)tpos->options);
        event_json_key(b, "n", 0);
        sbuf_add_int(b, (long long)tpos->n);
        event_json_key(b, "i", 0);
        sbuf_add_int(b, (long long)tpos->i);
        sbuf_addc(b, '}');
    } else {
        sbuf_add(b, "null");
    }
    sbuf_add(b, "}}");
}

int event_json_write(event_json_t *out, const change_row_t *row, const event_truncate_t *tpos,
                     const event_txn_t *txn, const char *name, char *errbuf, size_t errsize)
{
    static const event_truncate_t zeros = {0};
    char op[2] = {(char)event_op_of(row->op), '\0'};
    sbuf_t unchanged = {0};
    event_json_clear(out);
    sbuf_t *b = &out->text;
    sbuf_addc(b, '{');
    sbuf_addc(&unchanged, '[');
    int rc = event_json_images(b, row, &unchanged, errbuf, errsize);
    if (rc == 0)
        rc = event_json_source(out, row, txn, name, errbuf, errsize);
    if (rc == 0) {
        event_json_key(b, "op", 0);
        (void)event_json_string(b, op, 1);
        event_json_key(b, "ts_ms", 0);
        sbuf_add_int(b, (long long)event_ts_ms(txn->commit_time));
        event_json_meta(b, row, tpos != NULL ? tpos : &zeros, &unchanged);
    }
    if (rc == 0 && (b->oom || unchanged.oom)) {
        snprintf(errbuf, errsize, "out of memory encoding a change of %s.%s", row->rel->nspname,
                 row->rel->relname);
        rc = -1;
    }
    sbuf_clear(&unchanged);
    if (rc != 0)
        event_json_clear(out);
    return rc;
}

int event_json_write_ddl(event_json_t *out, const event_ddl_t *d, const event_txn_t *txn,
                         const char *name, char *errbuf, size_t errsize)
{
    change_relation_t none = {.nspname = "", .relname = ""};
    change_row_t row = {.rel = &none};
    char l[LSN_STRLEN];
    event_json_clear(out);
    sbuf_t *b = &out->text;
    sbuf_addc(b, '{');
    event_json_key(b, "before", 1);
    sbuf_add(b, "null");
    event_json_key(b, "after", 0);
    sbuf_add(b, "null");
    int rc = event_json_source(out, &row, txn, name, errbuf, errsize);
    if (rc == 0) {
        event_json_key(b, "op", 0);
        sbuf_add(b, "\"m\"");
        event_json_key(b, "ts_ms", 0);
        sbuf_add_int(b, (long long)event_ts_ms(txn->commit_time));
        event_json_key(b, "message", 0);
        sbuf_addc(b, '{');
        event_json_key(b, "prefix", 1);
        sbuf_add(b, "\"" DDL_MESSAGE_PREFIX "\"");
        event_json_key(b, "content", 0);
        if (event_json_string(b, d->content, d->len) != 0) {
            snprintf(errbuf, errsize, "DDL message at lsn=%s is not valid UTF-8",
                     lsn_format(d->lsn, l, sizeof(l)));
            rc = -1;
        }
    }
    if (rc == 0) {
        event_json_key(b, "lsn", 0);
        event_json_lsn_string(b, d->lsn);
        sbuf_add(b, "}}");
    }
    if (rc == 0 && b->oom) {
        snprintf(errbuf, errsize, "out of memory encoding the DDL message at lsn=%s",
                 lsn_format(d->lsn, l, sizeof(l)));
        rc = -1;
    }
    if (rc != 0)
        event_json_clear(out);
    return rc;
}

char *event_json_take(event_json_t *ev, lsn_t end_lsn, size_t *len)
{
    if (end_lsn == 0 || ev->text.oom || ev->text.s == NULL) {
        *len = ev->text.len;
        char *s = sbuf_take(&ev->text);
        event_json_clear(ev);
        return s;
    }
    const char *s = ev->text.s;
    sbuf_t b = {0};
    sbuf_addn(&b, s, ev->end_lsn_at);
    event_json_lsn_string(&b, end_lsn);
    sbuf_addn(&b, s + ev->end_lsn_at + 4, ev->last_at - ev->end_lsn_at - 4); /* past null */
    sbuf_add(&b, "true");
    sbuf_add(&b, s + ev->last_at + 5); /* past false */
    event_json_clear(ev);
    *len = b.len;
    return sbuf_take(&b);
}

void event_json_clear(event_json_t *ev)
{
    sbuf_clear(&ev->text);
    memset(ev, 0, sizeof(*ev));
}

/* ---- reading ------------------------------------------------------------- */

/*
 * The reader takes the compact envelope event_json_write (or the reference encoder)
 * makes, members in that order, and nothing else: any other shape, an escape
 * it does not take, a number that is not a plain integer, a value that is
 * not a string or null, answers 0 and event_decode parses the message with
 * jansson, which also reports what is wrong with it. So a message reads the
 * same either way; fuzz_event_json checks that.
 */

typedef struct event_json_reader {
    const char *p, *end;
    char *out; /* next free byte of the string arena */
} event_json_reader_t;

typedef struct event_json_pair {
    const char *name;
    change_value_t value;
    int used;
} event_json_pair_t;

typedef struct event_json_image {
    int present; /* an object, not null */
    event_json_pair_t *pairs;
    int n, cap;
} event_json_image_t;

static void event_json_ws(event_json_reader_t *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
        r->p++;
}

/* Skips white space and c; 0 when c is not next. */
static int event_json_char(event_json_reader_t *r, char c)
{
    event_json_ws(r);
    if (r->p >= r->end || *r->p != c)
        return 0;
    r->p++;
    return 1;
}

static int event_json_word(event_json_reader_t *r, const char *word)
{
    size_t n = strlen(word);
    event_json_ws(r);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
        return 0;
    r->p += n;
    return 1;
}

static int event_json_hex4(const char *p, uint32_t *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = (c >= '0' && c <= '9')   ? c - '0'
                : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                         : -1;
        if (d < 0)
            return 0;
        *v = (*v << 4) | (uint32_t)d;
    }
    return 1;
}

static char *event_json_put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* A \u escape at r->p (past the backslash and u); surrogate pairs joined.
 * U+0000 and lone surrogates are left to jansson, which refuses them. */
static int event_json_unicode(event_json_reader_t *r, char **o)
{
    uint32_t cp, lo;
    if (r->end - r->p < 4 || !event_json_hex4(r->p, &cp) || cp == 0 ||
        (cp >= 0xDC00 && cp <= 0xDFFF))
        return 0;
    r->p += 4;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' ||
            !event_json_hex4(r->p + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
            return 0;
        r->p += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    *o = event_json_put_utf8(*o, cp);
    return 1;
}

static int event_json_unescape(event_json_reader_t *r, char **o)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    if (r->p >= r->end)
        return 0;
    char c = *r->p++;
    if (c == 'u')
        return event_json_unicode(r, o);
    const char *k = c != '\0' ? strchr(from, c) : NULL;
    if (k == NULL)
        return 0;
    *(*o)++ = to[k - from];
    return 1;
}

/* A string into the arena, NUL-terminated: *s and *n. */
static int event_json_str(event_json_reader_t *r, const char **s, size_t *n)
{
    if (!event_json_char(r, '"'))
        return 0;
    char *start = r->out, *o = r->out;
    while (r->p < r->end && *r->p != '"') {
        unsigned char c = (unsigned char)*r->p;
        if (c == '\\') {
            r->p++;
            if (!event_json_unescape(r, &o))
                return 0;
        } else if (c >= 0x80) {
            size_t len = utf8_seq_len((const unsigned char *)r->p, (size_t)(r->end - r->p));
            if (len == 0)
                return 0;
            memcpy(o, r->p, len);
            o += len;
            r->p += len;
        } else if (c < 0x20) {
            return 0;
        } else {
            *o++ = *r->p++;
        }
    }
    if (r->p >= r->end)
        return 0;
    r->p++;
    *o = '\0';
    *s = start;
    *n = (size_t)(o - start);
    r->out = o + 1;
    return 1;
}

/* "key": */
static int event_json_key_is(event_json_reader_t *r, const char *key)
{
    const char *s;
    size_t n;
    return event_json_str(r, &s, &n) && n == strlen(key) && memcmp(s, key, n) == 0 &&
           event_json_char(r, ':');
}

/* A plain integer: -?(0|[1-9][0-9]*) within int64. */
static int event_json_int(event_json_reader_t *r, int64_t *v)
{
    event_json_ws(r);
    int neg = r->p < r->end && *r->p == '-';
    const char *d = r->p + neg;
    uint64_t u = 0;
    const char *q = d;
    while (q < r->end && *q >= '0' && *q <= '9') {
        if (u > (UINT64_MAX - 9) / 10)
            return 0;
        u = u * 10 + (uint64_t)(*q - '0');
        q++;
    }
    if (q == d || (*d == '0' && q - d > 1) ||
        (q < r->end && (*q == '.' || *q == 'e' || *q == 'E')) || u > (uint64_t)INT64_MAX + neg)
        return 0;
    *v = neg ? (int64_t)(0 - u) : (int64_t)u;
    r->p = q;
    return 1;
}

static int event_json_member_int(event_json_reader_t *r, const char *key, int64_t *v, int first)
{
    return (first || event_json_char(r, ',')) && event_json_key_is(r, key) && event_json_int(r, v);
}

static int event_json_member_str(event_json_reader_t *r, const char *key, const char **s, int first)
{
    size_t n;
    return (first || event_json_char(r, ',')) && event_json_key_is(r, key) &&
           event_json_str(r, s, &n);
}

/* A string or null (*s NULL). */
static int event_json_member_str_or_null(event_json_reader_t *r, const char *key, const char **s)
{
    size_t n;
    if (!event_json_char(r, ',') || !event_json_key_is(r, key))
        return 0;
    *s = NULL;
    return event_json_word(r, "null") || event_json_str(r, s, &n);
}

static int event_json_member_bool(event_json_reader_t *r, const char *key, bool *b)
{
    if (!event_json_char(r, ',') || !event_json_key_is(r, key))
        return 0;
    if (event_json_word(r, "true"))
        *b = true;
    else if (event_json_word(r, "false"))
        *b = false;
    else
        return 0;
    return 1;
}

static int event_json_pair_add(event_json_image_t *img, const char *name, change_value_t v)
{
    if (img->n == img->cap) {
        int cap = img->cap ? img->cap * 2 : 16;
        event_json_pair_t *p = realloc(img->pairs, (size_t)cap * sizeof(*p));
        if (p == NULL)
            return 0;
        img->pairs = p;
        img->cap = cap;
    }
    img->pairs[img->n++] = (event_json_pair_t){.name = name, .value = v};
    return 1;
}

/* null, or {name: string|null, ...}. */
static int event_json_image(event_json_reader_t *r, event_json_image_t *img)
{
    if (event_json_word(r, "null"))
        return 1;
    if (!event_json_char(r, '{'))
        return 0;
    img->present = 1;
    if (event_json_char(r, '}'))
        return 1;
    do {
        const char *name, *s;
        size_t n;
        change_value_t v = {.kind = CHANGE_NULL};
        if (!event_json_str(r, &name, &n) || !event_json_char(r, ':'))
            return 0;
        if (!event_json_word(r, "null")) {
            if (!event_json_str(r, &s, &n) || n > UINT32_MAX)
                return 0;
            v = (change_value_t){.kind = CHANGE_TEXT, .len = (uint32_t)n, .data = s};
        }
        if (!event_json_pair_add(img, name, v))
            return 0;
    } while (event_json_char(r, ','));
    return event_json_char(r, '}');
}

/* What the reader collected; strings point into the arena. */
typedef struct event_json_doc {
    event_json_image_t before, after;
    event_parts_t f;
    event_json_image_t unchanged; /* names only */
    int capcols;                  /* of f.cols */
} event_json_doc_t;

static void event_json_doc_free(event_json_doc_t *d)
{
    free(d->before.pairs);
    free(d->after.pairs);
    free(d->unchanged.pairs);
    free(d->f.cols);
}

static int event_json_source_in(event_json_reader_t *r, event_json_doc_t *d)
{
    const char *ignored;
    int64_t iv;
    return event_json_char(r, ',') && event_json_key_is(r, "source") && event_json_char(r, '{') &&
           event_json_member_str(r, "version", &ignored, 1) &&
           event_json_member_str(r, "connector", &ignored, 0) &&
           event_json_member_str(r, "name", &ignored, 0) &&
           event_json_member_str(r, "schema", &d->f.schema, 0) &&
           event_json_member_str(r, "table", &d->f.table, 0) &&
           event_json_member_int(r, "txId", &iv, 0) && event_json_member_int(r, "lsn", &iv, 0) &&
           event_json_member_int(r, "ts_ms", &d->f.ts_ms, 0) &&
           event_json_member_str(r, "commit_lsn", &d->f.commit_lsn, 0) &&
           event_json_member_str_or_null(r, "end_lsn", &d->f.end_lsn) &&
           event_json_member_int(r, "xid", &d->f.xid, 0) &&
           event_json_member_int(r, "seq", &d->f.seq, 0) &&
           event_json_member_bool(r, "last", &d->f.last) && event_json_char(r, '}');
}

/* ["name", ...] */
static int event_json_unchanged_in(event_json_reader_t *r, event_json_doc_t *d)
{
    if (!event_json_char(r, ',') || !event_json_key_is(r, "unchanged") || !event_json_char(r, '['))
        return 0;
    if (event_json_char(r, ']'))
        return 1;
    do {
        const char *name;
        size_t n;
        change_value_t none = {.kind = CHANGE_NULL};
        if (!event_json_str(r, &name, &n) || !event_json_pair_add(&d->unchanged, name, none))
            return 0;
    } while (event_json_char(r, ','));
    return event_json_char(r, ']');
}

static int event_json_column_in(event_json_reader_t *r, event_json_doc_t *d)
{
    const char *name;
    int64_t type, typmod;
    bool key;
    if (!event_json_char(r, '{') || !event_json_member_str(r, "name", &name, 1) ||
        !event_json_member_int(r, "type", &type, 0) ||
        !event_json_member_int(r, "typmod", &typmod, 0) ||
        !event_json_member_bool(r, "key", &key) || !event_json_char(r, '}'))
        return 0;
    if (d->f.ncols == d->capcols) {
        int cap = d->capcols ? d->capcols * 2 : 16;
        change_column_t *c = realloc(d->f.cols, (size_t)cap * sizeof(*c));
        if (c == NULL)
            return 0;
        d->f.cols = c;
        d->capcols = cap;
    }
    d->f.cols[d->f.ncols++] = (change_column_t){
        .name = (char *)name, .type_oid = (uint32_t)type, .typmod = (int32_t)typmod, .is_key = key};
    return 1;
}

static int event_json_truncate_in(event_json_reader_t *r, event_json_doc_t *d)
{
    if (!event_json_char(r, ',') || !event_json_key_is(r, "truncate"))
        return 0;
    if (event_json_word(r, "null"))
        return 1;
    d->f.truncate = 1;
    return event_json_char(r, '{') && event_json_member_int(r, "options", &d->f.t_options, 1) &&
           event_json_member_int(r, "n", &d->f.t_n, 0) &&
           event_json_member_int(r, "i", &d->f.t_i, 0) && event_json_char(r, '}');
}

static int event_json_meta_in(event_json_reader_t *r, event_json_doc_t *d)
{
    if (!event_json_char(r, ',') || !event_json_key_is(r, "syncline") || !event_json_char(r, '{') ||
        !event_json_member_int(r, "relid", &d->f.relid, 1) ||
        !event_json_member_str(r, "replident", &d->f.replident, 0) ||
        !event_json_member_str_or_null(r, "old", &d->f.old) || !event_json_unchanged_in(r, d) ||
        !event_json_char(r, ',') || !event_json_key_is(r, "columns") || !event_json_char(r, '['))
        return 0;
    if (!event_json_char(r, ']')) {
        do {
            if (!event_json_column_in(r, d))
                return 0;
        } while (event_json_char(r, ','));
        if (!event_json_char(r, ']'))
            return 0;
    }
    return event_json_truncate_in(r, d) && event_json_char(r, '}');
}

static int event_json_doc_in(event_json_reader_t *r, event_json_doc_t *d)
{
    int64_t iv;
    if (!event_json_char(r, '{') || !event_json_key_is(r, "before") ||
        !event_json_image(r, &d->before) || !event_json_char(r, ',') ||
        !event_json_key_is(r, "after") || !event_json_image(r, &d->after) ||
        !event_json_source_in(r, d) || !event_json_member_str(r, "op", &d->f.op, 0) ||
        !event_json_member_int(r, "ts_ms", &iv, 0) || !event_json_meta_in(r, d) ||
        !event_json_char(r, '}'))
        return 0;
    event_json_ws(r);
    return r->p == r->end;
}

/* A row image by the relation's columns; every member of the image must
 * name a column once (else jansson decides). */
static int event_json_tuple_in(event_json_image_t *img, const event_json_doc_t *d,
                               const event_json_image_t *unchanged, change_tuple_t *t)
{
    t->ncols = d->f.ncols;
    t->values = calloc((size_t)(d->f.ncols > 0 ? d->f.ncols : 1), sizeof(*t->values));
    if (t->values == NULL)
        return 0;
    int used = 0;
    for (int c = 0, hint = 0; c < d->f.ncols; c++) {
        const char *name = d->f.cols[c].name;
        t->values[c].kind = CHANGE_NULL;
        for (int k = 0; k < img->n; k++) {
            event_json_pair_t *p = &img->pairs[(hint + k) % img->n];
            if (strcmp(p->name, name) != 0)
                continue;
            t->values[c] = p->value;
            used += !p->used;
            p->used = 1;
            hint = (int)(p - img->pairs) + 1;
            break;
        }
        for (int k = 0; unchanged != NULL && k < unchanged->n; k++) {
            if (strcmp(unchanged->pairs[k].name, name) == 0)
                t->values[c].kind = CHANGE_UNCHANGED;
        }
    }
    return used == img->n;
}

static int event_json_event(event_json_doc_t *d, event_t *ev)
{
    if (!event_from_parts(ev, &d->f))
        return 0;
    ev->has_old = d->before.present;
    ev->has_new = d->after.present;
    if (ev->has_old && !event_json_tuple_in(&d->before, d, NULL, &ev->old_tuple))
        return 0;
    return !ev->has_new || event_json_tuple_in(&d->after, d, &d->unchanged, &ev->new_tuple);
}

int event_json_read(const char *buf, size_t len, event_t *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->strings = malloc(len + 1);
    if (ev->strings == NULL)
        return 0;
    event_json_reader_t r = {.p = buf, .end = buf + len, .out = ev->strings};
    event_json_doc_t d = {0};
    int ok = event_json_doc_in(&r, &d) && event_json_event(&d, ev);
    event_json_doc_free(&d);
    if (!ok)
        event_clear(ev);
    return ok;
}
