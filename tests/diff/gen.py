#!/usr/bin/env python3
"""Seeded workload generator for the differential harness (tests/diff/README.md).

From a seed and a feature set it emits a schema and a deterministic list of transactions as SQL.
It only writes text: it connects to nothing and knows nothing of syncline.

  python3 tests/diff/gen.py --seed 7 [--features types,toast,...] [--txns 30] > workload.sql

The output is a workload file: a `-- @schema` section (run on the source and on every target)
followed by `-- @txn N` sections (run on the source only), each one transaction with one
statement per line. diff.py reads it back with parse_workload().
"""
import argparse
import random
import sys

# Every feature; CI_FEATURES (diff.py) is the subset that syncline agrees on today.
FEATURES = [
    "types",  # a table with many column types (arrays, json, ranges, enums, bit strings...)
    "composite_key",  # a composite (int, text) primary key
    "composite_typed",  # a primary key over uuid, timestamptz, numeric, char(n), inet, bool
    "full_identity",  # REPLICA IDENTITY FULL without a key (duplicates; text, numeric, float8, jsonb)
    "full_typed",  # REPLICA IDENTITY FULL over bool, char(n), inet, timestamptz, uuid, bytea, varchar
    "index_identity",  # REPLICA IDENTITY USING INDEX
    "partitions",  # a range-partitioned table (hash sub-partition, default) published via root
    "toast",  # out-of-line TOAST values left unchanged by later updates
    "key_updates",  # updates that change a row's key
    "savepoints",  # savepoints, rollbacks to savepoints and releases
    "rollback",  # whole transactions rolled back
    "truncate",  # TRUNCATE of one or several tables
    "multi_table",  # transactions that touch several tables
    "big_txn",  # statements of thousands of rows (batches, decoder spill)
    "no_columns",  # a table with no columns
]

NULL_P = 0.15


def q(s):
    """SQL string literal, on one line (newlines and tabs as E'' escapes)."""
    if "\n" in s or "\t" in s:
        s = s.replace("\\", "\\\\").replace("'", "''").replace("\n", "\\n").replace("\t", "\\t")
        return "E'" + s + "'"
    return "'" + s.replace("'", "''") + "'"


class Values:
    """Random SQL literals per type, all from one seeded random.Random."""

    TEXTS = ["", "a", "it's", 'say "hi"', "back\\slash", "ü é ß 漢字", "tab\there", "line\nbreak",
             "  spaces  ", "NULL", "\\N", "emoji 🐘", "x" * 40, "comma,semi;colon", "{}", "[]"]

    def __init__(self, rnd):
        self.r = rnd

    def maybe_null(self, lit):
        return "NULL" if self.r.random() < NULL_P else lit

    def pick(self, xs):
        return self.r.choice(xs)

    def int_(self, lo=-1000, hi=1000):
        return str(self.r.randint(lo, hi))

    def text(self):
        return q(self.pick(self.TEXTS) + (str(self.r.randint(0, 99)) if self.r.random() < 0.5 else ""))

    def numeric(self):
        return self.pick(["0", "-0.0", "1.50", "123456789012345678901234567890.123456789", "'NaN'",
                          "0.000001", "-42", "4.0", "4.00", "1e20", str(self.r.randint(-99999, 99999))])

    def float_(self):
        return self.pick(["'NaN'", "'Infinity'", "'-Infinity'", "'-0'", "0", "0.1", "1e-300",
                          "3.14159", "-2.5", "1e300", str(self.r.random())])

    def real(self):
        return self.pick(["'NaN'", "'Infinity'", "'-Infinity'", "'-0'", "0", "0.1", "1e-40",
                          "3.14159", "-2.5", "3.4e38", str(self.r.random())])

    def bool_(self):
        return self.pick(["true", "false"])

    def bytea(self):
        return self.pick(["'\\x'", "'\\x00ff00'", "'\\xdeadbeef'", "decode(md5('%d'), 'hex')" % self.r.randint(0, 999)])

    def date(self):
        return self.pick(["'2020-02-29'", "'1999-12-31'", "'infinity'", "'-infinity'", "'0001-01-01'",
                          "'2024-06-%02d'" % self.r.randint(1, 28)])

    def ts(self):
        return self.pick(["'2024-01-31 12:00:00.123456'", "'infinity'", "'1970-01-01 00:00:00'",
                          "'2000-02-29 23:59:59.999999'", "'2021-03-%02d 04:05:06'" % self.r.randint(1, 28)])

    def tstz(self):
        return self.pick(["'2024-01-31 12:00:00.123456+01'", "'-infinity'", "'1970-01-01 00:00:00+00'",
                          "'2021-03-%02d 04:05:06-07'" % self.r.randint(1, 28), "'2038-01-19 03:14:08+00'"])

    def uuid(self):
        return "md5('%d')::uuid" % self.r.randint(0, 10**6)

    def json(self):
        return self.pick(["'{\"a\": 1}'", "'{\"a\":1}'", "'[1, 2, null]'", "'\"s\"'", "'null'", "'{}'",
                          "'{\"k\": \"v\", \"k\": \"w\"}'", "'{\"ü\": [true, 1.50]}'"])

    def inet(self):
        return self.pick(["'127.0.0.1'", "'10.0.0.0/8'", "'::1'", "'2001:db8::/32'", "'192.168.1.%d'" % self.r.randint(0, 255)])

    def int_array(self):
        return self.pick(["'{}'", "'{1,NULL,3}'", "'{{1,2},{3,4}}'", "ARRAY[%d]" % self.r.randint(0, 9)])

    def text_array(self):
        return self.pick(["'{}'", "'{a,\"b c\",NULL}'", "ARRAY['x,y', 'q\"uote']", "'{\"\"}'"])


# ----------------------------------------------------------------- tables
# Each table: name, DDL lines, and methods that return statements (single-line SQL).


class Table:
    name = ""
    keyed = True  # has a primary key (updates may pick rows by key)
    truncatable = True

    def __init__(self, gen):
        self.g = gen
        self.r = gen.r
        self.v = gen.v

    def ddl(self):
        raise NotImplementedError

    def insert(self):
        raise NotImplementedError

    def update(self):
        raise NotImplementedError

    def delete(self):
        m = self.r.randint(3, 9)
        return "DELETE FROM %s WHERE %s %% %d = %d;" % (self.name, self.key_col, m, self.r.randrange(m))

    def key_update(self):
        return None

    def pred(self):
        m = self.r.randint(2, 7)
        return "%s %% %d = %d" % (self.key_col, m, self.r.randrange(m))

    key_col = "id"


class Single(Table):
    """Always present: int8 key, a text and an int."""
    name = "t_single"

    def ddl(self):
        return ["CREATE TABLE t_single (id int8 PRIMARY KEY, v text, n int);"]

    def insert(self):
        rows = ", ".join("(nextval('gen_seq'), %s, %s)" % (self.v.maybe_null(self.v.text()),
                                                          self.v.maybe_null(self.v.int_()))
                         for _ in range(self.r.randint(1, 4)))
        if self.r.random() < 0.2:
            return ("INSERT INTO t_single SELECT nextval('gen_seq'), 'bulk ' || g, g FROM generate_series(1, %d) g;"
                    % self.r.randint(20, 200))
        return "INSERT INTO t_single VALUES %s;" % rows

    def update(self):
        sets = self.r.choice(["v = %s" % self.v.maybe_null(self.v.text()), "n = n + 1",
                              "n = NULL, v = v || '+'", "v = upper(v)"])
        return "UPDATE t_single SET %s WHERE %s;" % (sets, self.pred())

    def key_update(self):
        return "UPDATE t_single SET id = nextval('gen_seq') WHERE %s;" % self.pred()


class Types(Table):
    name = "t_types"
    COLS = [
        ("c_int2", "int2", lambda v: v.int_(-32768, 32767)),
        ("c_int4", "int4", lambda v: v.pick(["-2147483648", "2147483647", v.int_()])),
        ("c_int8", "int8", lambda v: v.pick(["-9223372036854775808", "9223372036854775807", v.int_()])),
        ("c_num", "numeric", Values.numeric),
        ("c_num_s", "numeric(12,3)", lambda v: v.pick(["1.5", "-0.001", "123456789.999", "0"])),
        ("c_f4", "real", Values.real),
        ("c_f8", "float8", Values.float_),
        ("c_text", "text", Values.text),
        ("c_vc", "varchar(20)", lambda v: q(v.pick(["", "short", "ü" * 20, "x y"]))),
        ("c_ch", "char(5)", lambda v: q(v.pick(["", "ab", "abcde", "ü "]))),
        ("c_bool", "bool", Values.bool_),
        ("c_bytea", "bytea", Values.bytea),
        ("c_date", "date", Values.date),
        ("c_ts", "timestamp", Values.ts),
        ("c_tstz", "timestamptz", Values.tstz),
        ("c_time", "time", lambda v: v.pick(["'00:00'", "'23:59:59.999999'", "'12:34:56'"])),
        ("c_timetz", "timetz", lambda v: v.pick(["'00:00+00'", "'23:59:59.5-12'", "'12:34:56+05:30'"])),
        ("c_iv", "interval", lambda v: v.pick(["'0'", "'1 year 2 mons 3 days 04:05:06.7'", "'-1 day'", "'P1Y'"])),
        ("c_uuid", "uuid", Values.uuid),
        ("c_json", "json", Values.json),
        ("c_jsonb", "jsonb", Values.json),
        ("c_inet", "inet", Values.inet),
        ("c_cidr", "cidr", lambda v: v.pick(["'10.0.0.0/8'", "'2001:db8::/32'", "'192.168.0.0/24'"])),
        ("c_mac", "macaddr", lambda v: v.pick(["'08:00:2b:01:02:03'", "'00:00:00:00:00:00'"])),
        ("c_ia", "int[]", Values.int_array),
        ("c_ta", "text[]", Values.text_array),
        ("c_enum", "mood", lambda v: v.pick(["'sad'", "'ok'", "'happy'", "'très'"])),
        ("c_point", "point", lambda v: v.pick(["'(1,2)'", "'(-0.5,1e10)'"])),
        ("c_bit", "bit(4)", lambda v: v.pick(["B'1010'", "B'0000'"])),
        ("c_vbit", "varbit", lambda v: v.pick(["B''", "B'1'", "B'101010101'"])),
        ("c_range", "int4range", lambda v: v.pick(["'[1,5)'", "'empty'", "'(,3]'", "'[2,)'"])),
        ("c_dom", "posint", lambda v: v.pick(["1", "42", "2147483647"])),
    ]

    def ddl(self):
        cols = ", ".join("%s %s" % (c, t) for c, t, _ in self.COLS)
        return ["CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy', 'très');",
                "CREATE DOMAIN posint AS int CHECK (VALUE > 0);",
                "CREATE TABLE t_types (id int8 PRIMARY KEY, %s);" % cols]

    def row(self):
        return "(nextval('gen_seq'), %s)" % ", ".join(self.v.maybe_null(f(self.v)) for _, _, f in self.COLS)

    def insert(self):
        return "INSERT INTO t_types VALUES %s;" % ", ".join(self.row() for _ in range(self.r.randint(1, 3)))

    def update(self):
        cols = self.r.sample(self.COLS, self.r.randint(1, 4))
        sets = ", ".join("%s = %s" % (c, self.v.maybe_null(f(self.v))) for c, _, f in cols)
        return "UPDATE t_types SET %s WHERE %s;" % (sets, self.pred())

    def key_update(self):
        return "UPDATE t_types SET id = nextval('gen_seq') WHERE %s;" % self.pred()


class Composite(Table):
    name = "t_comp"
    key_col = "a"

    def ddl(self):
        return ["CREATE TABLE t_comp (a int8, b text, v text, n int, PRIMARY KEY (a, b));"]

    def insert(self):
        rows = ", ".join("(nextval('gen_seq'), %s, %s, %s)" % (
            self.v.text(), self.v.maybe_null(self.v.text()), self.v.maybe_null(self.v.int_()))
            for _ in range(self.r.randint(1, 4)))
        return "INSERT INTO t_comp VALUES %s;" % rows

    def update(self):
        return "UPDATE t_comp SET v = %s, n = coalesce(n, 0) - 1 WHERE %s;" % (
            self.v.maybe_null(self.v.text()), self.pred())

    def key_update(self):
        return self.r.choice([
            "UPDATE t_comp SET b = b || '~' WHERE %s;" % self.pred(),
            "UPDATE t_comp SET a = nextval('gen_seq'), v = 'rekeyed' WHERE %s;" % self.pred()])


class CompositeTyped(Table):
    """A key of uuid, timestamptz, numeric, char(3), inet and bool: lookups must use each type's
    own equality (numeric 1.0 = 1.00, timestamptz in any zone, char(n) padding)."""
    name = "t_ctyped"
    key_col = "n"

    def ddl(self):
        return ["CREATE TABLE t_ctyped (u uuid, ts timestamptz, k numeric, ch char(3), ip inet, b bool,"
                " v text, n int8 NOT NULL, PRIMARY KEY (u, ts, k, ch, ip, b));"]

    def insert(self):
        rows = ", ".join("(md5(nextval('gen_seq')::text)::uuid, %s, %s, %s, %s, %s, %s, currval('gen_seq'))" % (
            self.v.tstz(), self.v.pick(["1.0", "1.00", "-0", "2.50", "1e3"]), q(self.v.pick(["a", "ab", "abc", ""])),
            self.v.inet(), self.v.bool_(), self.v.maybe_null(self.v.text())) for _ in range(self.r.randint(1, 3)))
        return "INSERT INTO t_ctyped VALUES %s;" % rows

    def update(self):
        return "UPDATE t_ctyped SET v = %s WHERE %s;" % (self.v.maybe_null(self.v.text()), self.pred())

    def key_update(self):
        return self.r.choice([
            "UPDATE t_ctyped SET ts = ts + interval '1 hour' WHERE %s;" % self.pred(),
            "UPDATE t_ctyped SET b = NOT b, ch = 'z' WHERE %s;" % self.pred(),
            "UPDATE t_ctyped SET k = k * 10 WHERE %s;" % self.pred()])


class Full(Table):
    """No key, REPLICA IDENTITY FULL: rows found by every column; identical duplicates."""
    name = "t_full"
    keyed = False
    key_col = "a"
    COLS = "a int, b text, c numeric, d float8, j jsonb"

    def ddl(self):
        return ["CREATE TABLE %s (%s);" % (self.name, self.COLS),
                "ALTER TABLE %s REPLICA IDENTITY FULL;" % self.name]

    def row(self):
        return "(%s, %s, %s, %s, %s)" % (
            self.r.randint(0, 20), self.v.maybe_null(self.v.text()), self.v.maybe_null(self.v.numeric()),
            self.v.maybe_null(self.v.float_()), self.v.maybe_null(self.v.json()))

    SETS = ["b = coalesce(b, '') || '!'", "c = c + 1", "d = d * 2", "j = '[]'"]

    def insert(self):
        row = self.row()
        rows = [row] * self.r.randint(1, 2) + [self.row() for _ in range(self.r.randint(0, 2))]
        return "INSERT INTO %s VALUES %s;" % (self.name, ", ".join(rows))

    def update(self):
        sets = self.r.choice(self.SETS)
        if self.r.random() < 0.5:  # one of possibly identical rows
            return "UPDATE %s SET %s WHERE ctid = (SELECT ctid FROM %s WHERE a = %d LIMIT 1);" % (
                self.name, sets, self.name, self.r.randint(0, 20))
        return "UPDATE %s SET %s WHERE %s;" % (self.name, sets, self.pred())

    def delete(self):
        if self.r.random() < 0.5:
            return "DELETE FROM %s WHERE ctid = (SELECT ctid FROM %s WHERE a = %d LIMIT 1);" % (
                self.name, self.name, self.r.randint(0, 20))
        return "DELETE FROM %s WHERE %s;" % (self.name, self.pred())

    def key_update(self):
        return "UPDATE %s SET a = a + 100 WHERE %s;" % (self.name, self.pred())


class FullTyped(Full):
    """REPLICA IDENTITY FULL over bool, char(n), inet, timestamptz, uuid, bytea, varchar."""
    name = "t_fullt"
    COLS = "a int, f bool, ch char(4), ip inet, ts timestamptz, u uuid, raw bytea, vc varchar(10)"
    SETS = ["f = NOT f", "ch = 'upd'", "ip = '10.1.2.3'", "ts = ts + interval '1 day'", "raw = '\\x01'", "vc = 'v'"]

    def row(self):
        v = self.v
        return "(%s, %s, %s, %s, %s, %s, %s, %s)" % (
            self.r.randint(0, 20), v.maybe_null(v.bool_()), v.maybe_null(q(v.pick(["x", "ab", "abcd", ""]))),
            v.maybe_null(v.inet()), v.maybe_null(v.tstz()), v.maybe_null(v.uuid()), v.maybe_null(v.bytea()),
            v.maybe_null(q(v.pick(["", "a", "ab "]))))


class IndexIdent(Table):
    name = "t_idx"
    key_col = "a"

    def ddl(self):
        return ["CREATE TABLE t_idx (a int8 NOT NULL, b text NOT NULL, v text, w int);",
                "CREATE UNIQUE INDEX t_idx_ab ON t_idx (a, b);",
                "ALTER TABLE t_idx REPLICA IDENTITY USING INDEX t_idx_ab;"]

    def insert(self):
        return "INSERT INTO t_idx VALUES %s;" % ", ".join(
            "(nextval('gen_seq'), %s, %s, %s)" % (self.v.text(), self.v.maybe_null(self.v.text()),
                                                  self.v.maybe_null(self.v.int_()))
            for _ in range(self.r.randint(1, 3)))

    def update(self):
        return "UPDATE t_idx SET v = %s, w = w + 1 WHERE %s;" % (self.v.maybe_null(self.v.text()), self.pred())

    def key_update(self):
        return "UPDATE t_idx SET b = b || '#' WHERE %s;" % self.pred()


class Part(Table):
    """Range partitions by day (2020, 2021, 2022 hashed in two, default), published via the root."""
    name = "t_part"
    LEAVES = [("t_part_2020", "2020"), ("t_part_2021", "2021")]

    def ddl(self):
        return [
            "CREATE TABLE t_part (id int8, day date, v text, n int, PRIMARY KEY (id, day)) PARTITION BY RANGE (day);",
            "CREATE TABLE t_part_2020 PARTITION OF t_part FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');",
            "CREATE TABLE t_part_2021 PARTITION OF t_part FOR VALUES FROM ('2021-01-01') TO ('2022-01-01');",
            "CREATE TABLE t_part_2022 PARTITION OF t_part FOR VALUES FROM ('2022-01-01') TO ('2023-01-01') PARTITION BY HASH (id);",
            "CREATE TABLE t_part_2022_h0 PARTITION OF t_part_2022 FOR VALUES WITH (MODULUS 2, REMAINDER 0);",
            "CREATE TABLE t_part_2022_h1 PARTITION OF t_part_2022 FOR VALUES WITH (MODULUS 2, REMAINDER 1);",
            "CREATE TABLE t_part_other PARTITION OF t_part DEFAULT;"]

    def day(self):
        return "date '2020-01-01' + %d" % self.r.randint(0, 1400)

    def insert(self):
        if self.r.random() < 0.3:  # straight into a leaf
            leaf, year = self.r.choice(self.LEAVES)
            return "INSERT INTO %s VALUES (nextval('gen_seq'), date '%s-01-01' + %d, %s, %s);" % (
                leaf, year, self.r.randint(0, 360), self.v.text(), self.v.int_())
        return "INSERT INTO t_part VALUES %s;" % ", ".join(
            "(nextval('gen_seq'), %s, %s, %s)" % (self.day(), self.v.maybe_null(self.v.text()), self.v.int_())
            for _ in range(self.r.randint(1, 4)))

    def update(self):
        if self.r.random() < 0.3:
            leaf, _ = self.r.choice(self.LEAVES)
            return "UPDATE %s SET v = v || ' leaf' WHERE %s;" % (leaf, self.pred())
        return "UPDATE t_part SET %s WHERE %s;" % (self.r.choice([
            "n = n * 2", "v = %s" % self.v.text(), "day = day + %d" % self.r.randint(100, 500),
            "day = '2030-01-01'"]), self.pred())

    def key_update(self):
        return "UPDATE t_part SET id = nextval('gen_seq') WHERE %s;" % self.pred()


class Toast(Table):
    """Values stored out of line (incompressible, ~10 kB), then updates that leave them unchanged."""
    name = "t_toast"

    def big(self):
        salt = self.r.randint(0, 10**6)
        return "(SELECT string_agg(md5(i::text || '%d'), '') FROM generate_series(1, %d) i)" % (
            salt, self.r.randint(70, 400))

    def ddl(self):
        return ["CREATE TABLE t_toast (id int8 PRIMARY KEY, small int, big text, raw bytea, j jsonb);"]

    def insert(self):
        return ("INSERT INTO t_toast VALUES (nextval('gen_seq'), %s, %s, decode(%s, 'hex'), "
                "jsonb_build_object('k', %s));" % (self.v.int_(), self.v.maybe_null(self.big()),
                                                    self.big(), self.big()))

    def update(self):
        return self.r.choice([
            "UPDATE t_toast SET small = small + 1 WHERE %s;" % self.pred(),
            "UPDATE t_toast SET big = %s WHERE %s;" % (self.big(), self.pred()),
            "UPDATE t_toast SET big = NULL, small = 0 WHERE %s;" % self.pred(),
            "UPDATE t_toast SET j = j || '{\"x\": 1}' WHERE %s;" % self.pred()])

    def key_update(self):
        return "UPDATE t_toast SET id = nextval('gen_seq') WHERE %s;" % self.pred()


class NoCols(Table):
    name = "t_nocols"
    keyed = False

    def ddl(self):
        return ["CREATE TABLE t_nocols ();", "ALTER TABLE t_nocols REPLICA IDENTITY FULL;"]

    def insert(self):
        return "INSERT INTO t_nocols SELECT FROM generate_series(1, %d);" % self.r.randint(1, 3)

    def update(self):
        return self.insert()

    def delete(self):
        return "DELETE FROM t_nocols WHERE ctid = (SELECT ctid FROM t_nocols LIMIT 1);"


TABLE_FEATURES = [("types", Types), ("composite_key", Composite), ("composite_typed", CompositeTyped),
                  ("full_identity", Full), ("full_typed", FullTyped), ("index_identity", IndexIdent), ("partitions", Part),
                  ("toast", Toast), ("no_columns", NoCols)]


class Generator:
    def __init__(self, seed, features, txns):
        self.seed = seed
        self.features = set(features)
        self.ntxns = txns
        self.r = random.Random(seed)
        self.v = Values(self.r)
        self.tables = [Single(self)] + [cls(self) for f, cls in TABLE_FEATURES if f in self.features]
        self.sp = 0

    def has(self, f):
        return f in self.features

    def schema(self):
        out = ["CREATE SEQUENCE gen_seq;",
               "CREATE TABLE zz_marker (id int PRIMARY KEY);"]
        for t in self.tables:
            out += t.ddl()
        return out

    def statement(self, t):
        ops = ["insert"] * 4 + ["update"] * 3 + ["delete"]
        if self.has("key_updates"):
            ops += ["key_update"] * 2
        op = self.r.choice(ops)
        stmt = getattr(t, op)()
        return stmt or t.insert()

    def body(self, tables, n):
        out = []
        for _ in range(n):
            if self.has("big_txn") and self.r.random() < 0.03:
                out.append(self.big())
            elif self.has("savepoints") and self.r.random() < 0.15:
                out += self.savepoint(tables)
            elif self.has("truncate") and self.r.random() < 0.04:
                names = sorted({self.r.choice(tables).name for _ in range(self.r.randint(1, 2))})
                out.append("TRUNCATE %s;" % ", ".join(names))
            else:
                out.append(self.statement(self.r.choice(tables)))
        return out

    def big(self):
        """Thousands of rows in one statement: more than apply.batch_rows (10000) by the end of
        some transactions, and more than logical_decoding_work_mem, so the decoder spills."""
        n = self.r.randint(3000, 12000)
        return self.r.choice([
            "INSERT INTO t_single SELECT nextval('gen_seq'), 'big ' || g, g FROM generate_series(1, %d) g;" % n,
            "UPDATE t_single SET n = coalesce(n, 0) + 1, v = left(v, 20);",
            "DELETE FROM t_single WHERE id %% 3 = %d;" % self.r.randrange(3)])

    def savepoint(self, tables):
        self.sp += 1
        name = "sp%d" % self.sp
        inner = self.body(tables, self.r.randint(1, 3))
        end = self.r.choice(["ROLLBACK TO SAVEPOINT %s;" % name, "RELEASE SAVEPOINT %s;" % name,
                             "ROLLBACK TO SAVEPOINT %s;" % name])
        tail = [self.statement(self.r.choice(tables))] if self.r.random() < 0.5 else []
        return ["SAVEPOINT %s;" % name] + inner + [end] + tail

    def txn(self):
        k = 1
        if self.has("multi_table") and self.r.random() < 0.5:
            k = self.r.randint(2, min(4, len(self.tables))) if len(self.tables) > 1 else 1
        tables = self.r.sample(self.tables, k)
        stmts = self.body(tables, self.r.randint(1, 6))
        end = "ROLLBACK;" if self.has("rollback") and self.r.random() < 0.08 else "COMMIT;"
        return ["BEGIN;"] + stmts + [end]

    def workload(self):
        # a first round of inserts into every table so later updates find rows
        txns = [["BEGIN;"] + [t.insert() for _ in range(3)] + ["COMMIT;"] for t in self.tables]
        txns += [self.txn() for _ in range(self.ntxns)]
        return {"schema": self.schema(), "txns": txns}


def render(wl, header):
    """Workload dict -> file text."""
    out = ["-- " + line for line in header] + ["-- @schema"] + wl["schema"]
    for i, txn in enumerate(wl["txns"], 1):
        out.append("-- @txn %d" % i)
        out += txn
    return "\n".join(out) + "\n"


def parse_workload(text):
    """File text -> {"schema": [...], "txns": [[...], ...], "header": [...]}."""
    wl = {"schema": [], "txns": [], "header": []}
    cur = None
    for line in text.splitlines():
        if line.startswith("-- @schema"):
            cur = wl["schema"]
        elif line.startswith("-- @txn"):
            cur = []
            wl["txns"].append(cur)
        elif line.startswith("--") or not line.strip():
            if cur is None and line.startswith("-- "):
                wl["header"].append(line[3:])
        elif cur is None:
            raise ValueError("statement before -- @schema: " + line)
        else:
            cur.append(line)
    return wl


def generate(seed, features, txns):
    bad = [f for f in features if f not in FEATURES]
    if bad:
        raise ValueError("unknown feature(s): %s (known: %s)" % (", ".join(bad), ", ".join(FEATURES)))
    return Generator(seed, features, txns).workload()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--features", default=",".join(FEATURES))
    ap.add_argument("--txns", type=int, default=30)
    a = ap.parse_args()
    feats = [f for f in a.features.split(",") if f]
    wl = generate(a.seed, feats, a.txns)
    sys.stdout.write(render(wl, ["seed: %d" % a.seed, "features: %s" % ",".join(feats)]))


if __name__ == "__main__":
    main()
