#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/ from valid inputs.

pgoutput messages are built like tests/unit/test_pgoutput.c builds them,
configurations cover every key of docs/configuration.md, expressions come from
tests/unit/test_transform.c; the Kafka messages are written by the real
encoders (build-fuzz/fuzz_gen_events). Existing files (regression inputs found
by fuzzing) are kept.

    python3 fuzz/gen_corpus.py [BUILD_DIR]     # default build-fuzz
"""
import json
import os
import struct
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def u8(v): return struct.pack(">B", v)
def i16(v): return struct.pack(">h", v)
def u32(v): return struct.pack(">I", v & 0xFFFFFFFF)
def u64(v): return struct.pack(">Q", v & 0xFFFFFFFFFFFFFFFF)
def cstr(s): return s.encode() + b"\0"
def text(s): b = s.encode() if isinstance(s, str) else s; return b"t" + u32(len(b)) + b
def binary(b): return b"b" + u32(len(b)) + b


LSN, END, TS, XID, RELID = 0x16B374D848, 0x16B374D900, 756000000000000, 0x01020304, 16384


def tuple4():
    return i16(4) + b"n" + b"u" + text("alice") + binary(b"\0\1\2")


def relation(nsp="public", name="users", ident=b"d", cols=None):
    cols = cols or [(1, "id", 23, -1), (0, "name", 1043, 68), (0, "", 17, -1)]
    out = b"R" + u32(RELID) + cstr(nsp) + cstr(name) + ident + i16(len(cols))
    for flags, cname, typ, typmod in cols:
        out += u8(flags) + cstr(cname) + u32(typ) + u32(typmod)
    return out


def pgoutput_msgs():
    m = {
        "begin": b"B" + u64(LSN) + u64(TS) + u32(XID),
        "commit": b"C" + u8(0) + u64(LSN) + u64(END) + u64(TS),
        "origin": b"O" + u64(0xABCDEF) + cstr("pg_16390"),
        "relation": relation(),
        "relation-empty-ns": relation(nsp=""),
        "relation-full": relation(ident=b"f"),
        "relation-unicode": relation("sch\u00e9ma", '\u00fcn\u00ef"c\u00f8d\u00e9',
                                     cols=[(1, "\U0001F418 col", 25, -1)]),
        "relation-nocols": relation(cols=[]),
        "type": b"Y" + u32(90001) + cstr("public") + cstr("mood"),
        "insert": b"I" + u32(RELID) + b"N" + tuple4(),
        "insert-empty": b"I" + u32(RELID) + b"N" + i16(0),
        "insert-bytea": b"I" + u32(RELID) + b"N" + i16(1) + text(bytes(range(256))),
        "update": b"U" + u32(RELID) + b"N" + tuple4(),
        "update-key": b"U" + u32(RELID) + b"K" + i16(1) + text("41") + b"N" + tuple4(),
        "update-old": b"U" + u32(RELID) + b"O" + i16(2) + text("41") + text("bob") + b"N" + tuple4(),
        "delete-key": b"D" + u32(RELID) + b"K" + i16(1) + text("42"),
        "delete-old": b"D" + u32(RELID) + b"O" + tuple4(),
        "truncate": b"T" + u32(3) + u8(3) + u32(16384) + u32(16390) + u32(0xFFFFFFFF),
        "truncate-one": b"T" + u32(1) + u8(0) + u32(16384),
        "message": b"M" + u8(1) + u64(LSN) + cstr("syncline") + u32(5) + b"a\0b\0c",
        "message-empty": b"M" + u8(0) + u64(LSN) + cstr("") + u32(0),
    }
    for name, body in m.items():
        put("fuzz_pgoutput", "msg-" + name, body)
    for name in ("begin", "insert", "update-old", "relation", "commit", "truncate"):
        put("fuzz_pgoutput", "xlogdata-" + name, b"w" + u64(LSN) + u64(END) + u64(TS) + m[name])
    put("fuzz_pgoutput", "keepalive", b"k" + u64(END) + u64(TS) + u8(1))
    put("fuzz_pgoutput", "keepalive-noreply", b"k" + u64(END) + u64(TS) + u8(0))


SRC = "host=127.0.0.1 port=5432 dbname=shop user=migrator"
TGT = "host=127.0.0.1 port=5433 dbname=shop user=migrator password=x"


def configs():
    base = {"name": "shop", "source": {"conninfo": SRC}, "target": {"conninfo": TGT}}
    full = {
        "name": "shop_2",
        "source": {"conninfo": SRC, "publication": "pub_x", "slot": "slot_x"},
        "target": {"conninfo": TGT},
        "apply": {"batch_rows": 500, "batch_ms": 50, "status_interval_ms": 1000,
                  "binary": True, "on_missing_row": "skip", "collapse": False},
        "snapshot": {"workers": 4, "chunk_mb": 64, "defer_indexes": True},
    }
    tables = dict(base, tables=[
        {"source": "public.users", "target": "app.accounts",
         "columns": {"email": "lower(email)", "full_name": "btrim(name)",
                     "created_at": "created_date",
                     "updated_at": "coalesce(modified_date, created_date)", "status": "'active'"},
         "exclude": ["password_hash"], "where": "is_active"},
        {"source": "sales.*", "target": "archive.*"},
        {"source": "audit", "skip": True},
        {"source": '"my.schema"."Order ""Items"""', "target": 'Sales.Orders'},
        {"source": "public.t", "columns": {"price": "price::numeric(12,2)",
                                           "c": "CASE WHEN qty > 0 THEN 'in' ELSE 'out' END"}},
    ])
    kafka = dict(base, kafka={
        "brokers": "k1:9092,k2:9092", "topic": "syncline.shop", "format": "json",
        "partitioning": "key", "schema_registry": "http://registry:8081",
        "properties": {"security.protocol": "SASL_SSL", "sasl.mechanisms": "SCRAM-SHA-512",
                       "sasl.username": "syncline", "sasl.password": "..."}})
    kafka_min = dict(base, kafka={"brokers": "localhost:9092"})
    samples = {
        "minimal": base, "full": full, "tables": tables, "kafka": kafka, "kafka-min": kafka_min,
        "uri-conninfo": dict(base, source={"conninfo": "postgresql://u@h:5/db?sslmode=verify-full"}),
        "no-conninfo": {"name": "env_only"},
        "unicode": dict(base, tables=[{"source": '"\u00fcn\u00ef""c\u00f8d\u00e9"',
                                       "columns": {"\U0001F418 col": '"\U0001F418 col"'}}]),
    }
    for name, obj in samples.items():
        put("fuzz_config", name + ".json", json.dumps(obj, ensure_ascii=False, indent=1))
    put("fuzz_config", "minimal-compact.json", json.dumps(base, separators=(",", ":")))
    put("fuzz_config", "escapes.json",
        '{"name":"a","source":{"conninfo":"\\u0068ost=\\"x\\" \\ud83d\\udc18"},"target":{"conninfo":"t"}}')
    # Invalid ones near the valid ones: each error path is a seed too.
    bad = {
        "unknown-key": dict(base, apply={"batch_row": 1}),
        "wrong-type": dict(base, apply={"batch_rows": "10"}),
        "float": dict(base, apply={"batch_rows": 1e1}),
        "bad-name": dict(base, name="Bad-Name"),
        "empty-tables": dict(base, tables=[]),
        "skip-and-columns": dict(base, tables=[{"source": "a", "skip": True, "columns": {"x": "y"}}]),
        "pattern-mix": dict(base, tables=[{"source": "s.*", "target": "t.u"}]),
    }
    for name, obj in bad.items():
        put("fuzz_config", "bad-" + name + ".json", json.dumps(obj))
    put("fuzz_config", "bad-duplicate.json", '{"name":"a","name":"b"}')
    put("fuzz_config", "bad-nul.json", '{"name":"a\\u0000b"}')
    put("fuzz_config", "bad-syntax.json", '{"name": "a",')


def transforms():
    exprs = [
        "email", "lower(email)", "btrim(name)", "coalesce(modified_date, created_date)",
        "price::numeric(12,2)", "CAST(id AS bigint)", "'active'", "42", "-1", "a / b * c",
        "CASE WHEN qty > 0 THEN 'in stock' ELSE 'out' END", "'it''s; -- fine'",
        "E'\\'; -- still inside'", '"quoted ""ids"""', '"a;b" || "--x" || "/*y" || "("',
        "$$dollar; quoted$$", "$tag$ a $$ b; -- c /* d ) $tag$", "$a$x$a$ || $b$y$b$",
        "((((a))) + (b))", "f(g(h(x), (y)), '(')", "jsonb_build_object('k', v)->>'k'",
        "arr[1]", "  lower( email )  ", "name_$1", "U&'d\\0061t\\+000061'", "B'1010' | X'ff'",
        "1; DROP TABLE t", "lower(email) -- trailing", "a /* b */", "(a", "a)",
        "1) UNION SELECT (1", '"\U0001F418 col" || \'x\'', '"unterminated', "'unterminated",
    ]
    for i, e in enumerate(exprs):
        put("fuzz_transform", "expr-%02d" % i, e)
    put("fuzz_transform", "with-cols", "lower(Email) || \"Name\" || id\nemail\nName\nid")
    put("fuzz_transform", "bare-col", '"x""y"\nid\nx"y')
    put("fuzz_transform", "select-col", 'select\nselect\nfrom')


def events(build):
    gen = os.path.join(build, "fuzz_gen_events")
    dirs = [os.path.join(CORPUS, t) for t in ("fuzz_event_json", "fuzz_event_avro")]
    for d in dirs:
        os.makedirs(d, exist_ok=True)
    subprocess.run([gen] + dirs, check=True)


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build-fuzz")
    pgoutput_msgs()
    configs()
    transforms()
    events(build)


if __name__ == "__main__":
    main()
