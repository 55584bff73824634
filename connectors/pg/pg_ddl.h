/*
 * pg_ddl: DDL following on PostgreSQL. Installs and removes the source's
 * event trigger that writes each DDL command into the WAL as a transactional
 * logical message, and runs a captured command on the target.
 */
#ifndef SYNCLINE_PG_DDL_H
#define SYNCLINE_PG_DDL_H

#include <libpq-fe.h>
#include <stddef.h>

#include "core/config.h"
#include "core/err.h"
#include "core/lsn.h"
#include "core/sink.h"

/* The key the source's event trigger signs its messages with (HMAC-SHA256,
 * kept as the two padded halves in syncline.ddl_key, hex). */
typedef struct pg_ddl_key {
    int loaded;      /* 0: this role could not read it (every DDL message then stops) */
    int unreachable; /* the source could not be reached: a DDL message waits for it */
    char ipad[129];
    char opad[129];
} pg_ddl_key_t;

/* The SQL that installs the event trigger (what docs/ddl.md gives a DBA). */
extern const char pg_ddl_install_sql[];

/* Does the source's major carry logical messages in pgoutput (14 on)? */
int pg_ddl_supported(int version);

/* ERR_CONFIG when "ddl" (or a table's) asks for apply or stop explicitly on a
 * source older than 14, naming the setting and the version. */
err_t pg_ddl_check_version(const config_t *cfg, int version, char *errbuf, size_t errsize);

/* On the source session conn (outside a transaction): installs or refreshes
 * the event trigger when the role may (superuser); otherwise warns unless
 * it is there already. Nothing before 14 or when no DDL is followed. */
err_t pg_ddl_install(PGconn *conn, const config_t *cfg, int version, char *errbuf, size_t errsize);

/* Removes the event trigger and its functions, unless another syncline
 * slot (syncline_*) still streams from this database. */
err_t pg_ddl_uninstall(PGconn *conn, const char *slot, char *errbuf, size_t errsize);

/* Reads the signing key on the source session conn into *key; key->loaded
 * stays 0, with a warning, when the table is not there or this role may not
 * read it. Fails only on a lost connection. */
err_t pg_ddl_key_load(PGconn *conn, pg_ddl_key_t *key, char *errbuf, size_t errsize);

/* pg_ddl_key_load on a session of its own to cfg's source (Kafka apply,
 * which streams nothing from it). No source.conninfo, or no connection:
 * key->loaded stays 0, with a warning, and key->unreachable says whether the
 * source could not be reached. Fails only when the connection is lost while
 * reading. */
err_t pg_ddl_key_fetch(const config_t *cfg, pg_ddl_key_t *key, char *errbuf, size_t errsize);

/* Checks that d was written by the source's event trigger: its signature
 * under key (computed by the server of conn, any PostgreSQL 11 on) and the
 * transaction it names (d->xid). ERR_SCHEMA naming d's LSN when it does not
 * verify; *body, *body_len: the signed JSON, borrowed from d. */
err_t pg_ddl_verify(PGconn *conn, const pg_ddl_key_t *key, const sink_ddl_t *d, const char **body,
                    size_t *body_len, char *errbuf, size_t errsize);

/*
 * Runs, skips or stops on one captured DDL command, on the target session
 * conn inside its open transaction (not in pipeline mode). done_lsn: the
 * DDL the user applied by hand (--ddl-applied), 0 = none; it is skipped.
 * A message that does not verify under key (pg_ddl_verify) is never run; a
 * key not loaded is read again first (pg_ddl_key_fetch), ERR_CONNECT when the
 * source cannot be reached. ERR_SCHEMA naming the DDL, its LSN and what to do
 * when it stops or fails.
 */
err_t pg_ddl_apply(PGconn *conn, const config_t *cfg, lsn_t done_lsn, pg_ddl_key_t *key,
                   const sink_ddl_t *d, char *errbuf, size_t errsize);

#endif
