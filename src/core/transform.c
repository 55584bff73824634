/*
 * transform: plans of schema transforms, and the small SQL lexer they need
 * to find column references and to keep an expression inside its slot.
 *
 * The lexer knows exactly the token forms that can hide a ';', a comment or
 * a parenthesis: '...' literals ('' escapes; E'...' also \ escapes), "..."
 * identifiers ("" escapes) and $tag$...$tag$ strings. Everything else is
 * either a word or a single character. Rejecting ';' and comments and
 * requiring balanced parentheses means "(" expr ")" is one expression in any
 * generated statement: it cannot close the statement or swallow its tail.
 */
#include "core/transform.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum transform_tok {
    TOK_END,
    TOK_WORD,   /* unquoted identifier or keyword, folded to lower case */
    TOK_QUOTED, /* "quoted identifier", unescaped */
    TOK_STRING, /* any string literal */
    TOK_OTHER,  /* one character */
    TOK_ERROR,
} transform_tok_t;

typedef struct transform_lexer {
    const char *s;
    size_t pos;
    char text[256]; /* WORD/QUOTED text, truncated */
    char ch;        /* OTHER */
    const char *error;
} transform_lexer_t;

static void transform_lex_text(transform_lexer_t *lx, size_t *n, char c)
{
    if (*n + 1 < sizeof(lx->text))
        lx->text[(*n)++] = c;
    lx->text[*n] = '\0';
}

/* Skips a '...' literal starting at pos (after an optional E prefix). */
static transform_tok_t transform_lex_string(transform_lexer_t *lx, int backslash)
{
    const char *s = lx->s;
    size_t i = lx->pos + 1;
    for (;;) {
        if (s[i] == '\0') {
            lx->error = "unterminated string literal";
            return TOK_ERROR;
        }
        if (backslash && s[i] == '\\' && s[i + 1] != '\0') {
            i += 2;
            continue;
        }
        if (s[i] == '\'' && s[i + 1] == '\'') {
            i += 2;
            continue;
        }
        if (s[i] == '\'')
            break;
        i++;
    }
    lx->pos = i + 1;
    return TOK_STRING;
}

static transform_tok_t transform_lex_quoted(transform_lexer_t *lx)
{
    const char *s = lx->s;
    size_t i = lx->pos + 1, n = 0;
    lx->text[0] = '\0';
    for (;;) {
        if (s[i] == '\0') {
            lx->error = "unterminated quoted identifier";
            return TOK_ERROR;
        }
        if (s[i] == '"' && s[i + 1] == '"') {
            transform_lex_text(lx, &n, '"');
            i += 2;
            continue;
        }
        if (s[i] == '"')
            break;
        transform_lex_text(lx, &n, s[i++]);
    }
    lx->pos = i + 1;
    return TOK_QUOTED;
}

/* $tag$ ... $tag$; returns TOK_OTHER for a lone '$' (positional parameter). */
static transform_tok_t transform_lex_dollar(transform_lexer_t *lx)
{
    const char *s = lx->s;
    size_t i = lx->pos + 1;
    while (isalnum((unsigned char)s[i]) || s[i] == '_')
        i++;
    if (s[i] != '$' || isdigit((unsigned char)s[lx->pos + 1])) {
        lx->ch = '$';
        lx->pos++;
        return TOK_OTHER;
    }
    size_t taglen = i - lx->pos + 1;
    const char *end = strstr(s + i + 1, s + lx->pos);
    while (end != NULL && strncmp(end, s + lx->pos, taglen) != 0)
        end = strstr(end + 1, s + lx->pos);
    /* compare only the tag: search byte by byte for "$tag$" */
    for (const char *p = s + i + 1; *p != '\0'; p++) {
        if (strncmp(p, s + lx->pos, taglen) == 0) {
            lx->pos = (size_t)(p - s) + taglen;
            return TOK_STRING;
        }
    }
    (void)end;
    lx->error = "unterminated dollar-quoted string";
    return TOK_ERROR;
}

static transform_tok_t transform_lex_word(transform_lexer_t *lx)
{
    const char *s = lx->s;
    size_t n = 0;
    lx->text[0] = '\0';
    /* bytes >= 0x80 are identifier characters too (as in PostgreSQL's scanner);
     * without them a non-ASCII letter would never be consumed */
    while (isalnum((unsigned char)s[lx->pos]) || s[lx->pos] == '_' || s[lx->pos] == '$' ||
           (unsigned char)s[lx->pos] >= 0x80)
        transform_lex_text(lx, &n, (char)tolower((unsigned char)s[lx->pos++]));
    return TOK_WORD;
}

static transform_tok_t transform_lex_next(transform_lexer_t *lx)
{
    const char *s = lx->s;
    while (isspace((unsigned char)s[lx->pos]))
        lx->pos++;
    char c = s[lx->pos];
    if (c == '\0')
        return TOK_END;
    if ((c == 'e' || c == 'E') && s[lx->pos + 1] == '\'') {
        lx->pos++;
        return transform_lex_string(lx, 1);
    }
    if (c == '\'')
        return transform_lex_string(lx, 0);
    if (c == '"')
        return transform_lex_quoted(lx);
    if (c == '$')
        return transform_lex_dollar(lx);
    if (isalpha((unsigned char)c) || c == '_' || (unsigned char)c >= 0x80)
        return transform_lex_word(lx);
    if ((c == '-' && s[lx->pos + 1] == '-') || (c == '/' && s[lx->pos + 1] == '*')) {
        lx->error = "comments are not allowed";
        return TOK_ERROR;
    }
    lx->ch = c;
    lx->pos++;
    return TOK_OTHER;
}

int transform_expr_ok(const char *expr, char *errbuf, size_t errsize)
{
    transform_lexer_t lx = {.s = expr};
    int depth = 0, tokens = 0;
    transform_tok_t tok;
    while ((tok = transform_lex_next(&lx)) != TOK_END) {
        tokens++;
        if (tok == TOK_ERROR) {
            snprintf(errbuf, errsize, "%s", lx.error);
            return 0;
        }
        if (tok != TOK_OTHER)
            continue;
        if (lx.ch == ';') {
            snprintf(errbuf, errsize, "';' is not allowed in an expression");
            return 0;
        }
        depth += lx.ch == '(' ? 1 : lx.ch == ')' ? -1 : 0;
        if (depth < 0) {
            snprintf(errbuf, errsize, "unbalanced ')'");
            return 0;
        }
    }
    if (tokens == 0 || depth != 0) {
        snprintf(errbuf, errsize, tokens == 0 ? "empty expression" : "unbalanced '('");
        return 0;
    }
    return 1;
}

static int transform_find(const char *const *names, int n, const char *name)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i], name) == 0)
            return i;
    }
    return -1;
}

void transform_expr_refs(const char *expr, const char *const *src_cols, int nsrc, uint8_t *refs)
{
    transform_lexer_t lx = {.s = expr};
    transform_tok_t tok;
    while ((tok = transform_lex_next(&lx)) != TOK_END && tok != TOK_ERROR) {
        if (tok != TOK_WORD && tok != TOK_QUOTED)
            continue;
        int i = transform_find(src_cols, nsrc, lx.text);
        if (i >= 0)
            refs[i] = 1;
    }
}

int transform_expr_column(const char *expr, const char *const *src_cols, int nsrc)
{
    transform_lexer_t lx = {.s = expr};
    transform_tok_t tok = transform_lex_next(&lx);
    if (tok != TOK_WORD && tok != TOK_QUOTED)
        return -1;
    int i = transform_find(src_cols, nsrc, lx.text);
    return transform_lex_next(&lx) == TOK_END ? i : -1;
}

void transform_plan_free(transform_plan_t *plan)
{
    if (plan == NULL)
        return;
    for (int i = 0; i < plan->ncols; i++) {
        free(plan->cols[i].target);
        free(plan->cols[i].expr);
        free(plan->cols[i].refs);
    }
    free(plan->cols);
    free(plan->where);
    free(plan->where_refs);
    free(plan);
}

int transform_plan_find(const transform_plan_t *plan, const char *name)
{
    for (int i = 0; i < plan->ncols; i++) {
        if (strcmp(plan->cols[i].target, name) == 0)
            return i;
    }
    return -1;
}

/* Appends a target column fed by expr (NULL: by source column src). */
static int transform_add(transform_plan_t *plan, const char *target, const char *expr, int src,
                         const char *const *src_cols)
{
    transform_col_t *c = &plan->cols[plan->ncols];
    c->target = strdup(target);
    c->expr = expr ? strdup(expr) : NULL;
    c->refs = calloc((size_t)plan->nsrc + 1, 1);
    if (c->target == NULL || (expr && c->expr == NULL) || c->refs == NULL) {
        free(c->target);
        free(c->expr);
        free(c->refs);
        return -1;
    }
    c->src_col = expr ? transform_expr_column(expr, src_cols, plan->nsrc) : src;
    if (expr != NULL)
        transform_expr_refs(expr, src_cols, plan->nsrc, c->refs);
    else
        c->refs[src] = 1;
    plan->ncols++;
    return 0;
}

static int transform_excluded(const config_table_t *t, const char *col)
{
    for (int i = 0; i < t->nexclude; i++) {
        if (strcmp(t->exclude[i], col) == 0)
            return 1;
    }
    return 0;
}

/* Explicit mappings first, then same-named columns. */
static int transform_map_columns(transform_plan_t *plan, const config_table_t *t,
                                 const char *const *src_cols, const char *const *tgt_cols, int ntgt,
                                 const char *display, char *errbuf, size_t errsize)
{
    char why[256];
    for (int i = 0; i < t->ncolumns; i++) {
        const config_column_map_t *m = &t->columns[i];
        if (transform_find(tgt_cols, ntgt, m->target_column) < 0) {
            snprintf(errbuf, errsize, "table %s: columns: target column \"%s\" does not exist",
                     display, m->target_column);
            return -1;
        }
        if (!transform_expr_ok(m->expression, why, sizeof(why))) {
            snprintf(errbuf, errsize, "table %s: columns.%s: %s", display, m->target_column, why);
            return -1;
        }
        if (transform_add(plan, m->target_column, m->expression, -1, src_cols) != 0)
            return -2;
    }
    for (int i = 0; i < ntgt; i++) {
        int s = transform_find(src_cols, plan->nsrc, tgt_cols[i]);
        if (transform_plan_find(plan, tgt_cols[i]) >= 0 || s < 0 ||
            transform_excluded(t, tgt_cols[i]))
            continue;
        if (transform_add(plan, tgt_cols[i], NULL, s, src_cols) != 0)
            return -2;
    }
    return 0;
}

/* Every source column is read somewhere or excluded; exclusions exist. */
static int transform_check_sources(const transform_plan_t *plan, const config_table_t *t,
                                   const char *const *src_cols, const char *display, char *errbuf,
                                   size_t errsize)
{
    for (int i = 0; i < t->nexclude; i++) {
        if (transform_find(src_cols, plan->nsrc, t->exclude[i]) < 0) {
            snprintf(errbuf, errsize, "table %s: exclude: source column \"%s\" does not exist",
                     display, t->exclude[i]);
            return -1;
        }
    }
    for (int s = 0; s < plan->nsrc; s++) {
        int used = transform_excluded(t, src_cols[s]) || (plan->where_refs && plan->where_refs[s]);
        for (int c = 0; c < plan->ncols && !used; c++)
            used = plan->cols[c].refs[s];
        if (!used) {
            snprintf(errbuf, errsize,
                     "table %s: source column \"%s\" maps nowhere: map it in \"columns\" or list "
                     "it in \"exclude\"",
                     display, src_cols[s]);
            return -1;
        }
    }
    return 0;
}

static int transform_set_where(transform_plan_t *plan, const config_table_t *t,
                               const char *const *src_cols, const char *display, char *errbuf,
                               size_t errsize)
{
    char why[256];
    if (t->where == NULL)
        return 0;
    if (!transform_expr_ok(t->where, why, sizeof(why))) {
        snprintf(errbuf, errsize, "table %s: where: %s", display, why);
        return -1;
    }
    plan->where = strdup(t->where);
    plan->where_refs = calloc((size_t)plan->nsrc + 1, 1);
    if (plan->where == NULL || plan->where_refs == NULL)
        return -2;
    transform_expr_refs(t->where, src_cols, plan->nsrc, plan->where_refs);
    return 0;
}

transform_plan_t *transform_plan_new(const config_table_t *t, const char *const *src_cols, int nsrc,
                                     const char *const *tgt_cols, int ntgt, const char *display,
                                     char *errbuf, size_t errsize)
{
    transform_plan_t *plan = calloc(1, sizeof(*plan));
    if (plan == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }
    plan->nsrc = nsrc;
    if (t == NULL || (t->ncolumns == 0 && t->nexclude == 0 && t->where == NULL)) {
        plan->passthrough = 1;
        return plan;
    }
    plan->cols = calloc((size_t)(t->ncolumns + ntgt) + 1, sizeof(*plan->cols));
    int rc = plan->cols ? 0 : -2;
    if (rc == 0)
        rc = transform_map_columns(plan, t, src_cols, tgt_cols, ntgt, display, errbuf, errsize);
    if (rc == 0)
        rc = transform_set_where(plan, t, src_cols, display, errbuf, errsize);
    if (rc == 0)
        rc = transform_check_sources(plan, t, src_cols, display, errbuf, errsize);
    if (rc == -2)
        snprintf(errbuf, errsize, "out of memory");
    if (rc != 0) {
        transform_plan_free(plan);
        return NULL;
    }
    return plan;
}
