/*
 * ddl: parses the event trigger's DDL messages and decides, under the
 * configuration, what the applier does with each. Pure: no I/O.
 *
 * Design. The event trigger (connectors/pg/pg_ddl.c) sees the client's whole
 * query string (current_query()), which may hold several statements, and
 * counts the DDL commands of one query string within its transaction: the
 * event carries that ordinal. Here the query is split at top-level
 * semicolons and the ordinal-th statement that fires event triggers is the
 * one to replay, checked against the command tag. DDL run from inside a DO
 * block or a function has no statement of its own: it is refused (stop)
 * rather than guessed. Replaying the statement text, rather than rebuilding
 * DDL from catalog diffs, keeps renames, USING clauses and constraint names
 * exactly as written; it limits following to identity-mapped tables.
 */
#include "core/ddl.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- parsing ------------------------------------------------------------- */

int ddl_message_split(const char *content, size_t len, const char **sig, const char **body,
                      size_t *body_len)
{
    if (len <= DDL_SIG_HEX)
        return -1;
    for (size_t i = 0; i < DDL_SIG_HEX; i++)
        if (!isxdigit((unsigned char)content[i]))
            return -1;
    *sig = content;
    *body = content + DDL_SIG_HEX;
    *body_len = len - DDL_SIG_HEX;
    return 0;
}

static char *ddl_dup_field(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s != NULL ? strdup(s) : NULL;
}

static int ddl_parse_object(json_t *o, ddl_object_t *out)
{
    out->type = ddl_dup_field(o, "type");
    out->identity = ddl_dup_field(o, "identity");
    out->schema = ddl_dup_field(o, "schema");
    out->table_schema = ddl_dup_field(o, "table_schema");
    out->table = ddl_dup_field(o, "table");
    if (out->table == NULL || out->table_schema == NULL) {
        free(out->table);
        free(out->table_schema);
        out->table = out->table_schema = NULL;
    }
    if (out->identity == NULL) /* none for a GRANT's object */
        out->identity = strdup("");
    return out->type != NULL && out->identity != NULL ? 0 : -1;
}

int ddl_event_parse(const char *json, size_t len, ddl_event_t *ev, char *errbuf, size_t errsize)
{
    memset(ev, 0, sizeof(*ev));
    json_error_t je;
    json_t *root = json_loadb(json, len, 0, &je);
    if (root == NULL) {
        snprintf(errbuf, errsize, "DDL message is not JSON: %s", je.text);
        return -1;
    }
    ev->tag = ddl_dup_field(root, "tag");
    ev->query = ddl_dup_field(root, "query");
    ev->search_path = ddl_dup_field(root, "search_path");
    ev->ordinal = (int)json_integer_value(json_object_get(root, "ordinal"));
    ev->error = ddl_dup_field(root, "error");
    const char *xid = json_string_value(json_object_get(root, "xid"));
    ev->xid = xid != NULL ? strtoull(xid, NULL, 10) : 0;
    json_t *objs = json_object_get(root, "objects");
    size_t n = json_is_array(objs) ? json_array_size(objs) : 0;
    int rc =
        ev->tag != NULL && ev->query != NULL && ev->search_path != NULL && ev->ordinal > 0 ? 0 : -1;
    if (rc == 0 && n > 0 && (ev->objects = calloc(n, sizeof(*ev->objects))) == NULL)
        rc = -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = ddl_parse_object(json_array_get(objs, i), &ev->objects[i]);
        ev->nobjects = (int)i + 1;
    }
    json_decref(root);
    if (rc != 0)
        snprintf(errbuf, errsize,
                 "DDL message lacks tag, query, search_path, ordinal or an "
                 "object's type (or out of memory)");
    return rc;
}

void ddl_event_clear(ddl_event_t *ev)
{
    for (int i = 0; i < ev->nobjects; i++) {
        free(ev->objects[i].type);
        free(ev->objects[i].identity);
        free(ev->objects[i].schema);
        free(ev->objects[i].table_schema);
        free(ev->objects[i].table);
    }
    free(ev->objects);
    free(ev->tag);
    free(ev->query);
    free(ev->search_path);
    free(ev->error);
    memset(ev, 0, sizeof(*ev));
}

/* ---- splitting a query string into statements ---------------------------- */

/* Past a dollar quote's opening tag at s ("$$" or "$tag$"), or s when none. */
static const char *ddl_dollar_tag_end(const char *s)
{
    const char *p = s + 1;
    if (isdigit((unsigned char)*p))
        return s; /* $1: a parameter */
    while (isalnum((unsigned char)*p) || *p == '_')
        p++;
    return *p == '$' ? p + 1 : s;
}

/* Past the quoted, commented or dollar-quoted section starting at p, or p
 * itself when nothing starts there. escapes: p opens an E'' string. */
static const char *ddl_skip_quoted_e(const char *p, int escapes)
{
    if (p[0] == '-' && p[1] == '-') {
        const char *e = strchr(p, '\n');
        return e ? e + 1 : p + strlen(p);
    }
    if (p[0] == '/' && p[1] == '*') {
        int depth = 1;
        const char *q = p + 2;
        for (; *q && depth > 0; q++) {
            if (q[0] == '/' && q[1] == '*')
                depth++, q++;
            else if (q[0] == '*' && q[1] == '/')
                depth--, q++;
        }
        return q;
    }
    if (*p == '\'' || *p == '"') {
        char c = *p;
        escapes = escapes && c == '\'';
        const char *q = p + 1;
        for (; *q; q++) {
            if (escapes && *q == '\\' && q[1])
                q++;
            else if (*q == c && q[1] == c)
                q++;
            else if (*q == c)
                return q + 1;
        }
        return q;
    }
    if (*p == '$') {
        const char *t = ddl_dollar_tag_end(p);
        if (t == p)
            return p;
        size_t tl = (size_t)(t - p);
        for (const char *q = t; *q; q++)
            if (*q == '$' && strncmp(q, p, tl) == 0)
                return q + tl;
        return p + strlen(p);
    }
    return p;
}

static const char *ddl_skip_quoted(const char *p)
{
    return ddl_skip_quoted_e(p, 0);
}

/* Past whitespace and comments. */
static const char *ddl_skip_blank(const char *p)
{
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if ((p[0] == '-' && p[1] == '-') || (p[0] == '/' && p[1] == '*'))
            p = ddl_skip_quoted(p);
        else
            return p;
    }
}

/* End of the statement starting at p: its top-level ';' or the NUL. */
static const char *ddl_statement_end(const char *p)
{
    const char *start = p;
    while (*p && *p != ';') {
        int e = p > start && (p[-1] == 'E' || p[-1] == 'e') &&
                (p - 1 == start || !isalnum((unsigned char)p[-2]));
        const char *q = ddl_skip_quoted_e(p, e);
        p = q != p ? q : p + 1;
    }
    return p;
}

/* The first n words of s (names, qualified names; a quoted name counts as
 * the word Q), uppercased, space separated, into buf. Stops at anything else. */
static void ddl_keywords(const char *s, const char *end, int n, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int w = 0; w < n; w++) {
        s = ddl_skip_blank(s);
        if (s >= end || !(isalnum((unsigned char)*s) || *s == '_' || *s == '"'))
            return;
        if (w > 0 && o + 1 < size)
            buf[o++] = ' ';
        while (s < end && (isalnum((unsigned char)*s) || *s == '_' || *s == '.' || *s == '"')) {
            if (*s == '"') {
                s = ddl_skip_quoted(s);
                if (o + 1 < size)
                    buf[o++] = 'Q';
                continue;
            }
            if (o + 1 < size)
                buf[o++] = (char)toupper((unsigned char)*s);
            s++;
        }
        buf[o] = '\0';
    }
}

static int ddl_has_word(const char *words, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = words; (p = strstr(p, w)) != NULL; p += n)
        if ((p == words || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return 1;
    return 0;
}

/* Does a statement with these leading keywords fire ddl_command_end? */
static int ddl_fires(const char *kw)
{
    static const char *const global[] = {"DATABASE",   "ROLE",   "USER",  "GROUP",
                                         "TABLESPACE", "SYSTEM", "EVENT", NULL};
    char first[16] = "", second[32] = "";
    sscanf(kw, "%15s %31s", first, second);
    if (strcmp(first, "CREATE") == 0 || strcmp(first, "ALTER") == 0 || strcmp(first, "DROP") == 0) {
        for (int i = 0; global[i]; i++)
            if (strcmp(second, global[i]) == 0)
                return 0;
        return 1;
    }
    if (strcmp(first, "GRANT") == 0 || strcmp(first, "REVOKE") == 0)
        return ddl_has_word(kw, "ON");
    return strcmp(first, "COMMENT") == 0 || strcmp(first, "SECURITY") == 0 ||
           strcmp(first, "IMPORT") == 0 || strcmp(first, "REFRESH") == 0;
}

/* Do the statement's keywords fit the command tag? The tag's first word
 * starts the statement and its last word (the object kind) follows. */
static int ddl_fits_tag(const char *kw, const char *tag)
{
    size_t n = strcspn(tag, " ");
    if (strncmp(kw, tag, n) != 0 || (kw[n] != ' ' && kw[n] != '\0'))
        return 0;
    const char *last = strrchr(tag, ' ');
    return last == NULL || ddl_has_word(kw + n, last + 1);
}

static char *ddl_trimmed_dup(const char *s, const char *end)
{
    while (end > s && isspace((unsigned char)end[-1]))
        end--;
    size_t n = (size_t)(end - s);
    char *out = malloc(n + 1);
    if (out != NULL) {
        memcpy(out, s, n);
        out[n] = '\0';
    }
    return out;
}

char *ddl_statement(const ddl_event_t *ev, char *errbuf, size_t errsize)
{
    int seen = 0;
    char kw[256];
    for (const char *p = ev->query; *p;) {
        const char *s = ddl_skip_blank(p);
        const char *e = ddl_statement_end(s);
        p = *e ? e + 1 : e;
        ddl_keywords(s, e, 8, kw, sizeof(kw));
        if (strncmp(kw, "DO", 2) == 0 && (kw[2] == ' ' || kw[2] == '\0')) {
            snprintf(errbuf, errsize, "the command (%s) ran inside a DO block", ev->tag);
            return NULL;
        }
        if (!ddl_fires(kw) || ++seen < ev->ordinal)
            continue;
        if (!ddl_fits_tag(kw, ev->tag))
            break;
        char *out = ddl_trimmed_dup(s, e);
        if (out == NULL)
            snprintf(errbuf, errsize, "out of memory");
        return out;
    }
    snprintf(errbuf, errsize,
             "the command (%s) is not statement %d of its query string: it ran inside a "
             "function or procedure",
             ev->tag, ev->ordinal);
    return NULL;
}

/* Removes the word CONCURRENTLY from CREATE/DROP INDEX (within its first
 * words): the target runs the command inside its apply transaction, where
 * CONCURRENTLY is refused. */
static void ddl_strip_concurrently(char *stmt)
{
    char *p = stmt;
    for (int w = 0; w < 6; w++) {
        p = (char *)ddl_skip_blank(p);
        char *word = p;
        while (isalnum((unsigned char)*p) || *p == '_')
            p++;
        if (p == word)
            return;
        if (p - word == 12 && strncasecmp(word, "CONCURRENTLY", 12) == 0) {
            memmove(word, p, strlen(p) + 1);
            return;
        }
    }
}

int ddl_is_add_column(const char *stmt)
{
    char kw[128];
    const char *end = stmt + strlen(stmt);
    ddl_keywords(stmt, end, 2, kw, sizeof(kw));
    if (strcmp(kw, "ALTER TABLE") != 0)
        return 0;
    /* one subcommand: no comma outside parentheses and quotes */
    int depth = 0;
    for (const char *p = stmt; *p;) {
        const char *q = ddl_skip_quoted(p);
        if (q != p) {
            p = q;
            continue;
        }
        depth += *p == '(' ? 1 : *p == ')' ? -1 : 0;
        if (*p == ',' && depth == 0)
            return 0;
        p++;
    }
    /* ALTER TABLE [IF EXISTS] [ONLY] name ADD ...: ADD within the first words,
     * and not ADD CONSTRAINT / PRIMARY / UNIQUE / FOREIGN / CHECK / EXCLUDE */
    ddl_keywords(stmt, end, 8, kw, sizeof(kw));
    const char *add = strstr(kw, " ADD");
    if (add == NULL || (add[4] != ' ' && add[4] != '\0'))
        return 0;
    static const char *const not_column[] = {"CONSTRAINT", "PRIMARY", "UNIQUE",
                                             "FOREIGN",    "CHECK",   "EXCLUDE"};
    for (size_t i = 0; i < sizeof(not_column) / sizeof(*not_column); i++) {
        size_t n = strlen(not_column[i]);
        if (strncmp(add + 5, not_column[i], n) == 0 && (add[5 + n] == ' ' || add[5 + n] == '\0'))
            return 0;
    }
    return 1;
}

void ddl_summary(const char *stmt, char *buf, size_t size)
{
    size_t o = 0;
    int space = 0;
    if (size == 0)
        return;
    for (const char *p = stmt; *p && o + 1 < size; p++) {
        if (isspace((unsigned char)*p)) {
            space = o > 0;
            continue;
        }
        if (space && o + 2 < size)
            buf[o++] = ' ';
        space = 0;
        buf[o++] = *p;
    }
    buf[o] = '\0';
    if (o + 1 >= size && size > 4)
        memcpy(buf + size - 4, "...", 4);
}

/* ---- deciding ------------------------------------------------------------ */

/* Commands replayed on the target; anything else is skipped. */
static int ddl_tag_applies(const char *tag)
{
    static const char *const kinds[] = {"TABLE",  "INDEX",  "SEQUENCE", "TYPE",
                                        "DOMAIN", "SCHEMA", NULL};
    char verb[16] = "", kind[32] = "", extra[16] = "";
    int n = sscanf(tag, "%15s %31s %15s", verb, kind, extra);
    if (n != 2 ||
        (strcmp(verb, "CREATE") != 0 && strcmp(verb, "ALTER") != 0 && strcmp(verb, "DROP") != 0))
        return 0;
    for (int i = 0; kinds[i]; i++)
        if (strcmp(kind, kinds[i]) == 0)
            return 1;
    return 0;
}

/* Is the table entry t mapped, i.e. not the same table under the same name? */
static int ddl_mapped(const config_table_t *t)
{
    return t != NULL && (strcmp(t->source.schema, t->target.schema) != 0 ||
                         strcmp(t->source.name, t->target.name) != 0 || t->ncolumns > 0 ||
                         t->nexclude > 0 || t->where != NULL);
}

/* Is schema.name synced? *entry: its tables entry (NULL: none, or no list). */
static int ddl_in_sync(const config_t *cfg, const char *schema, const char *name,
                       const config_table_t **entry)
{
    *entry = NULL;
    if (strcmp(schema, "syncline") == 0 || strncmp(schema, "pg_", 3) == 0)
        return 0;
    if (!cfg->has_tables)
        return 1;
    *entry = config_find_table(cfg, schema, name);
    return *entry != NULL && !(*entry)->skip;
}

/* Does a schema hold a synced table (for objects of no table: types...)? */
static int ddl_schema_synced(const config_t *cfg, const char *schema)
{
    if (schema == NULL || strcmp(schema, "syncline") == 0 || strncmp(schema, "pg_", 3) == 0)
        return 0;
    if (!cfg->has_tables)
        return 1;
    for (int i = 0; i < cfg->ntables; i++)
        if (!cfg->tables[i].skip && strcmp(cfg->tables[i].source.schema, schema) == 0)
            return 1;
    return 0;
}

typedef struct ddl_scope {
    int tables;                 /* objects belonging to a table */
    int synced;                 /* ...to a synced one */
    int others_synced;          /* objects of no table in a synced schema */
    config_ddl_t mode;          /* combined: stop > apply > ignore */
    const ddl_object_t *mapped; /* a synced table the configuration maps */
    const config_table_t *mapped_entry;
} ddl_scope_t;

static config_ddl_t ddl_stronger(config_ddl_t a, config_ddl_t b)
{
    if (a == CONFIG_DDL_STOP || b == CONFIG_DDL_STOP)
        return CONFIG_DDL_STOP;
    if (a == CONFIG_DDL_APPLY || b == CONFIG_DDL_APPLY)
        return CONFIG_DDL_APPLY;
    return CONFIG_DDL_IGNORE;
}

static void ddl_scope(const config_t *cfg, const ddl_event_t *ev, ddl_scope_t *sc)
{
    memset(sc, 0, sizeof(*sc));
    sc->mode = CONFIG_DDL_UNSET;
    for (int i = 0; i < ev->nobjects; i++) {
        const ddl_object_t *o = &ev->objects[i];
        const config_table_t *entry;
        if (o->table == NULL) {
            if (ddl_schema_synced(cfg, o->schema)) {
                sc->others_synced++;
                sc->mode = ddl_stronger(sc->mode, config_ddl_mode(cfg, NULL));
            }
            continue;
        }
        sc->tables++;
        if (!ddl_in_sync(cfg, o->table_schema, o->table, &entry))
            continue;
        sc->synced++;
        sc->mode = ddl_stronger(sc->mode, config_ddl_mode(cfg, entry));
        if (ddl_mapped(entry) && sc->mapped == NULL) {
            sc->mapped = o;
            sc->mapped_entry = entry;
        }
    }
}

/* A mapped table takes the statement when it is an ADD COLUMN passed through
 * unchanged (same table name, no columns list): 1, else 0. */
static int ddl_mapped_takes(const config_table_t *t, const char *stmt)
{
    return ddl_is_add_column(stmt) && strcmp(t->source.schema, t->target.schema) == 0 &&
           strcmp(t->source.name, t->target.name) == 0 && t->ncolumns == 0;
}

static void ddl_stop_mapped(const ddl_scope_t *sc, const char *summary, ddl_decision_t *out)
{
    out->action = DDL_STOP;
    snprintf(out->reason, sizeof(out->reason),
             "DDL on table %s.%s, which the configuration maps (target name, columns, exclude "
             "or where), cannot be translated: %s; apply the matching change on the target by "
             "hand, update its tables entry, then run again with --ddl-applied (or set \"ddl\": "
             "\"ignore\" on that table)",
             sc->mapped->table_schema, sc->mapped->table, summary);
}

int ddl_decide(const config_t *cfg, const ddl_event_t *ev, ddl_decision_t *out)
{
    memset(out, 0, sizeof(*out));
    ddl_scope_t sc;
    ddl_scope(cfg, ev, &sc);
    char summary[400];
    ddl_summary(ev->query, summary, sizeof(summary));
    if (ev->error != NULL) {
        out->action = DDL_STOP;
        snprintf(out->reason, sizeof(out->reason),
                 "the source's DDL event trigger could not describe %s (%s): %s; apply it on "
                 "the target by hand, then run again with --ddl-applied",
                 ev->tag, ev->error, summary);
        return 0;
    }
    if (sc.synced == 0 && sc.others_synced == 0) {
        out->action = DDL_SKIP;
        snprintf(out->reason, sizeof(out->reason), "%s touches no synced table", ev->tag);
        return 0;
    }
    if (sc.mode == CONFIG_DDL_IGNORE) {
        out->action = DDL_SKIP;
        snprintf(out->reason, sizeof(out->reason), "%s ignored (\"ddl\": \"ignore\")", ev->tag);
        return 0;
    }
    if (!ddl_tag_applies(ev->tag)) {
        int creates =
            strcmp(ev->tag, "CREATE TABLE AS") == 0 || strcmp(ev->tag, "SELECT INTO") == 0;
        out->action = creates ? DDL_STOP : DDL_SKIP;
        snprintf(out->reason, sizeof(out->reason),
                 creates ? "%s cannot be replayed on the target (it would query the target's "
                           "data): create the table on the target by hand, then run again with "
                           "--ddl-applied"
                         : "%s is not followed (tables, indexes, sequences, types only)",
                 ev->tag);
        return 0;
    }
    char why[256];
    out->statement = ddl_statement(ev, why, sizeof(why));
    if (out->statement == NULL) {
        out->action = DDL_STOP;
        snprintf(out->reason, sizeof(out->reason),
                 "DDL cannot be replayed: %s: %s; apply it on the target by hand, then run "
                 "again with --ddl-applied",
                 why, summary);
        return strcmp(why, "out of memory") == 0 ? -1 : 0;
    }
    if (strcmp(ev->tag, "CREATE INDEX") == 0 || strcmp(ev->tag, "DROP INDEX") == 0)
        ddl_strip_concurrently(out->statement);
    ddl_summary(out->statement, summary, sizeof(summary));
    if (sc.mode == CONFIG_DDL_STOP) {
        out->action = DDL_STOP;
        snprintf(out->reason, sizeof(out->reason),
                 "stopped before DDL (\"ddl\": \"stop\"): %s; apply it on the target by hand, "
                 "then run again with --ddl-applied",
                 summary);
    } else if (sc.mapped != NULL && !ddl_mapped_takes(sc.mapped_entry, out->statement)) {
        ddl_stop_mapped(&sc, summary, out);
    } else {
        out->action = DDL_RUN;
        return 0;
    }
    free(out->statement);
    out->statement = NULL;
    return 0;
}
