#!/usr/bin/env python3
"""Writes seed inputs for the fuzz targets, taken from pgward's test suites:
the SQL of the analysis corpus and fixtures, the protocol messages and
values the unit and integration tests use, the example policies and the
YAML of the tests. Each seed is in its target's input format (see the
`input` function of each target). Run it, then minimise into the committed
corpus:

    python3 fuzz/seeds.py /tmp/seeds
    fuzz/target/*/release/TARGET -merge=1 fuzz/corpus/TARGET /tmp/seeds/TARGET

(or `fuzz/minimise.sh`, which does both for every target).
"""

import hashlib
import os
import re
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def rust_strings(text):
    """Plain and raw string literals of Rust source, unescaped."""
    out = []
    for m in re.finditer(r'r(#+)"(.*?)"\1', text, re.S):
        out.append(m.group(2))
    for m in re.finditer(r'(?<![r#\w])"((?:[^"\\\n]|\\.)*)"', text):
        s = m.group(1)
        s = re.sub(r"\\u\{([0-9a-fA-F]+)\}", lambda x: chr(int(x.group(1), 16)), s)
        s = (
            s.replace("\\n", "\n")
            .replace("\\t", "\t")
            .replace("\\r", "\r")
            .replace('\\"', '"')
            .replace("\\0", "\0")
            .replace("\\\\", "\\")
        )
        out.append(s)
    return out


SQL_START = re.compile(
    r"^\s*(select|insert|update|delete|with|create|alter|drop|copy|explain|prepare|execute|"
    r"declare|fetch|set|reset|show|begin|commit|rollback|grant|revoke|truncate|vacuum|analyze|"
    r"values|table|merge|lock|listen|notify|call|do|comment|discard|refresh|cluster|reindex|"
    r"security|savepoint|release|start|abort|end|load|import|deallocate|close|move|checkpoint)\b",
    re.I,
)


def sql_corpus():
    seen = []
    files = [
        "src/sql/corpus_tests.rs",
        "src/sql/lineage.rs",
        "src/sql/classify.rs",
        "src/mask/statement.rs",
        "src/policy/decide.rs",
        "src/attribution.rs",
        "tests/guard.rs",
        "tests/masking.rs",
        "tests/stamp.rs",
        "tests/proxy_protocol.rs",
        "benches/guard.rs",
    ]
    for f in files:
        for s in rust_strings(read(f)):
            if SQL_START.match(s) and s not in seen:
                seen.append(s)
    for f in sorted(os.listdir(os.path.join(ROOT, "src/sql/fixtures"))):
        text = read("src/sql/fixtures/" + f)
        for stmt in re.split(r";\s*\n", text):
            stmt = stmt.strip()
            if stmt and not stmt.startswith("--") and stmt not in seen:
                seen.append(stmt + ";")
    return seen


def yaml_docs(must):
    docs = []
    for d in ["policies", "benches", "config", "deploy"]:
        for f in sorted(os.listdir(os.path.join(ROOT, d))):
            if f.endswith(".yaml"):
                docs.append(read(f"{d}/{f}"))
    for d in ["src", "tests"]:
        for dirpath, _, names in os.walk(os.path.join(ROOT, d)):
            for n in names:
                if n.endswith(".rs"):
                    for s in rust_strings(read(os.path.relpath(os.path.join(dirpath, n), ROOT))):
                        if must in s and "\n" in s:
                            docs.append(s)
    return [d for d in docs if must in d]


# ----------------------------------------------------------------- protocol


def msg(tag, body):
    return tag.encode() + struct.pack(">i", len(body) + 4) + body


def cstr(s):
    return (s.encode() if isinstance(s, str) else s) + b"\0"


def parse(name, sql, oids=()):
    return msg("P", cstr(name) + cstr(sql) + struct.pack(">h", len(oids)) + b"".join(struct.pack(">I", o) for o in oids))


def bind(portal, stmt, params=(), pfmt=(), rfmt=()):
    b = cstr(portal) + cstr(stmt) + struct.pack(">h", len(pfmt)) + b"".join(struct.pack(">h", f) for f in pfmt)
    b += struct.pack(">h", len(params))
    for p in params:
        b += struct.pack(">i", -1) if p is None else struct.pack(">i", len(p)) + p
    b += struct.pack(">h", len(rfmt)) + b"".join(struct.pack(">h", f) for f in rfmt)
    return msg("B", b)


def function_call(oid, args, rfmt=0):
    b = struct.pack(">Ih", oid, 1) + struct.pack(">h", 1) + struct.pack(">h", len(args))
    for a in args:
        b += struct.pack(">i", -1) if a is None else struct.pack(">i", len(a)) + a
    return msg("F", b + struct.pack(">h", rfmt))


def row_description(fields):
    b = struct.pack(">h", len(fields))
    for name, table, attnum, typ, fmt in fields:
        b += cstr(name) + struct.pack(">IhIhih", table, attnum, typ, -1, -1, fmt)
    return msg("T", b)


def data_row(values):
    b = struct.pack(">h", len(values))
    for v in values:
        b += struct.pack(">i", -1) if v is None else struct.pack(">i", len(v)) + v
    return msg("D", b)


def error(code, text, sev="ERROR"):
    return msg("E", b"S" + cstr(sev) + b"V" + cstr(sev) + b"C" + cstr(code) + b"M" + cstr(text) + b"Dsecret detail\0" + b"\0")


READY = msg("Z", b"I")
SYNC = msg("S", b"")

CUSTOMERS = [
    ("id", 16400, 1, 23, 0),
    ("full_name", 16400, 2, 25, 0),
    ("email", 16400, 3, 1043, 0),
    ("ssn", 16400, 6, 25, 0),
    ("birth_date", 16400, 5, 1082, 0),
]
ROW = [b"1", b"Alice Example", b"alice@example.com", b"123-45-6789", b"1990-05-17"]

FRONTEND = [
    msg("Q", cstr("select * from customers")),
    msg("Q", cstr("select 1; select upper(ssn) from customers")),
    parse("s1", "select * from customers where id = $1", [23]) + bind("", "s1", [b"1"], [0], [1]) + msg("D", b"P\0") + msg("E", b"\0\0\0\0\0") + SYNC,
    parse("", "select ssn from customers") + bind("p", "") + msg("E", b"p\0\0\0\0\x05") + msg("C", b"Pp\0") + msg("C", b"S\0") + SYNC,
    msg("Q", cstr("copy customers from stdin")) + msg("d", b"1\tAlice\n") + msg("c", b""),
    msg("Q", cstr("copy customers from stdin")) + msg("d", b"1\t") + msg("f", cstr("client gave up")),
    function_call(764, [struct.pack(">i", 42)]),
    msg("Q", cstr("delete from t")) + msg("X", b""),
]

BACKEND = [
    row_description(CUSTOMERS) + data_row(ROW) + data_row([b"2", None, b"bob@x.org", b"987-65-4321", b"2001-01-01"]) + msg("C", cstr("SELECT 2")) + READY,
    msg("1", b"") + msg("2", b"") + row_description([("ssn", 16400, 6, 25, 1)]) + data_row([b"123-45-6789"]) + msg("C", cstr("SELECT 1")) + READY,
    msg("H", b"\0" + struct.pack(">hhh", 2, 0, 0)) + msg("d", b"1\t123-45-6789\n") + msg("d", b"2\t\\N\n") + msg("c", b"") + msg("C", cstr("COPY 2")) + READY,
    error("42601", 'syntax error at or near "selec"') + READY,
    msg("S", cstr("standard_conforming_strings") + cstr("off")) + msg("S", cstr("client_encoding") + cstr("SJIS")),
    msg("R", struct.pack(">i", 0)) + msg("K", struct.pack(">i", 4242) + b"\x01\x02\x03\x04") + READY,
    msg("N", b"SNOTICE\0C00000\0Mnotice about 123-45-6789\0\0") + msg("A", struct.pack(">i", 1) + cstr("chan") + cstr("payload")),
    msg("V", struct.pack(">i", 4) + struct.pack(">i", 7)) + READY,
    msg("n", b"") + msg("t", struct.pack(">hI", 1, 23)) + msg("s", b"") + msg("I", b"") + READY,
]


# ------------------------------------------------------------------- values

SAMPLES = [
    (16, "t", b"\x01"),
    (17, "\\x0102", b"\x01\x02"),
    (18, "a", b"a"),
    (19, "alice", b"alice"),
    (20, "42", struct.pack(">q", 42)),
    (21, "42", struct.pack(">h", 42)),
    (23, "42", struct.pack(">i", 42)),
    (25, "alice@example.com", b"alice@example.com"),
    (26, "42", struct.pack(">I", 42)),
    (114, '{"a": 1}', b'{"a": 1}'),
    (142, "<a/>", b"<a/>"),
    (700, "1234.5677", struct.pack(">f", 1234.5678)),
    (701, "1234.5678", struct.pack(">d", 1234.5678)),
    (1042, "ab  ", b"ab  "),
    (1043, "alice", b"alice"),
    (1082, "2024-03-15", bytes.fromhex("00002288")),
    (1083, "13:45:12.123456", bytes.fromhex("0000000b87270c40")),
    (1114, "2024-03-15 13:45:12.5", bytes.fromhex("0002b6b1fc57cb20")),
    (1184, "2024-03-15 13:45:12.5+00", bytes.fromhex("0002b6b1fc57cb20")),
    (1186, "1 day 02:00:00", struct.pack(">qii", 7_200_000_000, 1, 0)),
    (1700, "1234.5678", bytes.fromhex("000200000000000404d2162e")),
    (2950, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", bytes.fromhex("a0eebc999c0b4ef8bb6d6bb9bd380a11")),
    (3802, '{"a": 1}', b'\x01{"a": 1}'),
]
EXTRA_TEXT = [
    (1082, "4714-11-24 BC"),
    (1082, "5874897-12-31"),
    (1082, "infinity"),
    (1114, "294276-12-31 23:59:59.999999"),
    (1184, "2024-01-01 00:00:00+05:30"),
    (1184, "0001-01-01 00:00:00+14 BC"),
    (1700, "-0.000000001"),
    (1700, "NaN"),
    (701, "-Infinity"),
    (700, "3.4028235e38"),
    (20, "-9223372036854775808"),
    (1007, "{1,NULL,3}"),
    (1009, '[0:1]={"a b","c\\"d"}'),
    (1231, "{{1.5,2},{NULL,-3}}"),
    (1185, '{"2024-01-01 00:00:00+00"}'),
    (3807, '{"{\\"a\\": 1}"}'),
    (25, "bob@mail.example.org"),
    (25, "ünïcode 雪"),
]
SCALARS = [16, 17, 18, 19, 20, 21, 23, 25, 26, 114, 142, 700, 701, 1042, 1043, 1082, 1083, 1114, 1184, 1186, 1700, 2950, 3802]
ARRAYS = [1000, 1001, 1002, 1003, 1016, 1005, 1007, 1009, 1028, 199, 143, 1021, 1022, 1014, 1015, 1182, 1183, 1115, 1185, 1187, 1231, 2951, 3807]


def oid_sel(oid):
    if oid in SCALARS:
        return bytes([0, SCALARS.index(oid)])
    if oid in ARRAYS:
        return bytes([4, ARRAYS.index(oid)])
    return bytes([7]) + struct.pack(">H", oid & 0xFFFF)


MASK_FNS = [
    b"\x00",
    b"\x01",
    b"\x02" + cstr("1970-01-01"),
    b"\x03\x02\x04",
    b"\x04",
    b"\x05" + cstr("secret-key"),
    b"\x06" + bytes([42]),
    b"\x07" + cstr("10"),
    b"\x08\x01",
]


def int4_array(dims, elems):
    b = struct.pack(">iiI", len(dims), 1 if None in elems else 0, 23)
    for n, lb in dims:
        b += struct.pack(">ii", n, lb)
    for e in elems:
        b += struct.pack(">i", -1) if e is None else struct.pack(">ii", 4, e)
    return b


# ------------------------------------------------------------- the targets


def seeds():
    out = {}

    def add(target, data):
        out.setdefault(target, []).append(data)

    # frame_scanner: mode, seed, limit, reads, stream
    for stream in FRONTEND + BACKEND:
        for mode in range(7):
            for reads in [b"", b"\x00", bytes([6, 2, 40])]:
                add("frame_scanner", bytes([mode]) + b"pgward!!" + b"\x02" + bytes([len(reads)]) + reads + stream)
    add("frame_scanner", bytes([0]) + b"pgward!!" + b"\x00\x20\x00" + msg("Q", cstr("select 1" * 10)))

    # startup_packet
    def startup(params, version=0x00030000):
        body = struct.pack(">I", version) + b"".join(cstr(k) + cstr(v) for k, v in params) + b"\0"
        return struct.pack(">i", len(body) + 4) + body

    packets = [
        startup([("user", "app"), ("database", "db")]),
        startup([("user", "alice"), ("options", "-c search_path=hr,public -c statement_timeout=5s")]),
        startup([("user", "alice"), ("options", "--search-path=a\\ b -ec work_mem=4MB"), ("application_name", "psql")]),
        startup([("user", "bob"), ("SEARCH_PATH", "secret"), ("options", "-c search_path=public\\")]),
        startup([("user", "bob"), ("default_transaction_read_only", "off")], 0x00030002),
        struct.pack(">ii", 8, 80877103),
        struct.pack(">ii", 8, 80877104),
        struct.pack(">iii", 16, 80877102, 4242) + b"\x01\x02\x03\x04",
    ]
    for p in packets:
        add("startup_packet", b"\x00\x01\x00" + cstr("on") + p)
        add("startup_packet", b"\x02\x02\x01" + cstr("x y\\") + b"\x04" + cstr("60s") + cstr("svc") + p)
    add("startup_packet", b"\x01\x01\x00on\0" + b"\x03" + cstr("app") + b"\x00" + cstr("-c search_path=x\\") + b"\x02\x00" + cstr("off") + b"\x03search_path\0secret\0")

    # frontend_messages: selector into "QPBDCEFf", body
    tags = "QPBDCEFf"
    for m in FRONTEND:
        while m:
            tag, length = chr(m[0]), struct.unpack(">i", m[1:5])[0]
            body, m = m[5 : length + 1], m[length + 1 :]
            if tag in tags:
                add("frontend_messages", bytes([tags.index(tag)]) + body)
    add("frontend_messages", bytes([tags.index("B")]) + bind("p1", "s1", [b"abc", None], [0, 1], [0, 1])[5:])

    # backend_messages
    for m in BACKEND:
        while m:
            tag, length = chr(m[0]), struct.unpack(">i", m[1:5])[0]
            body, m = m[5 : length + 1], m[length + 1 :]
            sel = {"E": 0, "N": 0, "T": 1, "H": 2, "C": 4}.get(tag)
            if sel == 0:
                add("backend_messages", bytes([0, tag == "N"]) + body)
            elif sel is not None:
                add("backend_messages", bytes([sel]) + body)
    add("backend_messages", b"\x03SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0")

    def chunk(b):
        return struct.pack(">H", len(b)) + b

    for scram_only in [0, 1]:
        add("backend_messages", bytes([5, scram_only]) + chunk(struct.pack(">i", 10) + b"SCRAM-SHA-256\0\0") + chunk(struct.pack(">i", 11) + b"r=abc,s=QSXCR+Q6sek8bf92,i=4096"))
        add("backend_messages", bytes([5, scram_only]) + chunk(struct.pack(">i", 5) + b"\x01\x02\x03\x04") + chunk(struct.pack(">i", 0)))
        add("backend_messages", bytes([5, scram_only]) + chunk(struct.pack(">i", 3)) + chunk(struct.pack(">i", 0)))

    # session: masked, tracked, then (direction, chunk) steps
    flows = [
        [(0, msg("Q", cstr("select * from customers"))), (1, BACKEND[0])],
        [(0, FRONTEND[2]), (1, BACKEND[1])],
        [(0, msg("Q", cstr("copy customers (id, ssn) to stdout"))), (1, BACKEND[2])],
        [(0, msg("Q", cstr("selec 1"))), (1, BACKEND[3])],
        [(0, FRONTEND[6]), (1, BACKEND[7])],
        [(0, FRONTEND[4]), (1, msg("G", b"\0\0\x02\0\0\0\0")), (1, msg("C", cstr("COPY 1")) + READY)],
        [(0, msg("Q", cstr("set standard_conforming_strings = off"))), (1, BACKEND[4] + READY), (0, msg("Q", cstr("select 'a\\' ; drop table t --'")))],
        [(0, FRONTEND[3]), (1, msg("1", b"") + msg("2", b"") + msg("T", b"\0\0") + msg("n", b"") + msg("3", b"") + msg("3", b"") + READY)],
    ]
    for flow in flows:
        steps = b"".join(bytes([d]) + chunk(b) for d, b in flow)
        for flags in [b"\x00\x00", b"\x01\x00", b"\x00\x01", b"\x01\x01"]:
            add("session", flags + steps)

    # sql_analyze
    for s in sql_corpus():
        add("sql_analyze", s.encode())

    # lexkey: the corpus, and the places where the scanners could part
    for s in sql_corpus():
        add("lexkey", s.encode())
    for s in ["a+-1", "a?-1 <=-1", "x::int := $1 => 2", "'a''b' E'\\'c' $q$a$$q$ $$x$$", "'a'\n'b'",
              "/* a /* b */ c */ 1", "a*--c\n+/*d*/b", "1.e5 .5e-3 1. 2147483648 007", "B'01' X'fF' b'2'",
              "0x1F 1_000 1..2 123abc $1abc", "N'x' U&'x' u&\"y\"", "\"a\"\"b\".c", "@-@ ~~ !~* #>> ||/"]:
        add("lexkey", s.encode())

    # stamp: user, profile, branch, session, application, flags, [traceparent], [pairs], sql
    facts = cstr("alice@example.com") + cstr("analyst") + cstr("main") + cstr("s-1") + cstr("psql")
    for s in sql_corpus()[:200]:
        add("stamp", facts + b"\x00" + s.encode())
    add("stamp", facts + b"\x03" + cstr("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01") + b"\x02" + cstr("pgward_user") + cstr("root") + cstr("route") + cstr("/home") + b"SELECT 1 -- why")
    add("stamp", cstr("*/ DROP TABLE t; /*") + cstr("it's") + cstr("$$x$$") + cstr("nul") + cstr("-- dash") + b"\x00" + b"SELECT 1 /*a='b'*/ ;")

    # mask_value: function, type, format flag, value
    for oid, text, binary in SAMPLES:
        for f in MASK_FNS:
            add("mask_value", f + oid_sel(oid) + b"\x00" + text.encode())
            add("mask_value", f + oid_sel(oid) + b"\x01" + binary)
    for oid, text in EXTRA_TEXT:
        for f in MASK_FNS:
            add("mask_value", f + oid_sel(oid) + b"\x00" + text.encode())
    arr = int4_array([(2, 1), (2, 1)], [1, None, 3, 4])
    for f in MASK_FNS:
        add("mask_value", f + oid_sel(1007) + b"\x01" + arr)

    # mask_row: columns (flag, function, type, format), DataRow body
    body = data_row(ROW)[5:]
    cols = [(0, None), (1, (MASK_FNS[3], 25, 0)), (1, (MASK_FNS[4], 1043, 0)), (1, (MASK_FNS[5], 25, 0)), (1, (MASK_FNS[8], 1082, 0))]
    for variant in range(4):
        enc = bytes([len(cols)])
        for flag, spec in cols:
            if flag:
                f, oid, fmt = spec
                enc += b"\x01" + MASK_FNS[(MASK_FNS.index(f) + variant) % len(MASK_FNS)] + oid_sel(oid) + bytes([fmt])
            else:
                enc += b"\x00"
        add("mask_row", enc + body)
    for oid, text, binary in SAMPLES:
        add("mask_row", b"\x02\x00\x01" + MASK_FNS[1] + oid_sel(oid) + b"\x01" + data_row([b"x", binary])[5:])
        add("mask_row", b"\x02\x00\x01" + MASK_FNS[5] + oid_sel(oid) + b"\x00" + data_row([None, text.encode()])[5:])

    # mask_copy: header, format and options, columns, reads, row limit, stream
    def copy_cols(specs):
        b = bytes([len(specs)])
        for spec in specs:
            if spec is None:
                b += b"\x00"
            else:
                f, oid = spec
                b += b"\x01" + f + oid_sel(oid)
        return b

    specs = [None, (MASK_FNS[3], 25), (MASK_FNS[5], 1082)]
    text_stream = b"1\t123-45-6789\t2024-03-15\n2\t\\N\t1990-01-01\n3\tO\\\\Brien\\tx\t2000-02-29\n"
    csv_stream = b'1,123-45-6789,2024-03-15\n2,,1990-01-01\n3,"a,""b""\nc",2000-02-29\n'
    bin_stream = b"PGCOPY\n\xff\r\n\0" + struct.pack(">Ii", 0, 0)
    for row in [[b"1", b"123-45-6789", struct.pack(">i", 8840)], [b"2", None, struct.pack(">i", -10957)]]:
        bin_stream += struct.pack(">h", 3) + b"".join(struct.pack(">i", -1) if v is None else struct.pack(">i", len(v)) + v for v in row)
    bin_stream += struct.pack(">h", -1)
    tail = b"\x03\x05\x10\x3f" + b"\x01"
    add("mask_copy", b"\x00\x00\x00\x00" + copy_cols(specs) + tail + b"\x00" + text_stream)
    add("mask_copy", b"\x01\x00\x00\x00" + copy_cols(specs) + tail + b"\x00" + b"h\n" + text_stream)
    add("mask_copy", b"\x00\x01\x00\x00\x00\x00" + copy_cols(specs) + tail + b"\x00" + csv_stream)
    add("mask_copy", b"\x00\x02" + copy_cols([None, (MASK_FNS[3], 25), (MASK_FNS[8], 1082)]) + tail + b"\x00" + bin_stream)
    rows = b"\x03" + b"".join(b"\x50\x05hello" + b"\x50\x0b123-45-6789" + b"\x50\x0a2024-03-15" for _ in range(3))
    for fmt in [b"\x00\x00\x00\x00", b"\x00\x01\x00\x00\x00\x00", b"\x00\x02"]:
        add("mask_copy", fmt + copy_cols(specs) + b"\x02\x05\x10" + b"\x01" + b"\x01" + rows)

    # scram: honest exchanges, raw messages, verifiers
    for pw in ["secret", "I\u00adX\uff21", "a\x07b", ""]:
        add("scram", b"\x00\x03\x00" + pw.encode())
        add("scram", b"\x00\x03\x01" + pw.encode())
        add("scram", b"\x00\x03\x02\x00\x30\x41" + pw.encode())
    add("scram", b"\x01" + cstr("SCRAM-SHA-256") + cstr("n,,n=,r=rOprNGfwEbeRWgbNEkqO") + b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    add("scram", b"\x01" + cstr("SCRAM-SHA-256-PLUS") + cstr("p=tls-server-end-point,,n=,r=x") + b"")
    for v in re.findall(r'"(SCRAM-SHA-256\$[^"]+)"', read("src/auth/scram.rs") + read("src/auth/users.rs")):
        add("scram", b"\x02" + v.encode())

    # jwt: tokens, key sets, signed claims
    now = 1_700_000_000
    claims = [
        '{"iss":"https://issuer.example","aud":["pgward","other"],"sub":"alice","exp":%d,"iat":%d,"groups":["analysts","oncall",7]}' % (now + 300, now - 10),
        '{"iss":"https://issuer.example","aud":"pgward","sub":"bob","exp":%d,"nbf":%d,"groups":"dba"}' % (now + 30, now + 30),
        '{"iss":"https://issuer.example","aud":"pgward","sub":"","exp":%d}' % (now - 100),
        '{"iss":"https://other.example","aud":"pgward","sub":"eve","exp":1e400}',
    ]
    for c in claims:
        add("jwt", b"\x02\x00" + c.encode())
        add("jwt", b"\x02\x06" + cstr("ed1") + c.encode())
        add("jwt", b"\x02\x01\x00\x10\x41" + c.encode())
    add("jwt", b"\x00Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.")
    add("jwt", b"\x00eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")
    add("jwt", b'\x01{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed1","alg":"EdDSA","x":"OZM7svaTga2BNc_nZPzIdcQ8X4sJ4FDGU5ozan8EHQ0"},{"kty":"oct","k":"c2VjcmV0"},{"kty":"EC","crv":"P-256","use":"enc","x":"AA","y":"AA"}]}')

    # the YAML loaders
    for doc in yaml_docs("version:"):
        add("policy_yaml", doc.encode())
    for doc in yaml_docs("users:"):
        add("users_yaml", doc.encode())
    add(
        "users_yaml",
        b"users:\n  - name: alice\n    scram: \"SCRAM-SHA-256$4096:Drc0MhvCGQM7Jrey+05NlQ==$hrEHuA199V0YJSV8f/w4rLVal2M0mw4qMQmbUccfqM0=:TBjLj/tyU9bNJd0T/JTrbLE/oAdZzd5kiBPi/X58RtQ=\"\n    groups: [analysts, oncall]\n",
    )
    return out


def main():
    dest = sys.argv[1] if len(sys.argv) > 1 else "/tmp/pgward-seeds"
    total = 0
    for target, items in sorted(seeds().items()):
        d = os.path.join(dest, target)
        os.makedirs(d, exist_ok=True)
        for data in items:
            name = hashlib.sha1(data).hexdigest()
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        total += len(items)
        print(f"{target:18} {len(items):5} seeds")
    print(f"{'total':18} {total:5}")


if __name__ == "__main__":
    main()
