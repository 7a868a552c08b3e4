"""WHATSAT end to end: the real herdd against the real fake Places server.

Every test starts tests/fake_places (FAKE_PLACES) on a free port, points a
herd at it and checks what herdd sent upstream (the fake's request log)
and what the client got back, byte for byte where PROTOCOL.md says so.
"""

import decimal
import json
import math
import os
import re
import select
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import urllib.parse

import herdtest
from herdtest import (AT_RE, Herd, TestFailure, check, free_port, iamat,
                      lookup, run_tests, wait_for)

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("HERD_SRCDIR", os.path.join(HERE, "..", ".."))
FAKE_PLACES = os.environ.get("FAKE_PLACES",
                             os.path.join(SRCDIR, "tests", "fake_places"))
DATA = os.path.join(SRCDIR, "tests", "data")
NEARBY = os.path.join(DATA, "nearby-25.json")
SEARCH_NEARBY = os.path.join(DATA, "searchnearby-25.json")
DEMO_CONF = os.path.join(SRCDIR, "etc", "herd.conf")
DEMO_PLACES = os.path.join(SRCDIR, "etc", "places-demo.json")

UCLA = "+34.068930-118.445127"
UCLA_LAT, UCLA_LNG = 34.068930, -118.445127
# Every character here needs care in a URL; the marker finds it in logs.
KEY_MARKER = "k3ySECRETm4rk"
API_KEY = "AIza" + KEY_MARKER + "+/=&%?x"


# ---- the fake Places server -----------------------------------------

class FakePlaces:
    """tests/fake_places on a free port; stopped and reaped by the harness
    at the end of the test (it joins the harness's list of live things)."""

    def __init__(self, nearby=NEARBY, new=SEARCH_NEARBY, timeout=10.0):
        self.dir = tempfile.mkdtemp(prefix="fakeplaces-")
        self.log = os.path.join(self.dir, "requests.jsonl")
        self.err = open(os.path.join(self.dir, "stderr"), "wb")
        self.proc = subprocess.Popen(
            [FAKE_PLACES, "-p", "0", "-r", self.log, "-d", nearby,
             "-n", new],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=self.err, start_new_session=True)
        herdtest._live.append(self)
        self.port = self._read_port(timeout)
        self.url = "http://127.0.0.1:%d" % self.port

    def _read_port(self, timeout):
        deadline = time.monotonic() + timeout
        out = b""
        fd = self.proc.stdout.fileno()
        while b"\n" not in out:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TestFailure("fake_places printed no PORT line")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    raise TestFailure("fake_places exited: %s"
                                      % self.stderr_text())
                out += chunk
        m = re.match(rb"PORT (\d+)\n", out)
        check(m, "fake_places said %r" % out)
        return int(m.group(1))

    def stderr_text(self):
        with open(os.path.join(self.dir, "stderr"), "rb") as f:
            return f.read().decode(errors="replace")

    def _get(self, path):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        try:
            s.sendall(b"GET " + path.encode() +
                      b" HTTP/1.0\r\nHost: fake\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        check(head.startswith(b"HTTP/1.") and b" 200 " in head.split(
            b"\r\n")[0], "fake_places %s: %r" % (path, head[:100]))
        return body

    def config(self, delay_ms=None, fail=None):
        q = {}
        if delay_ms is not None:
            q["delay_ms"] = str(delay_ms)
        if fail is not None:
            q["fail"] = fail
        self._get("/fake/config?" + urllib.parse.urlencode(q))

    def count(self):
        return int(self._get("/fake/count"))

    def stats(self):
        return json.loads(self._get("/fake/stats"))

    def requests(self):
        """Every search herdd made, oldest first (control calls left out)."""
        out = []
        try:
            with open(self.log, "rb") as f:
                for line in f:
                    rq = json.loads(line)
                    if not rq["path"].startswith("/fake/"):
                        out.append(rq)
        except FileNotFoundError:
            pass
        return out

    def stop(self, timeout=10.0):
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            status = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise TestFailure("fake_places did not stop on SIGTERM")
        finally:
            proc.stdout.close()
            self.err.close()
        check(status == 0, "fake_places exit status %r: %s"
              % (status, self.stderr_text()))

    def kill(self):
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        proc.stdout.close()
        self.err.close()


# ---- Google's layout, written independently of herdd ----------------

class Obj(list):
    """A JSON object as its (key, value) pairs, in their order."""


class Num(str):
    """A JSON number as the text it was written with."""


def parse_keep(text):
    return json.loads(text, object_pairs_hook=Obj, parse_float=Num,
                      parse_int=Num)


def _quote(s):
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in "\b\f\n\r\t":
            out.append({"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
                        "\t": "\\t"}[ch])
        elif ord(ch) < 0x20 or ch in "<>":
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _multiline(arr):
    """JsonCpp StyledWriter's rule (right margin 74)."""
    if len(arr) * 3 >= 74:
        return True
    if any(isinstance(v, list) and v for v in arr):
        return True
    return 4 + (len(arr) - 1) * 2 + sum(len(gdump(v)) for v in arr) >= 74


def gdump(v, depth=0):
    """v in Google's layout: three-space indent, "key" : value."""
    ind = "   "
    if isinstance(v, Obj):
        if not v:
            return "{}"
        return "{\n" + ",\n".join(
            ind * (depth + 1) + _quote(k) + " : " + gdump(x, depth + 1)
            for k, x in v) + "\n" + ind * depth + "}"
    if isinstance(v, list):
        if not v:
            return "[]"
        if _multiline(v):
            return "[\n" + ",\n".join(
                ind * (depth + 1) + gdump(x, depth + 1) for x in v) + \
                "\n" + ind * depth + "]"
        return "[ " + ", ".join(gdump(x, depth) for x in v) + " ]"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, Num):
        return str(v)
    return _quote(v)


def check_google_layout(text, what="reply"):
    """text parses and is exactly what Google's writer would make of it."""
    try:
        doc = parse_keep(text)
    except ValueError as e:
        raise TestFailure("%s is not JSON (%s): %r" % (what, e, text[:300]))
    want = gdump(doc)
    if text != want:
        i = next((i for i, (a, b) in enumerate(zip(text, want)) if a != b),
                 min(len(text), len(want)))
        raise TestFailure("%s not in Google's layout at byte %d: got %r, "
                          "want %r" % (what, i, text[max(0, i - 60):i + 60],
                                       want[max(0, i - 60):i + 60]))
    return json.loads(text)


def fixture_cut(path, n):
    """The fixture's text with its results cut to the first n, sliced from
    the file itself (one result per block at six spaces)."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().rstrip("\n").split("\n")
    start = lines.index('   "results" : [')
    end = next(i for i in range(start, len(lines))
               if lines[i] in ("   ]", "   ],"))
    blocks, cur = [], None
    for line in lines[start + 1:end]:
        if line == "      {":
            cur = [line]
        elif line in ("      }", "      },"):
            cur.append("      }")
            blocks.append("\n".join(cur))
            cur = None
        else:
            cur.append(line)
    body = "\n".join(lines[:start + 1])
    kept = ",\n".join(blocks[:n])
    text = body + "\n" + kept + "\n" + "\n".join(lines[end:])
    return re.sub(r"\n{2,}", "\n", text), len(blocks)


# ---- helpers --------------------------------------------------------

def read_whatsat(c):
    """(AT line, JSON text) of one WHATSAT reply, checking its framing."""
    first = c.line()
    check(not first.startswith(b"? "), "WHATSAT refused: %r" % first)
    check(AT_RE.match(first), "reply does not start with an AT line: %r"
          % first)
    rest = c.until(b"\n\n")
    body = rest[:-2].decode()
    check(body.startswith("{") and body.endswith("}"),
          "JSON part not framed as {...}: %r" % body[:200])
    return first, body


def whatsat(c, client, radius, bound):
    c.send("WHATSAT %s %s %s\n" % (client, radius, bound))
    at, body = read_whatsat(c)
    return at, body, json.loads(body)


def report(c, client, location=UCLA, when=None):
    line = c.ask(iamat(client, when, location))
    check(AT_RE.match(line), "bad IAMAT reply %r" % line)
    return line


def google_herd(fake, key_dir, provider="google", **places):
    key_file = os.path.join(key_dir, "api.key")
    with open(key_file, "w") as f:
        f.write(API_KEY + "\n")
    conf = {"provider": provider, "base_url": fake.url,
            "key_file": key_file, "timeout_ms": 3000}
    conf.update(places)
    workers = conf.pop("workers", 2)
    members = conf.pop("members", ("Riley",))
    links = conf.pop("links", ())
    return Herd(members=members, links=links, workers=workers, places=conf)


def finish(h):
    """Stops herdd: clean exit, and no sanitizer report on its stderr."""
    status = h.stop()
    check(status == 0, "herdd exit status %r" % status)
    err = h.stderr_text()
    for member in list(h.ports):
        p = os.path.join(h.dir, "stderr-" + member)
        if os.path.exists(p):
            with open(p, "rb") as f:
                err += f.read().decode(errors="replace")
    check("Sanitizer" not in err and "runtime error" not in err,
          "sanitizer report from herdd:\n" + err[-3000:])


def check_key_not_logged(h):
    encoded = urllib.parse.quote(API_KEY, safe="")
    for root, _, files in os.walk(h.dir):
        for name in files:
            path = os.path.join(root, name)
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            for needle in (KEY_MARKER, API_KEY, encoded):
                check(needle.encode() not in data,
                      "API key (%r) found in %s" % (needle, path))


def haversine_m(lat1, lng1, lat2, lng2, r=6371008.8):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + \
        math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(min(1.0, a)))


class Blast:
    """Many connections, each writing its lines at once, read with one
    selector against a deadline; every socket is closed at the end."""

    def __init__(self, port, per_conn, timeout=30.0):
        self.port = port
        self.per_conn = per_conn            # [[line, ...], ...]
        self.timeout = timeout

    def run(self):
        socks = []
        sel = selectors.DefaultSelector()
        try:
            for _ in self.per_conn:
                s = socket.create_connection(("127.0.0.1", self.port),
                                             timeout=10)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                socks.append(s)
            self.t0 = time.monotonic()
            for s, lines in zip(socks, self.per_conn):
                s.sendall("".join(l + "\n" for l in lines).encode())
            self.t_sent = time.monotonic()
            for s in socks:
                s.setblocking(False)
            bufs = {s.fileno(): b"" for s in socks}
            want = {s.fileno(): len(l) for s, l in zip(socks, self.per_conn)}
            for s in socks:
                sel.register(s, selectors.EVENT_READ)
            left_open = len(socks)
            deadline = time.monotonic() + self.timeout
            while left_open:
                left = deadline - time.monotonic()
                if left <= 0:
                    done = sum(1 for fd in bufs
                               if bufs[fd].count(b"\n\n") >= want[fd])
                    raise TestFailure("timed out: %d of %d connections "
                                      "fully answered" % (done, len(socks)))
                for key, _ in sel.select(min(left, 1.0)):
                    fd = key.fd
                    chunk = key.fileobj.recv(1 << 20)
                    if not chunk:
                        raise TestFailure("herdd closed a connection; had "
                                          "%r" % bufs[fd][-200:])
                    bufs[fd] += chunk
                    if bufs[fd].count(b"\n\n") >= want[fd]:
                        sel.unregister(key.fileobj)
                        left_open -= 1
            self.t_done = time.monotonic()
            return [bufs[s.fileno()] for s in socks]
        finally:
            sel.close()
            for s in socks:
                s.close()


def split_replies(data, n):
    """n WHATSAT replies from one connection's bytes: [(at, json text)]."""
    check(data.endswith(b"\n\n"), "stream does not end with a reply")
    parts = data[:-2].split(b"\n\n")
    check(len(parts) == n, "expected %d replies, got %d" % (n, len(parts)))
    out = []
    for p in parts:
        at, nl, body = p.partition(b"\n")
        check(nl and AT_RE.match(at) and body.startswith(b"{") and
              body.endswith(b"}"), "malformed reply %r" % p[:200])
        out.append((at, body.decode()))
    return out


# ---- tests ----------------------------------------------------------

def test_google_query_radius_location_key_one_call_each():
    fake = FakePlaces()
    h = google_herd(fake, fake.dir).start()
    c = h.client()
    kiwi = report(c, "kiwi.cs.ucla.edu")
    south = report(c, "sydney.test", "-33.8688+151.2093")
    cases = [("kiwi.cs.ucla.edu", "10", "10000", kiwi),
             ("kiwi.cs.ucla.edu", "2.5", "2500", kiwi),
             ("kiwi.cs.ucla.edu", "50", "50000", kiwi),
             ("kiwi.cs.ucla.edu", "0.001", "1", kiwi),
             ("kiwi.cs.ucla.edu", "7.50", "7500", kiwi),
             ("sydney.test", "1", "1000", south)]
    for i, (client, radius, metres, at_line) in enumerate(cases, 1):
        at, _, doc = whatsat(c, client, radius, 5)
        check(at == at_line, "WHATSAT gave %r, stored %r" % (at, at_line))
        check(doc["status"] == "OK", "status %r" % doc["status"])
        rqs = fake.requests()
        check(len(rqs) == i and fake.count() == i,
              "WHATSAT %s %s: %d upstream requests in all, want %d"
              % (client, radius, len(rqs), i))
        rq = rqs[-1]
        check(rq["method"] == "GET" and
              rq["path"] == "/maps/api/place/nearbysearch/json",
              "request %s %s" % (rq["method"], rq["path"]))
        p = rq["params"]
        sent = p.get("radius", "")
        check(re.fullmatch(r"\d+(\.\d+)?", sent) and
              decimal.Decimal(sent) == decimal.Decimal(metres),
              "radius %s km sent as %r, want %r" % (radius, sent, metres))
        if radius in ("10", "2.5"):
            check(sent == metres, "radius %s km sent as %r, want %r"
                  % (radius, sent, metres))
        # Decoded intact means '+', '/', '=', '&', '%', '?' were encoded.
        check(p.get("key") == API_KEY, "key sent as %r" % p.get("key"))
        check("+" not in rq["query"], "raw '+' in query %r" % rq["query"])
        if client == "sydney.test":
            want_loc = "-33.8688,+151.2093"
            raw = r"location=-33\.8688(,|%2C)%2B151\.2093(&|$)"
        else:
            want_loc = "+34.068930,-118.445127"
            raw = r"location=%2B34\.068930(,|%2C)-118\.445127(&|$)"
        check(p.get("location") == want_loc, "location decoded as %r"
              % p.get("location"))
        check(re.search(raw, rq["query"]), "raw query %r" % rq["query"])
    n = fake.count()
    invalid = ["WHATSAT kiwi.cs.ucla.edu 0 5",
               "WHATSAT kiwi.cs.ucla.edu 0.000 5",
               "WHATSAT kiwi.cs.ucla.edu 51 5",
               "WHATSAT kiwi.cs.ucla.edu 50.0001 5",
               "WHATSAT kiwi.cs.ucla.edu -1 5",
               "WHATSAT kiwi.cs.ucla.edu 10 0",
               "WHATSAT kiwi.cs.ucla.edu 10 21",
               "WHATSAT kiwi.cs.ucla.edu 10 2.5",
               "WHATSAT nobody.test 10 5",
               "WHATSAT kiwi.cs.ucla.edu 10"]
    for line in invalid:
        got = c.ask(line)
        check(got == b"? " + line.encode(), "%r answered %r" % (line, got))
    # A valid one after them: everything sent before it has reached the fake.
    _, _, doc = whatsat(c, "kiwi.cs.ucla.edu", "3", 1)
    check(doc["status"] == "OK", doc)
    check(fake.count() == n + 1, "invalid WHATSATs went upstream: %d "
          "requests for 1 valid" % (fake.count() - n))
    # An error path too, then the key must be nowhere in herdd's files.
    fake.config(fail="http500")
    _, _, doc = whatsat(c, "kiwi.cs.ucla.edu", "4", 1)
    check(doc["status"] != "OK", doc)
    c.close()
    finish(h)
    check_key_not_logged(h)


def test_trimming_and_byte_exact_layout_google():
    fake = FakePlaces()
    with open(NEARBY, encoding="utf-8") as f:
        fixture_text = f.read()
    whole, total = fixture_cut(NEARBY, 25)
    check(total == 25 and whole == fixture_text.rstrip("\n"),
          "fixture not laid out one result per block")
    check(gdump(parse_keep(fixture_text)) == fixture_text.rstrip("\n"),
          "the test's Google writer does not reproduce the fixture")
    fixture = json.loads(fixture_text)
    h = google_herd(fake, fake.dir).start()
    c = h.client()
    at = report(c, "kiwi.cs.ucla.edu")
    for bound in (3, 20, 1):
        want_json, _ = fixture_cut(NEARBY, bound)
        c.send("WHATSAT kiwi.cs.ucla.edu 10 %d\n" % bound +
               iamat("after.%d" % bound) + "\n")
        got = c.until(b"\n\n")
        after = c.line()
        want = at + b"\n" + want_json.encode() + b"\n\n"
        if got != want:
            i = next((i for i, (a, b) in enumerate(zip(got, want))
                      if a != b), min(len(got), len(want)))
            raise TestFailure("bound %d: reply differs at byte %d: got %r, "
                              "want %r" % (bound, i, got[i - 80:i + 80],
                                           want[i - 80:i + 80]))
        check(AT_RE.match(after) and after.startswith(b"AT Riley "),
              "bytes after the WHATSAT reply: %r" % after)
        doc = json.loads(got[len(at) + 1:])
        check(len(doc["results"]) == bound and
              doc["results"] == fixture["results"][:bound],
              "bound %d: %d results" % (bound, len(doc["results"])))
    check(c.buf == b"", "extra bytes %r" % c.buf)
    c.close()
    finish(h)


def test_google_new_request_and_reply():
    fake = FakePlaces()
    with open(SEARCH_NEARBY, encoding="utf-8") as f:
        places = json.load(f)["places"]
    h = google_herd(fake, fake.dir, provider="google-new").start()
    c = h.client()
    at = report(c, "kiwi.cs.ucla.edu")
    for i, (radius, metres, bound) in enumerate(
            [("10", 10000, 4), ("2.5", 2500, 20), ("1", 1000, 1)], 1):
        c.send("WHATSAT kiwi.cs.ucla.edu %s %d\n" % (radius, bound) +
               iamat("after.%d" % i) + "\n")
        got_at, body = read_whatsat(c)
        check(AT_RE.match(c.line()), "bytes after the reply")
        check(got_at == at, "AT line %r" % got_at)
        doc = check_google_layout(body, "google-new reply")
        check(list(doc) == ["html_attributions", "results", "status"],
              "top-level keys %r" % list(doc))
        check(doc["status"] == "OK" and doc["html_attributions"] == [],
              "status %r" % doc["status"])
        check(len(doc["results"]) == bound, "%d results for bound %d"
              % (len(doc["results"]), bound))
        for r, p in zip(doc["results"], places):
            check(r["place_id"] == p["id"] and
                  r["name"] == p["displayName"]["text"],
                  "result %r for place %r" % (r.get("name"), p["id"]))
            loc = r["geometry"]["location"]
            check(loc == {"lat": p["location"]["latitude"],
                          "lng": p["location"]["longitude"]},
                  "geometry %r" % loc)
            check(r.get("vicinity") == p.get("shortFormattedAddress") and
                  r.get("types") == p.get("types") and
                  r.get("rating") == p.get("rating"), "mapped %r" % r)
        rqs = fake.requests()
        check(len(rqs) == i, "%d upstream requests after %d WHATSATs"
              % (len(rqs), i))
        rq = rqs[-1]
        check(rq["method"] == "POST" and
              rq["path"] == "/v1/places:searchNearby",
              "request %s %s" % (rq["method"], rq["path"]))
        hd = {k.lower(): v for k, v in rq["headers"].items()}
        check(hd.get("x-goog-api-key") == API_KEY, "key header %r"
              % hd.get("x-goog-api-key"))
        mask = hd.get("x-goog-fieldmask", "").split(",")
        for field in ("places.id", "places.displayName", "places.location"):
            check(field in mask, "field mask %r lacks %s" % (mask, field))
        check("key" not in rq["params"], "key in the query")
        check(hd.get("content-type", "").startswith("application/json"),
              "content type %r" % hd.get("content-type"))
        sent = json.loads(rq["body"])
        check(sent.get("maxResultCount") == bound, "body %r" % sent)
        circle = sent["locationRestriction"]["circle"]
        check(circle["center"] == {"latitude": UCLA_LAT,
                                   "longitude": UCLA_LNG} and
              circle["radius"] == metres, "circle %r" % circle)
    c.close()
    finish(h)
    check_key_not_logged(h)


def test_upstream_failures_give_error_documents():
    timeout_ms = 500
    for provider in ("google", "google-new"):
        fake = FakePlaces()
        h = google_herd(fake, fake.dir, provider=provider,
                        timeout_ms=timeout_ms).start()
        c = h.client()
        at = report(c, "kiwi.cs.ucla.edu")
        modes = ["http500", "badjson", "hang", "http403",
                 "status:OVER_QUERY_LIMIT"]
        for i, mode in enumerate(modes):
            fake.config(fail=mode)
            n = fake.count()
            t0 = time.monotonic()
            c.send("WHATSAT kiwi.cs.ucla.edu %d 5\n" % (i + 1))
            got_at, body = read_whatsat(c)
            took = time.monotonic() - t0
            what = "%s fail=%s" % (provider, mode)
            check(took < timeout_ms / 1000 + 1, "%s: answered after %.2fs"
                  % (what, took))
            check(got_at == at, "%s: AT line %r" % (what, got_at))
            doc = check_google_layout(body, what)
            check(doc.get("status") not in (None, "OK"),
                  "%s: status %r" % (what, doc.get("status")))
            check(isinstance(doc.get("error_message"), str) and
                  doc["error_message"], "%s: no error_message: %r"
                  % (what, body))
            check(fake.count() == n + 1, "%s: %d upstream requests"
                  % (what, fake.count() - n))
            line = c.ask(iamat("after." + mode))
            check(AT_RE.match(line), "%s: connection unusable: %r"
                  % (what, line))
        fake.config(fail="none")
        _, _, doc = whatsat(c, "kiwi.cs.ucla.edu", "10", 2)
        check(doc["status"] == "OK" and len(doc["results"]) == 2,
              "%s: no recovery: %r" % (provider, doc.get("status")))
        c.close()
        finish(h)
        check_key_not_logged(h)
        fake.stop()


def test_client_disconnecting_mid_request():
    fake = FakePlaces()
    fake.config(delay_ms=500)
    h = google_herd(fake, fake.dir, max_concurrent=4).start()
    before = h.workers_of()
    c = h.client()
    at = report(c, "kiwi.cs.ucla.edu")
    # Distinct radii: no sharing; 4 a worker run, the rest are queued.
    socks = []
    try:
        for i in range(12):
            s = socket.create_connection(("127.0.0.1", h.ports["Riley"]), 5)
            socks.append(s)
            lines = "".join("WHATSAT kiwi.cs.ucla.edu %d.%d 5\n" % (i + 1, k)
                            for k in range(2))
            if i % 3 == 1:
                lines += iamat("gone.%d" % i) + "\n"
            s.sendall(lines.encode())
        wait_for(lambda: fake.count() >= 4, 5, "requests to reach the fake")
        for i, s in enumerate(socks):
            if i % 2:       # reset rather than a clean close
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             struct.pack("ii", 1, 0))
    finally:
        for s in socks:
            s.close()
    # Served while the abandoned ones are in the air.
    _, _, doc = whatsat(c, "kiwi.cs.ucla.edu", "49", 2)
    check(doc["status"] == "OK", doc)
    c2 = h.client()
    at2, _, doc = whatsat(c2, "kiwi.cs.ucla.edu", "48", 3)
    check(at2 == at and doc["status"] == "OK" and len(doc["results"]) == 3,
          "new client after disconnects: %r" % doc.get("status"))

    last = [None]

    def settled():
        # Nothing in the air, and no new request for a whole fake delay
        # (a queued one of a gone client may still start).
        s = fake.stats()
        done = s["in_flight"] == 0 and s["searches"] == last[0]
        last[0] = s["searches"]
        return done
    wait_for(settled, 30, "herdd's upstream requests to settle",
             interval=0.6)
    c3 = h.client()
    _, _, doc = whatsat(c3, "kiwi.cs.ucla.edu", "47", 4)
    check(doc["status"] == "OK" and len(doc["results"]) == 4, doc)
    check(h.workers_of() == before, "workers restarted: %r -> %r"
          % (before, h.workers_of()))
    for x in (c, c2, c3):
        x.close()
    finish(h)


def test_file_provider_distance_filter_and_order():
    with open(DEMO_PLACES, encoding="utf-8") as f:
        demo = json.load(f)["results"]
    by_id = {p["place_id"]: p for p in demo}
    h = Herd(places={"provider": "file", "file": DEMO_PLACES}).start()
    c = h.client()
    at = report(c, "kiwi.cs.ucla.edu")
    counts = {}
    for radius, bound in (("1", 20), ("0.5", 20), ("2", 20), ("50", 20),
                          ("50", 3)):
        c.send("WHATSAT kiwi.cs.ucla.edu %s %d\n" % (radius, bound))
        got_at, body = read_whatsat(c)
        check(got_at == at, "AT line %r" % got_at)
        doc = check_google_layout(body, "file reply r=%s" % radius)
        check(doc["status"] == "OK", "status %r" % doc["status"])
        res = doc["results"]
        limit = float(radius) * 1000
        dists = []
        for r in res:
            check(r == by_id.get(r.get("place_id")),
                  "result not copied from the file: %r" % r)
            loc = r["geometry"]["location"]
            d = haversine_m(UCLA_LAT, UCLA_LNG, loc["lat"], loc["lng"])
            check(d <= limit * 1.001, "%s at %.0f m with radius %s km"
                  % (r["name"], d, radius))
            dists.append(d)
        check(dists == sorted(dists), "not nearest first: %r"
              % [round(d) for d in dists])
        within = sorted(
            (haversine_m(UCLA_LAT, UCLA_LNG, p["geometry"]["location"]["lat"],
                         p["geometry"]["location"]["lng"]), p["place_id"])
            for p in demo)
        want = [pid for d, pid in within if d < limit * 0.999][:bound]
        check([r["place_id"] for r in res][:len(want)] == want and
              len(res) <= bound and len(res) >= len(want),
              "radius %s bound %d: got %r, want %r"
              % (radius, bound, [r["place_id"] for r in res], want))
        counts[(radius, bound)] = len(res)
    check(counts[("50", 20)] > counts[("1", 20)] > counts[("0.5", 20)] > 0,
          "counts by radius %r" % counts)
    check(counts[("50", 3)] == 3, counts)
    far = report(c, "far.test", "+00.0000+000.0000")
    at2, _, doc = whatsat(c, "far.test", "1", 5)
    check(at2 == far and doc["results"] == [],
          "places near 0,0: %r" % doc["results"])
    c.close()
    finish(h)


def test_whatsat_at_another_member_uses_the_stored_location():
    fake = FakePlaces()
    h = google_herd(fake, fake.dir, members=("Riley", "Jaquez"),
                    links=(("Riley", "Jaquez"),)).start()
    a = h.client("Riley")
    at = report(a, "googleplex.test", "+37.4219999-122.0840575")
    check(at.startswith(b"AT Riley "), at)
    wait_for(lambda: lookup(h, "Jaquez", "googleplex.test") == at, 10,
             "Jaquez to learn the location")
    b = h.client("Jaquez")
    n = fake.count()
    got_at, _, doc = whatsat(b, "googleplex.test", "2.5", 4)
    check(got_at == at, "Jaquez answered %r, Riley stored %r" % (got_at, at))
    check(doc["status"] == "OK" and len(doc["results"]) == 4, doc)
    rqs = fake.requests()
    check(len(rqs) == n + 1, "%d upstream requests" % (len(rqs) - n))
    p = rqs[-1]["params"]
    check(p.get("location") == "+37.4219999,-122.0840575" and
          p.get("radius") == "2500", "upstream params %r" % p)
    a.close()
    b.close()
    finish(h)


def test_max_concurrent_queues_the_excess():
    fake = FakePlaces()
    fake.config(delay_ms=200)
    h = google_herd(fake, fake.dir, workers=1, max_concurrent=5,
                    timeout_ms=10000).start()
    c = h.client()
    at = report(c, "kiwi.cs.ucla.edu")
    c.close()
    plan = [["WHATSAT kiwi.cs.ucla.edu 2.%02d 3" % (i * 5 + k)
             for k in range(5)] for i in range(6)]
    blast = Blast(h.ports["Riley"], plan, timeout=20)
    data = blast.run()
    for d in data:
        for got_at, body in split_replies(d, 5):
            doc = json.loads(body)
            check(got_at == at and doc["status"] == "OK" and
                  len(doc["results"]) == 3, "queued WHATSAT: %r" % body[:200])
    st = fake.stats()
    check(st["searches"] == 30, "%d upstream requests for 30 distinct "
          "WHATSATs" % st["searches"])
    check(st["max_in_flight"] == 5, "max_concurrent = 5, but %d requests "
          "were in flight at once" % st["max_in_flight"])
    wall = blast.t_done - blast.t0
    check(wall >= 6 * 0.2 * 0.9, "30 requests, 5 at a time, 200 ms each, "
          "answered in %.2fs" % wall)
    finish(h)


def test_thousand_concurrent_whatsats():
    # A small answer (5 results): this is about the loop, not JSON speed.
    fake = FakePlaces(nearby=os.path.join(DATA, "places-line.json"))
    fake.config(delay_ms=200)
    h = google_herd(fake, fake.dir, workers=2, max_concurrent=1000,
                    timeout_ms=20000).start()
    c = h.client()
    at = report(c, "kiwi.cs.ucla.edu")
    c.close()
    conns, per = 100, 10
    plan = []
    for i in range(conns):
        plan.append(["WHATSAT kiwi.cs.ucla.edu 1.%03d %d"
                     % (i * per + k, (i * per + k) % 20 + 1)
                     for k in range(per)])
    blast = Blast(h.ports["Riley"], plan, timeout=40)
    data = blast.run()
    wall = blast.t_done - blast.t0
    st = fake.stats()
    print("# wall %.2fs for %d WHATSATs (%d connections x %d), fake max "
          "in flight %d, %d searches" % (wall, conns * per, conns, per,
                                         st["max_in_flight"], st["searches"]),
          flush=True)
    for i, d in enumerate(data):
        for k, (got_at, body) in enumerate(split_replies(d, per)):
            check(got_at == at, "AT line %r" % got_at)
            doc = json.loads(body)
            bound = (i * per + k) % 20 + 1
            check(doc["status"] == "OK" and
                  len(doc["results"]) == min(bound, 5),
                  "reply %d/%d: status %r, %d results for bound %d"
                  % (i, k, doc["status"], len(doc["results"]), bound))
    check(st["searches"] == conns * per, "%d upstream requests for %d "
          "distinct WHATSATs" % (st["searches"], conns * per))
    check(st["max_in_flight"] >= 300, "only %d requests were in flight at "
          "once" % st["max_in_flight"])
    finish(h)


def test_identical_concurrent_whatsats_share_one_request():
    fake = FakePlaces()
    fake.config(delay_ms=700)
    h = google_herd(fake, fake.dir, workers=1).start()
    c = h.client()
    report(c, "kiwi.cs.ucla.edu")
    c.close()
    plan = [["WHATSAT kiwi.cs.ucla.edu 10 5"] for _ in range(100)]
    blast = Blast(h.ports["Riley"], plan, timeout=20)
    data = blast.run()
    check(blast.t_sent - blast.t0 < 0.5, "sending took %.2fs: not "
          "concurrent" % (blast.t_sent - blast.t0))
    bodies = set()
    for d in data:
        (_, body), = split_replies(d, 1)
        bodies.add(body)
    check(len(bodies) == 1, "%d different answers" % len(bodies))
    doc = json.loads(bodies.pop())
    check(doc["status"] == "OK" and len(doc["results"]) == 5, doc)
    check(fake.count() == 1, "%d upstream requests for 100 identical "
          "WHATSATs" % fake.count())
    # The shared request is over: the next one asks again (no cache).
    c = h.client()
    _, _, doc = whatsat(c, "kiwi.cs.ucla.edu", "10", 5)
    check(doc["status"] == "OK" and fake.count() == 2,
          "after the flight: %d requests" % fake.count())
    c.close()
    finish(h)


def test_demo_configuration_answers_from_the_sample_file():
    h = Herd(members=("Riley",))
    with open(DEMO_CONF) as f:
        text = f.read()
    dirs = {"log_dir": os.path.join(h.dir, "log"),
            "state_dir": os.path.join(h.dir, "state"),
            "run_dir": os.path.join(h.dir, "run")}
    for key, path in dirs.items():
        text, n = re.subn(r"(?m)^(%s\s*=\s*)\S+" % key,
                          lambda m, p=path: m.group(1) + p, text)
        check(n == 1, "%s set %d times in etc/herd.conf" % (key, n))
    ports = {}

    def port_for(m):
        old = m.group(1)
        if old not in ports:
            ports[old] = {"12480": h.ports["Riley"],
                          "12580": h.peer_ports["Riley"]}.get(old) or \
                free_port()
        return "127.0.0.1:%d" % ports[old]
    text = re.sub(r"127\.0\.0\.1:(\d+)", port_for, text)
    check("12480" in ports and "12580" in ports, "Riley's ports not found")
    check(re.search(r"(?m)^provider\s*=\s*file\b", text) and
          re.search(r"(?m)^file\s*=\s*places-demo\.json\b", text),
          "the demo does not use the sample file")
    with open(h.conf, "w") as f:
        f.write(text)
    shutil.copy(DEMO_PLACES, os.path.join(h.dir, "places-demo.json"))
    h.start(["-m", "Riley"])
    c = h.client("Riley")
    at = report(c, "kiwi.cs.ucla.edu")
    check(at.startswith(b"AT Riley "), at)
    got_at, body, doc = whatsat(c, "kiwi.cs.ucla.edu", "10", "5")
    check(got_at == at, got_at)
    check(doc["status"] == "OK" and len(doc["results"]) == 5,
          "demo: status %r, %d results" % (doc.get("status"),
                                          len(doc.get("results", []))))
    check_google_layout(body, "demo reply")
    c.close()
    finish(h)


if __name__ == "__main__":
    run_tests(globals())
