/*
 * ddl: the DDL events the source's event trigger emits (logical message
 * "syncline.ddl", JSON), and what the applier does with one under the
 * configuration: run a statement, skip it, or stop. Pure: no I/O.
 */
#ifndef SYNCLINE_DDL_H
#define SYNCLINE_DDL_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

/* The logical message prefix the event trigger writes. */
#define DDL_MESSAGE_PREFIX "syncline.ddl"

/* A message's content is the hex HMAC-SHA256 (DDL_SIG_HEX characters) of its
 * body under the source's syncline.ddl_key, then the body (JSON). */
#define DDL_SIG_HEX 64

/* Splits content into its signature (*sig, DDL_SIG_HEX hex digits, not
 * NUL-terminated) and its body: 0, or -1 when it does not start with a
 * signature (an unsigned message). Pointers borrow from content. */
int ddl_message_split(const char *content, size_t len, const char **sig, const char **body,
                      size_t *body_len);

/* One object the command touched (pg_event_trigger_ddl_commands, or
 * pg_event_trigger_dropped_objects for what it dropped). Strings owned. */
typedef struct ddl_object {
    char *type;         /* "table", "index", "table column", "sequence", ... */
    char *identity;     /* object_identity, for messages */
    char *schema;       /* the object's schema, NULL when it has none */
    char *table_schema; /* the table it belongs to (itself for a table), or NULL */
    char *table;
} ddl_object_t;

/* One DDL command as the source's event trigger described it. */
typedef struct ddl_event {
    char *tag;         /* command tag: "ALTER TABLE" */
    char *query;       /* the client's whole query string (may hold several statements) */
    char *search_path; /* the source session's, to resolve unqualified names */
    int ordinal;       /* 1-based: the how-manieth DDL command of query this is */
    ddl_object_t *objects;
    int nobjects;
    char *error;  /* the trigger failed to describe the command: why; else NULL */
    uint64_t xid; /* the source transaction's id (xid8) the trigger signed, 0 = none */
} ddl_event_t;

/* Parses a message's content: 0, or -1 with errbuf saying why. Free with
 * ddl_event_clear (also after a failure). */
int ddl_event_parse(const char *json, size_t len, ddl_event_t *ev, char *errbuf, size_t errsize);
void ddl_event_clear(ddl_event_t *ev);

/* The statement of ev->query that the event is about (query split at
 * semicolons outside quotes, dollar quotes and comments; the ordinal-th one
 * that fires event triggers, and its keywords must match the tag).
 * malloc'd; NULL with errbuf saying why (out of memory, or it cannot be
 * told apart: DDL run inside a DO block or a function). */
char *ddl_statement(const ddl_event_t *ev, char *errbuf, size_t errsize);

/* 1 when stmt is ALTER TABLE ... ADD [COLUMN] with a single subcommand. */
int ddl_is_add_column(const char *stmt);

/* stmt on one line (whitespace runs collapsed), cut to fit buf with "...". */
void ddl_summary(const char *stmt, char *buf, size_t size);

typedef enum ddl_action {
    DDL_RUN,  /* run statement on the target */
    DDL_SKIP, /* nothing to do (why in reason) */
    DDL_STOP, /* stop before it (why, and what to do, in reason) */
} ddl_action_t;

typedef struct ddl_decision {
    ddl_action_t action;
    char *statement; /* DDL_RUN: malloc'd, caller frees */
    char reason[1024];
} ddl_decision_t;

/*
 * What to do with ev under cfg. Tables outside the sync are skipped; an
 * ignored one too; "stop" stops; a table the configuration maps (another
 * target name, columns, exclude, where) takes only an ADD COLUMN it passes
 * through as it is (exclude/where), anything else stops. -1 on out of memory.
 */
int ddl_decide(const config_t *cfg, const ddl_event_t *ev, ddl_decision_t *out);

#endif
