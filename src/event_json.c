/*
 * event_json: the JSON change envelope written straight to text.
 *
 * Why: building a jansson tree per change and dumping it cost capture about
 * 13 us of CPU per row, 90 % of it in jansson, malloc and printf
 * (bench/README.md, "Kafka path"). Appending to one growing buffer costs a
 * fraction of that. The members and their order are event_build's, so a
 * reader sees no difference; the unit tests compare both documents.
 */
#include "event_json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at p (lead byte >= 0x80), 0 if invalid:
 * overlong forms, surrogates and code points above U+10FFFF are refused, as
 * jansson refuses them. */
static size_t event_json_utf8_len(const unsigned char *p, size_t n)
{
    size_t len;
    uint32_t cp;
    if (p[0] >= 0xC2 && p[0] <= 0xDF) {
        len = 2;
        cp = p[0] & 0x1Fu;
    } else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        len = 3;
        cp = p[0] & 0x0Fu;
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        len = 4;
        cp = p[0] & 0x07u;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

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
            size_t len = event_json_utf8_len(u + i, n - i);
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
    snprintf(errbuf, errsize,
             "column \"%s\": binary value; the Kafka transport needs text values "
             "(set apply.binary to false)",
             col);
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

static int event_json_images(sbuf_t *b, const event_change_t *ch, sbuf_t *unchanged, char *errbuf,
                             size_t errsize)
{
    event_json_key(b, "before", 1);
    if (ch->old_kind != 0 && ch->old_tuple != NULL) {
        if (event_json_tuple(b, ch->rel, ch->old_tuple, ch->old_kind == 'K', unchanged, errbuf,
                             errsize) != 0)
            return -1;
    } else {
        sbuf_add(b, "null");
    }
    event_json_key(b, "after", 0);
    if (ch->op != EVENT_DELETE && ch->op != EVENT_TRUNCATE && ch->new_tuple != NULL)
        return event_json_tuple(b, ch->rel, ch->new_tuple, 0, unchanged, errbuf, errsize);
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

static int event_json_source(event_json_t *out, const event_change_t *ch, const event_txn_t *txn,
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
    if (event_json_name(b, ch->rel->nspname, errbuf, errsize) != 0)
        return -1;
    event_json_key(b, "table", 0);
    if (event_json_name(b, ch->rel->relname, errbuf, errsize) != 0)
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

static void event_json_meta(sbuf_t *b, const event_change_t *ch, const sbuf_t *unchanged)
{
    char ri[2] = {ch->rel->replident, '\0'}, old[2] = {ch->old_kind, '\0'};
    event_json_key(b, "syncline", 0);
    sbuf_addc(b, '{');
    event_json_key(b, "relid", 1);
    sbuf_add_int(b, (long long)ch->rel->relid);
    event_json_key(b, "replident", 0);
    (void)event_json_string(b, ri, strlen(ri));
    event_json_key(b, "old", 0);
    if (ch->old_kind)
        (void)event_json_string(b, old, 1);
    else
        sbuf_add(b, "null");
    event_json_key(b, "unchanged", 0);
    sbuf_addn(b, unchanged->s, unchanged->len);
    sbuf_addc(b, ']');
    event_json_key(b, "columns", 0);
    event_json_columns(b, ch->rel);
    event_json_key(b, "truncate", 0);
    if (ch->op == EVENT_TRUNCATE) {
        sbuf_addc(b, '{');
        event_json_key(b, "options", 1);
        sbuf_add_int(b, (long long)ch->truncate_options);
        event_json_key(b, "n", 0);
        sbuf_add_int(b, (long long)ch->truncate_n);
        event_json_key(b, "i", 0);
        sbuf_add_int(b, (long long)ch->truncate_i);
        sbuf_addc(b, '}');
    } else {
        sbuf_add(b, "null");
    }
    sbuf_add(b, "}}");
}

int event_json_write(event_json_t *out, const event_change_t *ch, const event_txn_t *txn,
                     const char *name, char *errbuf, size_t errsize)
{
    char op[2] = {(char)ch->op, '\0'};
    sbuf_t unchanged = {0};
    event_json_clear(out);
    sbuf_t *b = &out->text;
    sbuf_addc(b, '{');
    sbuf_addc(&unchanged, '[');
    int rc = event_json_images(b, ch, &unchanged, errbuf, errsize);
    if (rc == 0)
        rc = event_json_source(out, ch, txn, name, errbuf, errsize);
    if (rc == 0) {
        event_json_key(b, "op", 0);
        (void)event_json_string(b, op, 1);
        event_json_key(b, "ts_ms", 0);
        sbuf_add_int(b, (long long)event_ts_ms(txn->commit_time));
        event_json_meta(b, ch, &unchanged);
    }
    if (rc == 0 && (b->oom || unchanged.oom)) {
        snprintf(errbuf, errsize, "out of memory encoding a change of %s.%s", ch->rel->nspname,
                 ch->rel->relname);
        rc = -1;
    }
    sbuf_clear(&unchanged);
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
