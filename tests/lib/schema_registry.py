#!/usr/bin/env python3
"""schema_registry: a stand-in for the Confluent Schema Registry, on loopback, for the tests.

    schema_registry.py [--port N] [--port-file F] [--control-file F]

Serves the subset of the Confluent Schema Registry REST API that syncline (and a person poking at
it with curl) uses, with its documented semantics:

    GET  /schemas/ids/{id}                  {"schema": "..."}; 40403 when unknown
    GET  /subjects                          ["subject", ...]
    GET  /subjects/{s}/versions             [1, 2, ...]; 40401 when the subject is unknown
    GET  /subjects/{s}/versions/{v|latest}  {"subject", "version", "id", "schema"}; 40401, 40402
    POST /subjects/{s}/versions             {"schema": "..."} -> {"id": N}. Ids are global: the
                                            same schema gets the same id under every subject, and
                                            registering it again under a subject returns its id
                                            without a new version. 42201 for an invalid schema,
                                            409 when it is incompatible with the subject's latest
                                            version under the subject's (else the global)
                                            compatibility level
    POST /subjects/{s}                      lookup: {"subject", "version", "id", "schema"}; 40401,
                                            40403
    GET  /config, PUT /config               {"compatibilityLevel": "BACKWARD"} (the default);
    GET  /config/{s}, PUT /config/{s}       PUT takes {"compatibility": LEVEL}; 40408 / 42203

Levels: NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE,
checked with Avro's schema resolution rules (records by name, fields by name, a reader field the
writer lacks needs a default, unions branch by branch, int/long/float/double promotions, string
<-> bytes). Two schemas are the same when their JSON is equal after parsing (key order and
whitespace aside). Errors have the Confluent body {"error_code": N, "message": "..."}; 404 and
401 use error_code 404 and 401.

Basic auth: when the environment variable SCHEMA_REGISTRY_AUTH holds "user:password", every
request must carry those credentials (401 otherwise). The variable keeps them out of `ps`.

Fault injection: when --control-file F exists and holds "N STATUS" (e.g. "3 503"), the next N
requests are answered with STATUS (error_code STATUS * 100 + 3) and the count in F goes down.

Each request is logged to stderr as "METHOD path status" (never its headers). Prints
"listening 127.0.0.1:PORT" once ready (and writes PORT to --port-file). Python 3.7+, stdlib
only. Stops on SIGTERM/SIGINT.
"""
import argparse
import base64
import json
import os
import re
import signal
import sys
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
NAMED = {"record", "error", "enum", "fixed"}
LEVELS = {"NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL",
          "FULL_TRANSITIVE"}
PROMOTIONS = {("int", "long"), ("int", "float"), ("int", "double"), ("long", "float"),
              ("long", "double"), ("float", "double"), ("string", "bytes"), ("bytes", "string")}


def log(msg):
    sys.stderr.write("%s schema_registry %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


class Invalid(Exception):
    pass


class Error(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# ---- Avro schemas ------------------------------------------------------------------------------

class Parsed:
    """A schema with its named types resolved: nodes are primitive names (str), unions (list),
    or dicts ({"type": "array", "items": node}, {"type": "record", "name": full, "fields": [...]},
    ...); named references are {"ref": fullname} looked up in self.names."""

    def __init__(self, text):
        try:
            doc = json.loads(text)
        except ValueError as e:
            raise Invalid("Invalid schema: not JSON: %s" % e)
        self.names = {}
        self.root = self.node(doc, "")
        self.check_refs(self.root, set())

    @staticmethod
    def fullname(name, ns):
        if not isinstance(name, str) or not name:
            raise Invalid("Invalid schema: a named type without a name")
        if "." in name or not ns:
            return name
        return ns + "." + name

    def node(self, s, ns):
        if isinstance(s, str):
            return s if s in PRIMITIVES else {"ref": self.fullname(s, ns)}
        if isinstance(s, list):
            return [self.node(b, ns) for b in s]
        if not isinstance(s, dict) or "type" not in s:
            raise Invalid("Invalid schema: %r is no schema" % (s,))
        t = s["type"]
        if not isinstance(t, str):
            return self.node(t, ns)
        if t in PRIMITIVES:
            return t
        if t == "array":
            return {"type": "array", "items": self.node(s.get("items"), ns)}
        if t == "map":
            return {"type": "map", "values": self.node(s.get("values"), ns)}
        if t not in NAMED:
            return {"ref": self.fullname(t, ns)}
        own = s.get("namespace") if "." not in str(s.get("name", "")) else None
        full = self.fullname(s.get("name"), own if own else ns)
        if full in self.names:
            raise Invalid("Invalid schema: %s is defined twice" % full)
        inner = full.rpartition(".")[0]
        n = {"type": "record" if t == "error" else t, "name": full}
        self.names[full] = n
        if t in ("record", "error"):
            if not isinstance(s.get("fields"), list):
                raise Invalid("Invalid schema: record %s has no fields" % full)
            n["fields"] = []
            for f in s["fields"]:
                if not isinstance(f, dict) or not isinstance(f.get("name"), str):
                    raise Invalid("Invalid schema: a field of %s has no name" % full)
                n["fields"].append({"name": f["name"], "type": self.node(f.get("type"), inner),
                                    "has_default": "default" in f})
        elif t == "enum":
            n["symbols"] = list(s.get("symbols") or [])
            n["has_default"] = "default" in s
        else:
            n["size"] = s.get("size")
        return n

    def check_refs(self, n, seen):
        if isinstance(n, list):
            for b in n:
                self.check_refs(b, seen)
        elif isinstance(n, dict):
            if "ref" in n:
                if n["ref"] not in self.names:
                    raise Invalid("Invalid schema: unknown type %s" % n["ref"])
                return
            if id(n) in seen:
                return
            seen.add(id(n))
            for key in ("items", "values"):
                if key in n:
                    self.check_refs(n[key], seen)
            for f in n.get("fields", []):
                self.check_refs(f["type"], seen)

    def deref(self, n):
        return self.names[n["ref"]] if isinstance(n, dict) and "ref" in n else n


def short(name):
    return name.rpartition(".")[2]


def can_read(rs, r, ws, w, path, errors, seen):
    """Appends to errors why reader node r (of schema rs) cannot read writer node w."""
    r, w = rs.deref(r), ws.deref(w)
    if isinstance(w, list):
        for i, b in enumerate(w):
            can_read(rs, r, ws, b, "%s/writer branch %d" % (path, i), errors, seen)
        return
    if isinstance(r, list):
        for b in r:
            trial = []
            can_read(rs, b, ws, w, path, trial, seen)
            if not trial:
                return
        errors.append("%s: no reader union branch reads the writer's %s" % (path, describe(w)))
        return
    if isinstance(r, str) and isinstance(w, str):
        if r != w and (w, r) not in PROMOTIONS:
            errors.append("%s: reader %s cannot read writer %s" % (path, describe(r), describe(w)))
        return
    if isinstance(r, str) or isinstance(w, str):
        errors.append("%s: reader %s cannot read writer %s" % (path, describe(r), describe(w)))
        return
    if r["type"] != w["type"]:
        errors.append("%s: reader %s cannot read writer %s" % (path, describe(r), describe(w)))
        return
    if r["type"] == "array":
        can_read(rs, r["items"], ws, w["items"], path + "/items", errors, seen)
    elif r["type"] == "map":
        can_read(rs, r["values"], ws, w["values"], path + "/values", errors, seen)
    elif short(r["name"]) != short(w["name"]):
        errors.append("%s: reader %s and writer %s differ in name" % (path, r["name"], w["name"]))
    elif r["type"] == "fixed" and r["size"] != w["size"]:
        errors.append("%s: fixed %s sizes differ" % (path, r["name"]))
    elif r["type"] == "enum":
        missing = [s for s in w["symbols"] if s not in r["symbols"]]
        if missing and not r["has_default"]:
            errors.append("%s: reader enum %s lacks %s" % (path, r["name"], missing))
    elif r["type"] == "record" and (r["name"], w["name"]) not in seen:
        seen = seen | {(r["name"], w["name"])}
        wf = {f["name"]: f for f in w["fields"]}
        for f in r["fields"]:
            if f["name"] in wf:
                can_read(rs, f["type"], ws, wf[f["name"]]["type"],
                         "%s/%s" % (path, f["name"]), errors, seen)
            elif not f["has_default"]:
                errors.append("%s: reader field %s.%s has no default and the writer lacks it"
                              % (path, r["name"], f["name"]))


def describe(n):
    if isinstance(n, str):
        return n
    if isinstance(n, list):
        return "union"
    return n.get("name", n["type"])


def incompatibilities(level, new, olds):
    """Why schema text new may not follow the texts olds (oldest first) under level."""
    if level == "NONE" or not olds:
        return []
    against = olds if level.endswith("_TRANSITIVE") else olds[-1:]
    p_new, errors = Parsed(new), []
    for old in against:
        p_old = Parsed(old)
        if level.startswith(("BACKWARD", "FULL")):
            can_read(p_new, p_new.root, p_old, p_old.root, "", errors, frozenset())
        if level.startswith(("FORWARD", "FULL")):
            can_read(p_old, p_old.root, p_new, p_new.root, "", errors, frozenset())
    return errors


# ---- the registry ------------------------------------------------------------------------------

class Registry:
    def __init__(self):
        self.lock = threading.Lock()
        self.schemas = []    # id - 1 -> schema text
        self.by_key = {}     # normalized schema -> id
        self.subjects = {}   # subject -> [id of version 1, id of version 2, ...]
        self.level = "BACKWARD"
        self.levels = {}     # subject -> level

    @staticmethod
    def key(text):
        return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))

    def subject(self, s):
        if s not in self.subjects:
            raise Error(404, 40401, "Subject '%s' not found." % s)
        return self.subjects[s]

    def version(self, s, v):
        ids = self.subject(s)
        if v == "latest" and ids:
            n = len(ids)
        elif re.fullmatch(r"[0-9]+", v) and 1 <= int(v) <= len(ids):
            n = int(v)
        elif v == "-1" and ids:
            n = len(ids)
        else:
            raise Error(404, 40402, "Version %s not found." % v)
        i = ids[n - 1]
        return {"subject": s, "version": n, "id": i, "schema": self.schemas[i - 1]}

    def register(self, s, text):
        if not isinstance(text, str):
            raise Error(422, 42201, "Invalid schema: the request has no \"schema\" string")
        try:
            Parsed(text)
        except Invalid as e:
            raise Error(422, 42201, str(e))
        k = self.key(text)
        ids = self.subjects.get(s, [])
        if k in self.by_key and self.by_key[k] in ids:
            return self.by_key[k]
        level = self.levels.get(s, self.level)
        why = incompatibilities(level, text, [self.schemas[i - 1] for i in ids])
        if why:
            raise Error(409, 409, "Schema being registered is incompatible with an earlier "
                                  "schema for subject \"%s\", details: %s" % (s, why))
        if k not in self.by_key:
            self.schemas.append(text)
            self.by_key[k] = len(self.schemas)
        self.subjects.setdefault(s, []).append(self.by_key[k])
        return self.by_key[k]

    def lookup(self, s, text):
        ids = self.subject(s)
        try:
            k = self.key(text)
        except (ValueError, TypeError):
            raise Error(422, 42201, "Invalid schema")
        i = self.by_key.get(k)
        if i not in ids:
            raise Error(404, 40403, "Schema not found")
        n = ids.index(i) + 1
        return {"subject": s, "version": n, "id": i, "schema": text}

    def route(self, method, parts, body):
        """(status, JSON value) for a request; parts are the path's decoded segments."""
        if method == "GET" and parts == []:
            return {}
        if parts[:2] == ["schemas", "ids"] and len(parts) == 3 and method == "GET":
            if not re.fullmatch(r"[0-9]+", parts[2]) or not 1 <= int(parts[2]) <= len(self.schemas):
                raise Error(404, 40403, "Schema %s not found" % parts[2])
            return {"schema": self.schemas[int(parts[2]) - 1]}
        if parts == ["subjects"] and method == "GET":
            return sorted(self.subjects)
        if parts[:1] == ["subjects"] and len(parts) == 2 and method == "POST":
            return self.lookup(parts[1], (body or {}).get("schema"))
        if parts[:1] == ["subjects"] and len(parts) == 3 and parts[2] == "versions":
            if method == "GET":
                return list(range(1, len(self.subject(parts[1])) + 1))
            if method == "POST":
                return {"id": self.register(parts[1], (body or {}).get("schema"))}
        if parts[:1] == ["subjects"] and len(parts) == 4 and parts[2] == "versions" and \
                method == "GET":
            return self.version(parts[1], parts[3])
        if parts[:1] == ["config"] and len(parts) <= 2:
            return self.config(method, parts[1] if len(parts) == 2 else None, body)
        raise Error(404, 404, "HTTP 404 Not Found")

    def config(self, method, subject, body):
        if method == "GET":
            if subject is None:
                return {"compatibilityLevel": self.level}
            if subject not in self.levels:
                raise Error(404, 40408, "Subject '%s' does not have subject-level compatibility "
                                        "configured" % subject)
            return {"compatibilityLevel": self.levels[subject]}
        if method == "PUT":
            level = (body or {}).get("compatibility")
            if level not in LEVELS:
                raise Error(422, 42203, "Invalid compatibility level. Valid values are none, "
                                        "backward, forward, full, backward_transitive, "
                                        "forward_transitive, and full_transitive")
            if subject is None:
                self.level = level
            else:
                self.levels[subject] = level
            return {"compatibility": level}
        raise Error(405, 405, "HTTP 405 Method Not Allowed")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    registry = None
    auth = None
    control = None

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, value, headers=()):
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        log("%s %s %d" % (self.command, self.path, status))

    def injected_fault(self):
        if not self.control or not os.path.exists(self.control):
            return None
        with Handler.lock:
            try:
                with open(self.control) as f:
                    words = f.read().split()
                count, status = int(words[0]), int(words[1])
            except (OSError, ValueError, IndexError):
                return None
            if count <= 0:
                return None
            with open(self.control, "w") as f:
                f.write("%d %d\n" % (count - 1, status))
            return status

    def authorized(self):
        if self.auth is None:
            return True
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            return base64.b64decode(header[6:]).decode() == self.auth
        except (ValueError, UnicodeDecodeError):
            return False

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not self.authorized():
            self.reply(401, {"error_code": 401, "message": "Unauthorized"},
                       [("WWW-Authenticate", 'Basic realm="schema-registry"')])
            return
        status = self.injected_fault()
        if status is not None:
            self.reply(status, {"error_code": status * 100 + 3, "message": "injected fault"})
            return
        path = urllib.parse.urlsplit(self.path).path
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/") if p]
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            self.reply(400, {"error_code": 400, "message": "request body is not JSON"})
            return
        try:
            with self.registry.lock:
                value = self.registry.route(self.command, parts, body)
            self.reply(200, value)
        except Error as e:
            self.reply(e.status, {"error_code": e.code, "message": e.message})
        except Exception as e:  # a bug here: say so loudly, answer like the registry would
            traceback.print_exc()
            self.reply(500, {"error_code": 50001, "message": "stand-in failure: %r" % e})

    do_GET = do_POST = do_PUT = do_DELETE = handle_any


def main():
    ap = argparse.ArgumentParser(description="Confluent Schema Registry stand-in (tests only)")
    ap.add_argument("--port", type=int, default=0, help="0: any free port")
    ap.add_argument("--port-file", help="write the port there once listening")
    ap.add_argument("--control-file", help="fault injection: 'N STATUS' answers N requests so")
    args = ap.parse_args()
    Handler.registry = Registry()
    Handler.auth = os.environ.get("SCHEMA_REGISTRY_AUTH") or None
    Handler.control = args.control_file
    Handler.lock = threading.Lock()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.rename(args.port_file + ".tmp", args.port_file)
    log("listening 127.0.0.1:%d auth=%s" % (port, "basic" if Handler.auth else "none"))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    server.server_close()


if __name__ == "__main__":
    main()
