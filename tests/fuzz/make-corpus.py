#!/usr/bin/env python3
"""make-corpus.py - (re)writes the seed corpora in tests/fuzz/corpus/.

Run from anywhere: python3 tests/fuzz/make-corpus.py.  Seeds are small
valid and near-valid inputs taken from PROTOCOL.md's examples, the unit
and integration tests, etc/*.conf, tests/conf and tests/data; each target's
input format is described at the top of its tests/fuzz/fuzz_<name>.c.
Files are named by content hash (as libFuzzer names its own), so running
this again only adds what is new; old seeds are left alone.
"""
import hashlib
import warnings
import json
import os
import re
import struct
import zlib

warnings.simplefilter("ignore", DeprecationWarning)
HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(rel, mode="r"):
    with open(os.path.join(TOP, rel), mode) as f:
        return f.read()


def c_strings(text):
    """Adjacent C string literals, joined and unescaped."""
    out = []
    for m in re.finditer(r'(?:"(?:[^"\\\n]|\\.)*"\s*)+', text):
        parts = re.findall(r'"((?:[^"\\\n]|\\.)*)"', m.group(0))
        raw = "".join(parts)
        try:
            s = (raw.encode("latin-1", "backslashreplace")
                 .decode("unicode_escape").encode("latin-1"))
        except (UnicodeDecodeError, UnicodeEncodeError):
            continue
        out.append(s)
    return out


# ---- protocol: stream + 4 parameter bytes --------------------------------

LINES = [
    "IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503",
    "WHATSAT kiwi.cs.ucla.edu 10 5",
    "WHATSAT kiwi.cs.ucla.edu 2.5 20",
    "WHATSAT kiwi 0.00125 1",
    "WHATSAT kiwi 50 020",
    "WHATSAT kiwi 50.000 1",
    "AT Riley +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 "
    "1621464827.959498503",
    "AT Bernard -12.000012000 c -5+5 -5.25",
    "AT R +5.250000000 c +1+2 -5.25",
    "AT R -0.000012000 c +1+2 100.000012",
    "AT R +0000000000000000000001.000000000 c +1+2 3",
    "IAMAT \t\r\v\f kiwi  \t +1+2 \f\f 3",
    "IAMAT c +90-180 -9223372036854775808",
    "IAMAT c -90.000+180.0 9223372036854775807.999999999",
    "IAMAT c +12-118 -9223372036854775807.5",
    "IAMAT k\xc3\xafwi\xf0\x9f\xa5\x9d +1+1 1",
    "IAMAT a\0b +1+2 3",
    "IAMAT c +1.00000000000000000001-2.5 1.000000001",
    "HELLO there",
    "IAMAT a +1+1",
    "IAMAT a 1+1 1",
    "IAMAT c +91+0 3",
    "IAMAT c +1+2 1e3",
    "IAMAT c +1+2 nan",
    "WHATSAT kiwi 0 5",
    "WHATSAT kiwi 50.01 5",
    "WHATSAT kiwi 5. 5",
    "WHATSAT kiwi .5 21",
    "AT Riley +0.26387338 kiwi +1+2 3",
    "AT Riley ++0.263873386 kiwi +1+2 3",
    "AT Riley +0.000000000 kiwi +1+2 3 4",
    "iamat kiwi +1+2 3",
    "",
    " ",
]


def params(max_line=0, big=True, client=255, seed=0, now=0):
    p1 = (0x80 if big else 0) | (0x40 if client == 255 else
                                 63 if client == 1024 else client)
    return bytes([max_line & 0xff, p1, seed & 0xff, now & 0xff])


def protocol():
    lines = [l.encode("latin-1") if isinstance(l, str) else l for l in LINES]
    for s in c_strings(read("tests/check_protocol.c")):
        if re.match(rb"\s*(IAMAT|WHATSAT|AT)\b", s) and b"%" not in s:
            lines.append(s)
    for i, l in enumerate(lines):
        put("protocol", l + params(seed=i, now=i))
        put("protocol", l + b"\r\n" + params(seed=i, now=i | 0x80))
    # pipelined streams, small line limits, odd terminators
    put("protocol", b"\n".join(lines[:6]) + b"\n" + params(seed=1))
    put("protocol", b"\r\n".join(lines[6:12]) + params(seed=2, now=3))
    put("protocol", b"IAMAT a +1+1 1\nWHATSAT" + params(seed=3))
    put("protocol", b"HELLO\r\nnext\r\n\r\n\n" + params(seed=4))
    put("protocol", lines[0] + b"\n" + lines[1] +
        params(max_line=40, big=False, seed=5))
    put("protocol", b"x" * 300 + b"\nIAMAT a +1+1 1\n" +
        params(max_line=64, big=False, seed=6))
    put("protocol", b"ab\r\rcd\r\n\r" + params(max_line=2, big=False))
    put("protocol", lines[0] + params(client=8, seed=7))
    put("protocol", lines[6] + params(client=1024, seed=8, now=2))


# ---- linkmsg: one line ------------------------------------------------------

def linkmsg():
    nonce = "0123456789abcdef0123456789abcdef"
    mac = "ab" * 32
    for l in [
        "HELLO 1 herd Jaquez Riley 0123456789abcdef " + nonce,
        "HELLO 001 h2021 A B ffffffffffffffff " + nonce,
        "HELLO 1 herd Jaquez Riley 0123456789ABCDEF " + nonce,
        "HELLO 2 herd Jaquez Riley 0123456789abcdef " + nonce,
        "WELCOME 1 0123456789abcdef 12 %s %s" % (nonce, mac),
        "WELCOME 1 0000000000000000 0 %s -" % nonce,
        "WELCOME 1 0123456789abcdef 18446744073709551615 %s -" % nonce,
        "WELCOME 1 0123456789abcdef 18446744073709551616 %s -" % nonce,
        "AUTH " + mac, "AUTH -", "AUTH", "AUTH " + mac[:-1],
        "MARK 0", "MARK 12", "MARK 18446744073709551615", "MARK -1",
        "PING", " PING \r", "PING 1",
        "REFUSE bad secret", "REFUSE\tnot a neighbour", "REFUSE",
        "AT Riley +0.263873386 kiwi.cs.ucla.edu +34.068930-118.445127 "
        "1621464827.959498503",
        "AT Bernard -12.000012000 c -5+5 -5.25",
        "AT\tR +0.000000000 c +1+2 3", " AT R +0.000000000 c +1+2 3",
        "AT Riley +0.1 c +1+2 3", "AT",
    ]:
        put("linkmsg", l)
    for s in c_strings(read("tests/integration/test_flood.py") +
                       read("tests/integration/test_auth.py")):
        if re.match(rb"(HELLO|WELCOME|AUTH|MARK|PING|REFUSE)", s):
            put("linkmsg", s.rstrip(b"\n"))


# ---- config: the whole file ------------------------------------------------

def config():
    for rel in ["etc/herd.conf", "etc/herd-2018.conf", "etc/herd-2023.conf"]:
        put("config", read(rel, "rb"))
    confdir = os.path.join(TOP, "tests/conf")
    for name in sorted(os.listdir(confdir)):
        put("config", read("tests/conf/" + name, "rb"))
    for s in c_strings(read("tests/check_config.c")):
        if b"[" in s and b"\n" in s and len(s) < 8192:
            put("config", s)
    put("config", "[herd]\npeer_allow = 127.0.0.0/8 ::1 10.1.2.3/31 "
        "fe80::/10\n[member A]\nclient = 127.0.0.1:1\npeer = [::1]:2\n"
        "neighbours = B\n[member B]\nclient = [::ffff:127.0.0.1]:3\n"
        "classic = yes\n")
    put("config", "\xef\xbb\xbf; bom\n[places]\nprovider = file\n"
        "file = x.json\nkey_file = k\n[member A]\nclient = 0.0.0.0:9\n")
    put("config", "[member A]\nclient = 192.0.2.1:7\n[member B]\n"
        "client = 192.0.2.1:8\nneighbours = A A\n[member C]\n"
        "client = 127.0.0.1:7\n")


# ---- places_json: a Places answer --------------------------------------------

def places_json():
    put("places_json", read("tests/data/places-line.json", "rb"))
    nearby = json.loads(read("tests/data/nearby-25.json"))
    for n in (0, 1, 2, 3):
        d = dict(nearby)
        d["results"] = nearby["results"][:n]
        put("places_json", json.dumps(d, indent=3))
        put("places_json", json.dumps(d, separators=(",", ":")))
    new = json.loads(read("tests/data/searchnearby-25.json"))
    for n in (0, 1, 2):
        put("places_json", json.dumps({"places": new["places"][:n]}))
    demo = json.loads(read("etc/places-demo.json"))
    d = dict(demo)
    d["results"] = demo["results"][:2]
    put("places_json", json.dumps(d))
    for s in [
        "{}", "[]", '""', "null", "true", "[1, 2.50, -0, 1e2, 1E-7, 0.1]",
        '{"status":"OK","results":[]}',
        '{"status":"ZERO_RESULTS","results":[],"html_attributions":[]}',
        '{"error_message":"The provided API key is invalid.",'
        '"html_attributions":[],"results":[],"status":"REQUEST_DENIED"}',
        '{"error":{"code":403,"message":"API key not valid",'
        '"status":"PERMISSION_DENIED"}}',
        '{"a":"<b>&\\u003c\\n\\t\\u0000\\u00e9\\ud83e\\udd5d\\/"}',
        '{"results":[[],{},[[]],{"a":{}}],"k":[1,[2]],"x":{"y":{"z":[]}}}',
        '{"results":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,'
        '21,22],"status":"OK"}',
        '{"a":1,"a":2,"b":[true,false,null]}',
        '{"n":12345678901234567890,"m":-9223372036854775809,"d":1e400}',
        '{"places":[{"id":"x","displayName":{"text":"A"},'
        '"location":{"latitude":34.06,"longitude":-118.44},'
        '"priceLevel":"PRICE_LEVEL_MODERATE","plusCode":{"compoundCode":'
        '"a","globalCode":"b"},"types":["cafe"],"rating":4.5,'
        '"userRatingCount":10,"shortFormattedAddress":"here"},1,null]}',
        '{"places":{}}', '{"places":[{"location":1,"plusCode":[]}]}',
        "+34.068930 -118.445127 2500", "34.5 -0 10.000",
        "[" * 31 + "]" * 31, "\n\n{\n\n}\n\n",
    ]:
        put("places_json", s)


# ---- control: bytes on the control socket ----------------------------------

def control():
    reqs = [
        '{"version":1,"command":"status"}',
        '{"version":1,"command":"stop"}',
        '{"version":1,"command":"reload"}',
        '{"version":1,"command":"lookup","member":"Riley","client":"kiwi"}',
        '{"version":1,"command":"lookup","member":"Riley","client":"%s"}'
        % ("c" * 1024),
        '{"version":1,"command":"lookup","member":"%s","client":"k"}'
        % ("M" * 64),
        '{"version":1,"command":"lookup","member":"R\\u0000","client":"k"}',
        ' {"command":"status","version":1} \r\n',
        '{"version":2,"command":"status"}',
        '{"version":"1","command":"status"}',
        '{"version":1.0,"command":"status"}',
        '{"version":1,"command":"status"} {}',
        '{"version":1,"command":"Status"}',
        '[{"version":1,"command":"status"}]',
        '{"version":1,"command":"status"', "", "null",
    ]
    for r in reqs:
        put("control", r)
        b = r.encode()
        put("control", struct.pack(">I", len(b)) + b)
    put("control", struct.pack(">I", 0))
    put("control", struct.pack(">I", 4 * 1024 * 1024 + 1) + b"{}")
    put("control", struct.pack(">I", 100) + b'{"version":1}')


# ---- snapshot: a snapshot file ---------------------------------------------

def snap(marks, entries, version=1, crc_ok=True, cut=0, extra=b""):
    b = b"HERDSNAP" + struct.pack("<I", version)
    b += struct.pack("<I", len(marks))
    for name, epoch, change in marks:
        b += struct.pack("<B", len(name)) + name + struct.pack(
            "<QQ", epoch, change)
    b += struct.pack("<Q", len(entries))
    for sec, nsec, source, line in entries:
        b += struct.pack("<qiII", sec, nsec, source, len(line)) + line
    b += extra
    crc = zlib.crc32(b) & 0xffffffff
    b += struct.pack("<I", crc if crc_ok else crc ^ 1)
    return b[:len(b) - cut] if cut else b


def at(server, client, t, diff=b"+0.000000000", loc=b"+1+2"):
    return b"AT %s %s %s %s %s" % (server, diff, client, loc, t)


def snapshot():
    e1 = (1621464827, 959498503, 255, at(
        b"Riley", b"kiwi.cs.ucla.edu", b"1621464827.959498503",
        b"+0.263873386", b"+34.068930-118.445127"))
    e2 = (3, 0, 1, at(b"Jaquez", b"c", b"3"))
    e3 = (-6, 750000000, 2, at(b"Bernard", b"c", b"-5.25",
                               b"-12.000012000", b"-5+5"))
    e4 = (7, 7, 0, at(b"B", b"x", b"7.000000007"))
    marks = [(b"Jaquez", 0x0123456789abcdef, 12), (b"Juzang", 1, 0)]
    put("snapshot", snap([], []))
    put("snapshot", snap(marks, []))
    put("snapshot", snap([], [e1]))
    put("snapshot", snap(marks, [e1, e2, e3, e4]))
    put("snapshot", snap(marks, [e3, e2]))
    put("snapshot", snap([(b"A", 1, 1), (b"A\0B", 2, 2), (b"A", 3, 3)],
                         [e2]))
    put("snapshot", snap([(b"P%d" % i, i, i) for i in range(66)], []))
    put("snapshot", snap([], [(i, 0, 3, at(b"R", b"c%d" % i, b"%d" % i))
                              for i in range(20)]))
    put("snapshot", snap([], [e1], version=2))
    put("snapshot", snap(marks, [e1, e2], crc_ok=False))
    put("snapshot", snap(marks, [e1, e2], cut=7))
    put("snapshot", snap([], [e2], extra=b"x"))
    put("snapshot", snap([], [(0, 0, 0, b"IAMAT c +1+2 3")]))
    put("snapshot", snap([], [(0, 0, 0, at(b"R", b"c" * 300, b"1"))]))
    put("snapshot", b"HERDSNAP")
    put("snapshot", b"")


if __name__ == "__main__":
    protocol()
    linkmsg()
    config()
    places_json()
    control()
    snapshot()
    for t in sorted(os.listdir(CORPUS)):
        print("%-12s %d seeds" % (t, len(os.listdir(os.path.join(CORPUS, t)))))
