#!/usr/bin/python3
"""The classic asyncio proxy-herd member, as a correct reference.

    server.py MEMBER -c HERD.json [--log-dir DIR] [--no-log-io]

One process per member, one asyncio event loop, exactly the design of the
classic Python servers that users run today:

- IAMAT, WHATSAT and AT on one client port, exactly as PROTOCOL.md says
  (white-space rules, exact nine-decimal differences from integer
  nanoseconds, "? <line>" for anything invalid, over-long lines answered
  once, pipelined commands answered in order);
- the newest report per client, ordered by the client's time and then the
  AT line bytewise, in a dict;
- flooding: every report that changes the dict is sent to every neighbour
  except the one it came from, over a NEW connection per update and
  neighbour (open, write one AT line, close), as the classic servers do;
- WHATSAT asks a Places Nearby Search URL with aiohttp (one ClientSession,
  aiohttp's default connection limit), cuts "results" to the bound and
  prints the document with json.dumps(indent=3, separators=(',', ' : ')),
  newline runs collapsed, then a blank line.

It exists to be measured against herd on the same machine, so it is
deliberately the straightforward design, not a tuned one.

The herd description is a small JSON file:

    {
      "members": {
        "Riley":  {"host": "127.0.0.1", "port": 12480, "source": "127.0.1.1"},
        "Jaquez": {"host": "127.0.0.1", "port": 12481, "source": "127.0.1.2"}
      },
      "links": [["Riley", "Jaquez"]],
      "places": {"base_url": "http://127.0.0.1:8080/maps/api/place/nearbysearch/json",
                 "key": "test", "timeout_s": 5},
      "log_dir": "/tmp/ref-logs",
      "log_io": true,
      "max_line": 4096,
      "max_client_len": 255
    }

An AT line is accepted only from a neighbour's address.  A member's
address is its "source" if given (and it then connects from that address
when flooding), else its "host".  On one machine every member has the
same host, so give each a distinct loopback source (127.0.1.N) to let
members tell their neighbours from clients and from each other.
Without "places" (or with an empty base_url) WHATSAT answers the stored
line and a REQUEST_DENIED document, like herd without a Places service.
"""

import argparse
import asyncio
import json
import logging
import os
import re
import resource
import signal
import sys
import time
from decimal import Decimal

try:
    import aiohttp
except ImportError:             # pragma: no cover - environment problem
    sys.exit("server.py needs aiohttp: apt-get install -y python3-aiohttp")

NSEC = 10 ** 9
READ_CHUNK = 65536
FLOOD_TIMEOUT_S = 5.0
NO_REPLY = b""          # a neighbour's valid AT update gets no answer

# PROTOCOL.md grammar.  bytes regexes: \d is ASCII digits only.
COORDINATE = rb"[+-]\d+(?:\.\d+)?"
LOCATION_RE = re.compile(rb"(%s)(%s)\Z" % (COORDINATE, COORDINATE))
TIME_RE = re.compile(rb"(-?)(\d+)(?:\.(\d{1,9}))?\Z")
RADIUS_RE = re.compile(rb"\d+(?:\.\d+)?\Z")
BOUND_RE = re.compile(rb"\d+\Z")
DIFF_RE = re.compile(rb"[+-]\d+\.\d{9}\Z")
NAME_MAX = 63
RADIUS_MAX_KM = 50
BOUND_MAX = 20


# --------------------------------------------------------------------------
# Parsing and formatting (pure functions)
# --------------------------------------------------------------------------

def parse_location(field):
    """(lat, lng) as the strings written, or None if not ISO 6709 in range."""
    m = LOCATION_RE.match(field)
    if not m:
        return None
    lat, lng = m.group(1), m.group(2)
    if abs(Decimal(lat.decode())) > 90 or abs(Decimal(lng.decode())) > 180:
        return None
    return lat, lng


def parse_time(field):
    """POSIX time as integer nanoseconds (never through a float), or None."""
    m = TIME_RE.match(field)
    if not m:
        return None
    frac = (m.group(3) or b"").ljust(9, b"0")
    ns = int(m.group(2)) * NSEC + int(frac)
    return -ns if m.group(1) else ns


def format_diff(ns):
    """Signed, exactly nine decimals: +0.263873386, -0.000012000."""
    sign = b"+" if ns >= 0 else b"-"
    ns = abs(ns)
    return b"%s%d.%09d" % (sign, ns // NSEC, ns % NSEC)


def parse_radius(field):
    """Kilometres (0 < r <= 50) -> exact metres as canonical text, or None."""
    if not RADIUS_RE.match(field):
        return None
    km = Decimal(field.decode())
    if km <= 0 or km > RADIUS_MAX_KM:
        return None
    return format((km * 1000).normalize(), "f")


def parse_bound(field):
    if not BOUND_RE.match(field):
        return None
    bound = int(field)
    return bound if 1 <= bound <= BOUND_MAX else None


def google_layout(document):
    """Google's layout: three-space indent, "key" : value, no blank lines."""
    text = json.dumps(document, indent=3, separators=(",", " : "))
    return re.sub(r"\n+", "\n", text).strip("\n")


def error_document(status, message):
    return {"error_message": message, "html_attributions": [],
            "results": [], "status": status}


class LineFramer:
    """Splits a byte stream into command lines per PROTOCOL.md framing.

    feed() returns a list of (kind, line): kind "line" is a command line
    (terminator removed), kind "overlong" is the first max_line bytes of a
    line that was too long.  Empty lines are dropped.
    """

    def __init__(self, max_line):
        self.max_line = max_line
        self.buf = b""
        self.discarding = False     # inside an over-long line

    def feed(self, data, eof=False):
        self.buf += data
        out = []
        while True:
            if self.discarding:
                nl = self.buf.find(b"\n")
                if nl < 0:
                    self.buf = b""
                    break
                self.buf = self.buf[nl + 1:]
                self.discarding = False
            nl = self.buf.find(b"\n")
            if nl < 0:
                self._unterminated(out, eof)
                break
            line, self.buf = self.buf[:nl], self.buf[nl + 1:]
            if line.endswith(b"\r"):
                line = line[:-1]
            if len(line) > self.max_line:
                out.append(("overlong", line[:self.max_line]))
            elif line:
                out.append(("line", line))
        return out

    def _unterminated(self, out, eof):
        content = self.buf[:-1] if self.buf.endswith(b"\r") else self.buf
        if len(content) > self.max_line:
            out.append(("overlong", self.buf[:self.max_line]))
            self.buf = b""
            self.discarding = not eof
        elif eof:
            if content:
                out.append(("line", content))
            self.buf = b""


# --------------------------------------------------------------------------
# The member
# --------------------------------------------------------------------------

class Member:
    def __init__(self, name, herd, log):
        self.name = name
        self.name_b = name.encode()
        self.herd = herd
        self.log = log
        self.log_io = herd.get("log_io", True)
        self.max_line = int(herd.get("max_line", 4096))
        self.max_client_len = int(herd.get("max_client_len", 255))
        members = herd["members"]
        self.me = members[name]
        self.neighbours = sorted(
            {b for a, b in herd.get("links", []) if a == name} |
            {a for a, b in herd.get("links", []) if b == name})
        self.neighbour_by_address = {
            members[n].get("source", members[n]["host"]): n
            for n in self.neighbours}
        places = herd.get("places") or {}
        self.places_url = places.get("base_url") or ""
        self.places_key = places.get("key", "")
        self.places_timeout = float(places.get("timeout_s", 5))
        self.clients = {}           # client -> (time ns, AT line)
        self.session = None
        self.tasks = set()          # flood tasks in flight

    # --- client connections -------------------------------------------

    async def serve_connection(self, reader, writer):
        peer = writer.get_extra_info("peername") or ("?", 0)
        neighbour = self.neighbour_by_address.get(peer[0])
        framer = LineFramer(self.max_line)
        if self.log_io:
            self.log.info("open %s:%s%s", peer[0], peer[1],
                          " (%s)" % neighbour if neighbour else "")
        try:
            while True:
                data = await reader.read(READ_CHUNK)
                for kind, line in framer.feed(data, eof=not data):
                    reply = await self.answer(kind, line, neighbour)
                    if reply:
                        writer.write(reply)
                await writer.drain()
                if not data:
                    break
        except (ConnectionError, asyncio.IncompleteReadError) as e:
            self.log.info("connection %s:%s: %s", peer[0], peer[1], e)
        finally:
            if self.log_io:
                self.log.info("close %s:%s", peer[0], peer[1])
            writer.close()

    async def answer(self, kind, line, neighbour):
        if self.log_io:
            self.log.info("recv %r", line)
        reply = await self.command(line, neighbour) if kind == "line" \
            else None
        if reply is None:
            reply = b"? " + line + b"\n"
        if reply and self.log_io:
            self.log.info("send %r", reply)
        return reply

    async def command(self, line, neighbour):
        """The reply to a command line: bytes, NO_REPLY for a neighbour's
        AT update, or None if the line is invalid."""
        fields = line.split()       # splits on exactly the protocol's spaces
        if len(fields) == 4 and fields[0] == b"IAMAT":
            return self.iamat(*fields[1:])
        if len(fields) == 4 and fields[0] == b"WHATSAT":
            return await self.whatsat(*fields[1:])
        if len(fields) == 6 and fields[0] == b"AT" and neighbour:
            return NO_REPLY if self.at_update(fields[1:], neighbour) \
                else None
        return None

    def valid_client(self, client):
        return 1 <= len(client) <= self.max_client_len

    def iamat(self, client, location, when):
        t = parse_time(when)
        if (not self.valid_client(client) or parse_location(location) is None
                or t is None):
            return None
        diff = format_diff(time.time_ns() - t)
        at = b"AT %s %s %s %s %s" % (self.name_b, diff, client, location,
                                     when)
        if self.store(client, t, at):
            self.flood(at, came_from=None)
        return at + b"\n"

    def at_update(self, fields, neighbour):
        server, diff, client, location, when = fields
        t = parse_time(when)
        if (not 1 <= len(server) <= NAME_MAX or not DIFF_RE.match(diff)
                or not self.valid_client(client)
                or parse_location(location) is None or t is None):
            return False
        at = b" ".join((b"AT",) + tuple(fields))
        if self.store(client, t, at):
            self.flood(at, came_from=neighbour)
        return True

    def store(self, client, t, at):
        """Keeps the report if it is newer (time, then the line bytewise)."""
        old = self.clients.get(client)
        if old is not None and (t, at) <= old:
            return False
        self.clients[client] = (t, at)
        return True

    # --- WHATSAT --------------------------------------------------------

    async def whatsat(self, client, radius, bound):
        metres = parse_radius(radius)
        limit = parse_bound(bound)
        if (not self.valid_client(client) or metres is None or limit is None
                or client not in self.clients):
            return None
        t, at = self.clients[client]
        location = parse_location(at.split()[4])
        document = await self.places(location, metres, limit)
        return at + b"\n" + google_layout(document).encode() + b"\n\n"

    async def places(self, location, metres, bound):
        if not self.places_url:
            return error_document(
                "REQUEST_DENIED", "No Places service is configured on "
                "this herd")
        params = {"location": "%s,%s" % (location[0].decode(),
                                         location[1].decode()),
                  "radius": metres, "key": self.places_key}
        try:
            async with self.session.get(self.places_url,
                                        params=params) as response:
                body = await response.read()
                if response.status != 200:
                    return error_document(
                        "UNKNOWN_ERROR", "Places answered HTTP %d"
                        % response.status)
            document = json.loads(body)
        except asyncio.TimeoutError:
            return error_document("UNKNOWN_ERROR",
                                  "Places did not answer in time")
        except (aiohttp.ClientError, ValueError) as e:
            return error_document("UNKNOWN_ERROR", "Places failed: %s" % e)
        if not isinstance(document, dict):
            return error_document("UNKNOWN_ERROR", "Places sent no object")
        if isinstance(document.get("results"), list):
            document["results"] = document["results"][:bound]
        return document

    # --- flooding -------------------------------------------------------

    def flood(self, at, came_from):
        for n in self.neighbours:
            if n != came_from:
                task = asyncio.create_task(self.send_update(n, at))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    async def send_update(self, neighbour, at):
        """The classic way: a new connection for every update."""
        peer = self.herd["members"][neighbour]
        source = self.me.get("source")
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    peer["host"], peer["port"],
                    local_addr=(source, 0) if source else None),
                FLOOD_TIMEOUT_S)
        except (OSError, asyncio.TimeoutError) as e:
            self.log.info("cannot connect to %s: %s", neighbour, e)
            return
        self.log.info("new connection to %s", neighbour)
        try:
            writer.write(at + b"\n")
            await writer.drain()
            writer.close()
            await writer.wait_closed()
        except OSError as e:
            self.log.info("connection to %s failed: %s", neighbour, e)
        self.log.info("dropped connection to %s", neighbour)

    # --- lifecycle ------------------------------------------------------

    async def run(self):
        timeout = aiohttp.ClientTimeout(total=self.places_timeout)
        self.session = aiohttp.ClientSession(timeout=timeout)
        server = await asyncio.start_server(
            self.serve_connection, self.me["host"], self.me["port"],
            reuse_address=True, backlog=4096)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        self.log.info("%s listening on %s:%d, neighbours %s", self.name,
                      self.me["host"], self.me["port"],
                      " ".join(self.neighbours) or "none")
        async with server:
            await stop.wait()
        self.log.info("%s stopping", self.name)
        await self.session.close()


def open_log(directory, name):
    log = logging.getLogger(name)
    log.setLevel(logging.INFO)
    if directory:
        os.makedirs(directory, exist_ok=True)
        handler = logging.FileHandler(os.path.join(directory, name + ".log"))
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(handler)
    return log


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("member")
    ap.add_argument("-c", "--config", required=True,
                    help="herd description (JSON)")
    ap.add_argument("--log-dir", help="overrides the file's log_dir")
    ap.add_argument("--no-log-io", action="store_true",
                    help="do not log every client line")
    args = ap.parse_args()
    with open(args.config) as f:
        herd = json.load(f)
    if args.member not in herd.get("members", {}):
        ap.error("%s is not a member of %s" % (args.member, args.config))
    if args.no_log_io:
        herd["log_io"] = False
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    log = open_log(args.log_dir or herd.get("log_dir"), args.member)
    asyncio.run(Member(args.member, herd, log).run())


if __name__ == "__main__":
    main()
