/*
 * event_oracle: the reference encoder of the change envelope (jansson tree,
 * then jansson or avro-c), which capture's direct writers are checked
 * against. Test support only: the product never links it.
 */
#ifndef SYNCLINE_EVENT_ORACLE_H
#define SYNCLINE_EVENT_ORACLE_H

#include <jansson.h>
#include <stddef.h>

#include "core/lsn.h"
#include "event/event.h"
#include "event/event_avro.h"
#include "event/event_codec.h"

/*
 * Builds the envelope of one change (new reference); tpos as for
 * event_json_write. name is the configuration's name (source.name). NULL
 * with errbuf set on a binary value (capture needs text values) or
 * allocation failure.
 */
json_t *event_oracle_build(const change_row_t *row, const event_truncate_t *tpos,
                           const event_txn_t *txn, const char *name, char *errbuf, size_t errsize);

/* Marks an envelope from event_oracle_build as the last of its transaction. */
int event_oracle_mark_last(json_t *env, lsn_t end_lsn);

/*
 * Avro: the writer schema env will be encoded with (owned by the codec), one
 * per relation version. NULL with errbuf for a malformed envelope, or for a
 * JSON codec.
 */
event_avro_writer_t *event_oracle_writer(event_codec_t *codec, json_t *env, char *errbuf,
                                         size_t errsize);

/* Serializes an envelope in the codec's format: *out is malloc'd (caller
 * frees). 0 or -1 with errbuf. */
int event_oracle_encode(event_codec_t *codec, json_t *env, char **out, size_t *len, char *errbuf,
                        size_t errsize);

/* Encodes env with writer w of ea (framing included): *out is malloc'd
 * (caller frees). 0 or -1 with errbuf. */
int event_oracle_avro_encode(event_avro_t *ea, event_avro_writer_t *w, json_t *env, char **out,
                             size_t *len, char *errbuf, size_t errsize);

/* The fixed Avro writer schema of the envelope syncline 0.1 wrote (images as
 * maps of strings): old messages the readers must still decode. */
extern const char event_oracle_v0_schema[];

#endif
