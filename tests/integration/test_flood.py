"""Flooding between members: links, convergence, faults, resync."""

import os
import random
import re
import signal
import socket
import threading
import time

from herdtest import (AT_RE, Client, Herd, TestFailure, check, iamat, lookup,
                      run_tests, wait_for)

MEMBERS = ("Riley", "Jaquez", "Juzang", "Campbell", "Bernard")
LINKS = (("Riley", "Jaquez"), ("Riley", "Juzang"), ("Bernard", "Jaquez"),
         ("Bernard", "Juzang"), ("Bernard", "Campbell"),
         ("Juzang", "Campbell"))


def herd_2021(**kw):
    return Herd(members=MEMBERS, links=LINKS, **kw)


def report(h, member, client, when=None):
    c = Client(h.ports[member])
    try:
        line = c.ask(iamat(client, when))
    finally:
        c.close()
    check(AT_RE.match(line), "bad reply %r" % line)
    return line


def wait_everywhere(h, client, line, members=MEMBERS, timeout=15):
    for m in members:
        wait_for(lambda: lookup(h, m, client) == line, timeout,
                 "%s to hold %r for %s (has %r)"
                 % (m, line, client, lookup(h, m, client)))


def test_update_at_every_member_reaches_every_member():
    h = herd_2021().start()
    lines = {m: report(h, m, "from-" + m) for m in MEMBERS}
    for m, line in lines.items():
        check(line.startswith(b"AT %s " % m.encode()), line)
        wait_everywhere(h, "from-" + m, line)


def test_stale_report_never_replaces_newer():
    h = herd_2021().start()
    new = report(h, "Riley", "stale.test", "1700000200.5")
    wait_everywhere(h, "stale.test", new)
    old = report(h, "Campbell", "stale.test", "1700000100.5")
    check(old.startswith(b"AT Campbell ") and
          old.endswith(b" 1700000100.5"), "stale IAMAT still answered")
    marker = report(h, "Campbell", "after.stale")   # flushes the links
    wait_everywhere(h, "after.stale", marker)
    for m in MEMBERS:
        check(lookup(h, m, "stale.test") == new, "%s took a stale report" % m)


def _newest(lines):
    def key(line):
        sec, _, frac = line.rsplit(b" ", 1)[1].partition(b".")
        return (int(sec), int(frac.ljust(9, b"0") or b"0"), line)
    return max(lines, key=key)


def test_concurrent_conflicting_reports_converge():
    h = herd_2021().start()
    winners = {}
    for i in range(20):
        client = "conflict%d" % i
        when = "1700000300.%09d" % (i % 3)     # equal times: tie-break
        got = []
        threads = [threading.Thread(
            target=lambda m=m: got.append(report(h, m, client, when)))
            for m in ("Riley", "Campbell", "Bernard")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        check(len(got) == 3, "a report went unanswered")
        winners[client] = _newest(got)
    for client, line in winners.items():
        wait_everywhere(h, client, line)


def _link_counts(h):
    """{(from, to): updates sent} from the flooders' logs at stop."""
    sent = {}
    pat = re.compile(rb" (\w+) flooder link to (\w+) (?:down|closed): .*"
                     rb"\(sent (\d+) updates\)")
    for m in MEMBERS:
        for a, b, n in pat.findall(h.log_text(m)):
            key = (a.decode(), b.decode())
            sent[key] = sent.get(key, 0) + int(n)
    return sent


def test_no_flood_storm():
    h = herd_2021().start()
    n = 0
    for i in range(60):
        m = MEMBERS[i % 5]
        line = report(h, m, "storm%d" % i)
        n += 1
    wait_everywhere(h, "storm59", line)
    for i in range(0, 60, 7):   # from other members: not ordered with 59
        wait_for(lambda: lookup(h, "Campbell", "storm%d" % i) is not None,
                 10, "storm%d at Campbell" % i)
    time.sleep(0.2)     # let in-flight duplicates drain before counting
    h.stop()
    sent = _link_counts(h)
    check(len(sent) == 12, "expected 12 directed links, got %r" % sent)
    for link, count in sent.items():
        check(count <= n, "link %s->%s carried %d updates for %d reports"
              % (link[0], link[1], count, n))
    check(sum(sent.values()) >= 4 * n, "updates did not spread: %r" % sent)


def test_killed_member_is_flooded_around_and_resyncs_on_restart():
    h = herd_2021()
    for m in MEMBERS:
        h.start_member(m)
    before = report(h, "Riley", "before.kill")
    wait_everywhere(h, "before.kill", before)
    h.kill_member("Juzang")
    # Riley -> Jaquez -> Bernard -> Campbell: three hops around Juzang.
    during = {m: report(h, m, "during." + m)
              for m in MEMBERS if m != "Juzang"}
    others = [m for m in MEMBERS if m != "Juzang"]
    for m, line in during.items():
        wait_everywhere(h, "during." + m, line, others)
    h.start_member("Juzang")    # an empty table: it must be taught
    for m, line in during.items():
        wait_everywhere(h, "during." + m, line, ["Juzang"])
    wait_everywhere(h, "before.kill", before, ["Juzang"])
    after = report(h, "Juzang", "after.restart")
    wait_everywhere(h, "after.restart", after)


def test_flooder_killed_under_load_loses_nothing():
    h = herd_2021(workers=2).start()
    acked = {}
    stop = threading.Event()

    def load(n):
        rng = random.Random(n)
        i = 0
        while not stop.is_set():
            m = rng.choice(MEMBERS)
            try:
                c = Client(h.ports[m], timeout=5)
                for _ in range(10):
                    i += 1
                    name = "fl%d.%d" % (n, i)
                    line = c.ask(iamat(name))
                    if AT_RE.match(line):
                        acked[name] = line
                c.close()
            except (OSError, TestFailure):
                pass
    threads = [threading.Thread(target=load, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(acked) > 300, 20, "load to get going")
        victim = h.flooder_of("Riley")
        check(victim, "no flooder for Riley")
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: h.flooder_of("Riley") not in (None, victim), 10,
                 "Riley's flooder to be respawned")
        count = len(acked)
        wait_for(lambda: len(acked) > count + 300, 20, "load after respawn")
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    pending = dict(acked)
    deadline = time.monotonic() + 30
    while pending and time.monotonic() < deadline:
        for name, line in list(pending.items()):
            if all(lookup(h, m, name) == line for m in MEMBERS):
                del pending[name]
    check(not pending, "%d acknowledged updates missing somewhere, e.g. %r"
          % (len(pending), next(iter(pending.items()), None)))
    check(b"flooder" in h.log_text("Riley") and
          b"killed by signal 9" in h.log_text("Riley"), "death not logged")


def test_cut_link_heals_and_converges():
    h = herd_2021().start()
    victim = h.flooder_of("Bernard")
    # A link that never came up cannot go down: stop Bernard only once
    # Jaquez's link to it is up.
    wait_for(lambda: b"link to Bernard up" in h.log_text("Jaquez"), 10,
             "Jaquez's link to Bernard")
    os.kill(victim, signal.SIGSTOP)     # Bernard's links go silent
    try:
        wait_for(lambda: b"link to Bernard down" in h.log_text("Jaquez"),
                 20, "Jaquez to declare the link dead", interval=0.2)
        during = report(h, "Campbell", "during.cut")
        wait_everywhere(h, "during.cut", during,
                        ["Riley", "Jaquez", "Juzang", "Campbell"])
    finally:
        os.kill(victim, signal.SIGCONT)
    wait_everywhere(h, "during.cut", during, ["Bernard"], timeout=30)
    after = report(h, "Bernard", "after.heal")
    wait_everywhere(h, "after.heal", after)


class ClassicServer:
    """A classic neighbour: speaks only AT lines on its client port."""

    def __init__(self, host="127.0.0.2"):
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen()
        self.host, self.port = self.sock.getsockname()
        self.lines = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(60)
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        buf = b""
        conn.settimeout(60)
        while True:
            try:
                chunk = conn.recv(4096)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self.lines.append(line)

    def send_update(self, port, line):
        s = socket.socket()
        s.bind((self.host, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(line + b"\n")
        s.close()

    def close(self):
        self.sock.close()


def test_classic_neighbour_exchanges_plain_at_lines():
    old = ClassicServer()
    h = Herd(members=("Riley", "Jaquez"),
             links=(("Riley", "Jaquez"), ("Riley", "Old")),
             classic={"Old": (old.host, old.port)}).start()
    try:
        line = report(h, "Jaquez", "to.classic")
        wait_for(lambda: line in old.lines, 10, "the classic server to get "
                 "the update (has %r)" % old.lines)
        check(all(AT_RE.match(l) for l in old.lines), old.lines)
        update = (b"AT Old +0.000001000 from.classic +10.5-20.25 "
                  b"1700000400.000000001")
        old.send_update(h.ports["Riley"], update.replace(b" ", b"\t", 1))
        wait_everywhere(h, "from.classic", update, ("Riley", "Jaquez"))
        c = h.client("Riley")          # from 127.0.0.1: not Old's address
        check(c.ask(update) == b"? " + update, "AT from a stranger")
        check(lookup(h, "Riley", "from.classic") == update, "overwritten")
    finally:
        old.close()


def test_stranger_on_peer_port_is_refused_and_ignored():
    h = Herd(members=("Riley", "Jaquez"),
             links=(("Riley", "Jaquez"),)).start()
    for hello in ("HELLO 1 herd Mallory Riley 0123456789abcdef",
                  "HELLO 1 other Jaquez Riley 0123456789abcdef",
                  "AT Riley +0.000000000 injected +1+1 1800000000"):
        c = Client(h.peer_ports["Riley"])
        c.send(hello + "\n" +
               "AT Riley +0.000000000 injected +1+1 1800000000\n")
        check(c.line().startswith(b"REFUSE "), "not refused: " + hello)
        c.read_to_eof()
        c.close()
    marker = report(h, "Riley", "marker")
    wait_everywhere(h, "marker", marker, ("Riley", "Jaquez"))
    check(lookup(h, "Riley", "injected") is None, "a stranger injected")
    check(b"refused a link from" in h.log_text("Riley"), "not logged")


def test_flooder_restart_resumes_from_watermark():
    h = Herd(members=("Riley", "Jaquez"), links=(("Riley", "Jaquez"),))
    h.start()
    for i in range(300):
        report(h, "Riley", "bulk%d" % i, "1700000500.%09d" % i)
    last = report(h, "Riley", "bulk.last")
    wait_everywhere(h, "bulk.last", last, ("Jaquez",))
    os.kill(h.flooder_of("Riley"), signal.SIGKILL)
    wait_for(lambda: len(re.findall(rb"Riley flooder link to Jaquez up",
                                    h.log_text("Riley"))) >= 2, 15,
             "the link to come back")
    ups = re.findall(rb"link to Jaquez up, sending changes after (\d+) of "
                     rb"(\d+)", h.log_text("Riley"))
    after, total = (int(x) for x in ups[-1])
    check(after == total and total >= 301,
          "resync restarted from %d of %d, not from the watermark"
          % (after, total))


if __name__ == "__main__":
    run_tests(globals())
