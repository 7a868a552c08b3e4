"""Hostile clients are bounded: slow lines, floods, junk, non-readers."""

import os
import re
import select
import socket
import threading
import time

from herdtest import (AT_RE, Client, Herd, check, iamat, run_tests,
                      wait_for)

JUNK_BYTES = int(os.environ.get("HERD_JUNK_BYTES", str(1 << 30)))
# Under AddressSanitizer freed memory sits in quarantine and RSS says
# nothing about leaks or bounds: only the behaviour is checked there.
SANITIZED = os.environ.get("HERD_SANITIZERS") == "yes"


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def only_worker(h):
    pids = list(h.workers_of().values())
    check(len(pids) == 1, pids)
    return pids[0]


def serving_rss_kib(h, pid):
    """The worker's RSS once it has answered: a worker maps its member's
    whole table before it serves, and that is not growth."""
    c = h.client()
    check(AT_RE.match(c.ask(iamat("baseline"))), "not serving")
    c.close()
    return rss_kib(pid)


def closed_by_server(sock, timeout):
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def test_slowloris_line_is_timed_out():
    h = Herd(workers=1, herd={"line_timeout": 2}).start()
    slow = socket.create_connection(("127.0.0.1", h.ports["Riley"]))
    started = time.monotonic()
    dropped = False
    for b in b"IAMAT slow +1+1 1700000000":      # never a newline
        try:
            slow.send(bytes([b]))
        except OSError:
            dropped = True
            break
        r, _, _ = select.select([slow], [], [], 0.25)
        if r and slow.recv(100) == b"":
            dropped = True
            break
    check(dropped or closed_by_server(slow, 5), "slowloris not dropped")
    took = time.monotonic() - started
    check(1.5 < took < 6, "dropped after %.1fs, line_timeout is 2s" % took)
    # The close is logged at the end of the worker's loop turn.
    wait_for(lambda: b"timeout: line not finished" in h.log_text("Riley"),
             5, "the drop to be logged")
    c = h.client()
    check(AT_RE.match(c.ask(iamat("after.slow"))), "worker unwell")


def test_slow_but_complete_lines_are_fine():
    h = Herd(workers=1, herd={"line_timeout": 2}).start()
    c = h.client()
    for i in range(4):          # a line every 0.9 s for > 2 line timeouts
        line = (iamat("steady%d" % i) + "\n").encode()
        c.send(line[:10])
        time.sleep(0.45)
        c.send(line[10:])
        check(AT_RE.match(c.line()), "reply %d" % i)
        time.sleep(0.45)


def test_connection_flood_beyond_the_limit_leaves_herd_serving():
    h = Herd(workers=1, herd={"max_clients": 100, "log_io": "no"}).start()
    held = [socket.create_connection(("127.0.0.1", h.ports["Riley"]))
            for _ in range(100)]
    attempts = 0
    deadline = time.monotonic() + 60
    while attempts < 50000 and time.monotonic() < deadline:
        batch = []
        for _ in range(500):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", h.ports["Riley"]))
            batch.append(s)
        select.select([], batch, [], 0.01)
        for s in batch:
            s.close()
        attempts += len(batch)
    check(attempts >= 50000, "only %d attempts in time" % attempts)
    for s in held:
        s.close()
    c = h.client(timeout=30)
    check(AT_RE.match(c.ask(iamat("after.flood"))), "not serving")
    check(h.proc.poll() is None, "herdd died")


def test_gigabyte_of_junk_leaves_worker_serving_with_flat_memory():
    h = Herd(workers=1, herd={"log_io": "no", "max_line": 4096}).start()
    pid = only_worker(h)
    before = serving_rss_kib(h, pid)
    s = socket.create_connection(("127.0.0.1", h.ports["Riley"]))
    got = [0]

    def drain():
        s.settimeout(60)
        try:
            while True:
                chunk = s.recv(1 << 20)
                if not chunk:
                    return
                got[0] += len(chunk)
        except OSError:
            return
    reader = threading.Thread(target=drain)
    reader.start()
    block = os.urandom(1 << 20)
    sent, peak = 0, before
    started = time.monotonic()
    while sent < JUNK_BYTES and time.monotonic() - started < 120:
        s.sendall(block[sent % 4096:] + block[:sent % 4096])
        sent += len(block)
        if sent % (64 << 20) == 0:
            peak = max(peak, rss_kib(pid))
    s.shutdown(socket.SHUT_WR)
    reader.join(60)
    s.close()
    check(sent >= JUNK_BYTES, "sent only %d bytes in time" % sent)
    check(got[0] > sent // 2, "answers missing: %d for %d" % (got[0], sent))
    check(SANITIZED or peak - before < 32 * 1024,
          "RSS grew from %d to %d KiB" % (before, peak))
    check(only_worker(h) == pid, "the worker was restarted")
    c = h.client()
    check(AT_RE.match(c.ask(iamat("after.junk"))), "not serving")
    print("# %d MiB of junk in %.1fs, worker RSS %d -> %d KiB"
          % (sent >> 20, time.monotonic() - started, before, peak))


def test_client_that_never_reads_is_dropped_without_memory_growth():
    h = Herd(workers=1, herd={"max_output": 65536,
                              "idle_timeout": 3}).start()
    pid = only_worker(h)
    before = serving_rss_kib(h, pid)
    hogs = []
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", h.ports["Riley"]))
        s.setblocking(False)
        hogs.append(s)
    burst = ((iamat("hog", "1700000000.1") + "\n") * 2000).encode()
    deadline = time.monotonic() + 10
    for s in hogs:
        while time.monotonic() < deadline:
            try:
                s.send(burst)
            except BlockingIOError:
                break
    grown = rss_kib(pid) - before
    check(SANITIZED or grown < 16 * 1024,
          "RSS grew by %d KiB for 20 non-readers" % grown)
    # Never read: each is dropped at the write timeout (idle_timeout).
    wait_for(lambda: h.log_text("Riley").count(
        b"timeout: client not reading") >= 20, 90,
        "the 20 non-readers to be dropped", interval=0.2)
    for s in hogs:
        s.close()
    c = h.client()
    check(AT_RE.match(c.ask(iamat("after.hogs"))), "not serving")


if __name__ == "__main__":
    run_tests(globals())
