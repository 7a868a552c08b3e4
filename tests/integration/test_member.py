"""One member served by a supervised SO_REUSEPORT worker pool."""

import os
import re
import selectors
import signal
import socket
import subprocess
import threading
import time

from herdtest import (AT_RE, HERDD, Herd, Skip, TestFailure, check, iamat,
                      run_tests, wait_for)

SPEC_IAMAT = "IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503"


def test_iamat_reply_echoes_fields_exactly():
    h = Herd().start()
    c = h.client()
    now = time.time()
    reply = c.ask("IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 %.9f" % now)
    m = AT_RE.match(reply)
    check(m, "bad reply %r" % reply)
    check(m.group(1) == b"Riley", reply)
    check(abs(float(m.group(2))) < 5, reply)
    check(reply.endswith(b" kiwi.cs.ucla.edu +34.068930-118.445127 %.9f"
                         % now), reply)
    old = c.ask(SPEC_IAMAT)
    check(re.match(rb"^AT Riley \+\d+\.\d{9} kiwi.cs.ucla.edu "
                   rb"\+34.068930-118.445127 1621464827.959498503$", old),
          old)


def test_invalid_lines_get_question_mark_and_connection_stays():
    h = Herd().start()
    c = h.client()
    for bad in ("HELLO there", "iamat a +1+1 1", "IAMAT a +1+1",
                "WHATSAT nobody 10 5", "IAMAT a 1+1 1",
                "AT Riley +0.000000000 a +1+1 1"):
        check(c.ask(bad) == b"? " + bad.encode(), bad)
    check(c.ask("\t IAMAT\x0bw\x0c+1+1\r 5 ").startswith(b"AT Riley"),
          "white space")
    check(AT_RE.match(c.ask(iamat("still.open"))), "connection unusable")


def test_whatsat_known_client_without_places_service():
    h = Herd().start()
    c = h.client()
    at = c.ask(iamat("w.client"))
    c.send("WHATSAT w.client 10 5\n")
    reply = c.until(b"\n\n")
    lines = reply.split(b"\n")
    check(lines[0] == at, "stored line %r != %r" % (lines[0], at))
    body = b"\n".join(lines[1:]).rstrip(b"\n")
    check(body.startswith(b"{\n   \"error_message\" : "), body)
    check(b"\"status\" : \"REQUEST_DENIED\"" in body, body)
    check(b"\"results\" : []" in body, body)
    check(not reply.endswith(b"\n\n\n"), "extra newline")
    check(c.ask("WHATSAT w.client 51 5") == b"? WHATSAT w.client 51 5",
          "radius 51")
    check(c.ask("WHATSAT other 10 5") == b"? WHATSAT other 10 5",
          "unknown client")


def test_pipelined_and_split_commands():
    h = Herd().start()
    c = h.client()
    lines = [iamat("pipe%d" % i, "1700000000.%09d" % i) for i in range(200)]
    c.send("".join(l + "\n" for l in lines))
    for i in range(200):
        r = c.line()
        check(r.endswith(b" pipe%d +34.068930-118.445127 1700000000.%09d"
                         % (i, i)), "reply %d out of order: %r" % (i, r))
    one = (iamat("split", "1700000001.5") + "\r\n").encode()
    for b in one:                       # one byte per segment
        c.send(bytes([b]))
        time.sleep(0.001)
    check(c.line().endswith(b" split +34.068930-118.445127 1700000001.5"),
          "split")


def test_last_line_ended_by_eof_is_answered():
    h = Herd().start()
    s = socket.create_connection(("127.0.0.1", h.ports["Riley"]), timeout=10)
    s.sendall(b"IAMAT eof.client +1+2 1700000000.25\nHELLO")
    s.shutdown(socket.SHUT_WR)
    data = b""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    lines = data.split(b"\n")
    check(len(lines) == 3 and lines[2] == b"", "got %r" % data)
    check(AT_RE.match(lines[0]), data)
    check(lines[1] == b"? HELLO", data)


def test_overlong_line_answered_once_and_rest_discarded():
    h = Herd(herd={"max_line": 100}).start()
    c = h.client()
    c.send(b"X" * 5000 + b"\n")
    check(c.line() == b"? " + b"X" * 100, "overlong reply")
    check(AT_RE.match(c.ask(iamat("after.long"))), "next command")
    c.send(b"Y" * 100 + b"\r\n")        # exactly the limit is fine
    check(c.line() == b"? " + b"Y" * 100, "line of exactly max_line")


def test_connections_spread_over_every_worker():
    h = Herd(workers=4).start()
    for i in range(300):
        c = h.client()
        check(AT_RE.match(c.ask(iamat("spread%d" % i))), "reply")
        c.close()
    wait_for(lambda: len(set(re.findall(rb" Riley w(\d) open ",
                                        h.log_text("Riley")))) == 4,
             10, "every worker to accept (log)")


def _many_clients(port, n, prefix):
    """n concurrent connections, one IAMAT each; returns the replies."""
    sel = selectors.DefaultSelector()
    socks = []
    for i in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        socks.append(s)
        sel.register(s, selectors.EVENT_WRITE, i)
    replies = {}
    pending = {}
    deadline = time.monotonic() + 30
    while len(replies) < n and time.monotonic() < deadline:
        for key, ev in sel.select(timeout=1):
            i, s = key.data, key.fileobj
            if ev & selectors.EVENT_WRITE:
                s.sendall((iamat("%s%d" % (prefix, i)) + "\n").encode())
                sel.modify(s, selectors.EVENT_READ, i)
                pending[i] = b""
                continue
            chunk = s.recv(4096)
            pending[i] += chunk
            if not chunk or pending[i].endswith(b"\n"):
                replies[i] = pending[i]
                sel.unregister(s)
    for s in socks:
        s.close()
    return replies


def test_thousand_concurrent_clients():
    h = Herd(workers=2).start()
    replies = _many_clients(h.ports["Riley"], 1000, "many")
    check(len(replies) == 1000, "only %d replies" % len(replies))
    for i, r in replies.items():
        check(AT_RE.match(r.rstrip(b"\n")) and b" many%d " % i in r, r)


def test_client_that_never_reads_does_not_stall_others():
    h = Herd(workers=1, herd={"max_output": 65536,
                              "idle_timeout": 3}).start()
    hog = socket.create_connection(("127.0.0.1", h.ports["Riley"]))
    hog.setblocking(False)
    burst = ((iamat("hog", "1700000000.1") + "\n") * 1000).encode()
    sent = 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:   # fill every buffer in between
        try:
            sent += hog.send(burst)
        except BlockingIOError:
            break
    check(sent > 1_000_000, "server kept reading from a non-reader")
    c = h.client(timeout=2)
    for i in range(50):
        check(AT_RE.match(c.ask(iamat("polite%d" % i))), "stalled")

    def hog_dropped():
        try:
            hog.send(burst)
            return False
        except BlockingIOError:
            return False
        except OSError:
            return True
    # It stops being read, so it is dropped at the write timeout.
    wait_for(hog_dropped, 15, "the non-reading client to be dropped",
             interval=0.1)
    hog.close()


def _worker_pids(h):
    return h.workers_of("Riley")


def test_kill_worker_under_load_respawns_and_keeps_locations():
    h = Herd(workers=2).start()
    acked = {}
    stop = threading.Event()
    errors = []

    def load(n):
        i = 0
        while not stop.is_set():
            try:
                c = h.client(timeout=5)
                for _ in range(20):
                    i += 1
                    name = "load%d.%d" % (n, i)
                    r = c.ask(iamat(name))
                    if AT_RE.match(r):
                        acked[name] = r
                c.close()
            except (OSError, TestFailure):
                pass            # a connection on the killed worker
    threads = [threading.Thread(target=load, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(acked) > 500, 20, "load to get going")
        before = _worker_pids(h)
        victim_name, victim = sorted(before.items())[0]
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: _worker_pids(h).get(victim_name, victim) != victim,
                 10, "the worker to be respawned")
        count = len(acked)
        wait_for(lambda: len(acked) > count + 500, 20, "load after respawn")
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    check(not errors, errors)
    for i in range(20):                 # new connections reach both slots
        c = h.client()
        check(AT_RE.match(c.ask(iamat("after%d" % i))), "after respawn")
        c.close()
    c = h.client()
    for name, line in acked.items():
        c.send("WHATSAT %s 1 1\n" % name)
        got = c.until(b"\n\n").split(b"\n", 1)[0]
        check(got == line, "%s: stored %r, acknowledged %r" % (name, got, line))
    log = h.log_text("Riley")
    check(b"killed by signal 9" in log, "death not logged")
    check(b"respawning worker" in log, "respawn not logged")


def test_worker_that_keeps_dying_stops_herdd_with_failure():
    h = Herd(workers=1, herd={"respawn_budget": 2}).start()
    for _ in range(3):
        pid = wait_for(lambda: _worker_pids(h).get("herd-w0-Riley"), 10,
                       "a worker")
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: _worker_pids(h).get("herd-w0-Riley") != pid, 10,
                 "the worker to go")
    status = h.proc.wait(15)
    check(status != 0, "herdd exited %d" % status)
    check(b"giving up" in h.log_text("Riley"), "not logged")


def test_sigterm_stops_everything_and_reaps_children():
    h = Herd(workers=3).start()
    c = h.client()
    c.ask(iamat("bye"))
    pids = list(h.workers_of().values())
    check(len(pids) == 3, pids)
    status = h.stop()
    check(status == 0, "exit status %r" % status)
    for pid in pids:
        check(not os.path.exists("/proc/%d" % pid) or
              open("/proc/%d/stat" % pid).read().split()[2] == "Z",
              "worker %d still running" % pid)


def test_log_has_traffic_and_whole_lines():
    h = Herd(workers=2).start()
    _many_clients(h.ports["Riley"], 200, "logged")
    c = h.client()
    c.ask("HELLO log")
    wait_for(lambda: b"send #" in h.log_text("Riley") and
             b"? HELLO log" in h.log_text("Riley"), 10, "traffic in the log")
    h.stop()
    stamp = rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z Riley( w\d)? \S"
    for line in h.log_text("Riley").split(b"\n")[:-1]:
        check(re.match(stamp, line), "malformed log line %r" % line)
    check(b"recv #" in h.log_text("Riley"), "recv not logged")


def test_log_io_off_logs_no_traffic():
    h = Herd(herd={"log_io": "no"}).start()
    c = h.client()
    c.ask(iamat("quiet"))
    h.stop()
    log = h.log_text("Riley")
    check(b"worker started" in log, log)
    check(b"recv #" not in log and b"quiet" not in log, log)


def test_config_errors_reported_with_file_and_line():
    h = Herd()
    with open(h.conf, "a") as f:
        f.write("bogus_key = 1\n")
    lineno = sum(1 for _ in open(h.conf))
    r = subprocess.run([HERDD, "-t", "-c", h.conf], capture_output=True,
                       timeout=10)
    check(r.returncode != 0, "accepted a bad configuration")
    check(("%s:%d:" % (h.conf, lineno)).encode() in r.stderr, r.stderr)


def test_daemon_mode_reports_ready_and_serves():
    h = Herd()
    r = subprocess.run([HERDD, "-c", h.conf], capture_output=True,
                       timeout=20)
    h.daemon_pid = h.find_daemon()
    check(r.returncode == 0, r.stderr)
    check(h.daemon_pid is not None, "daemon not found")
    c = h.client()                      # listening before herdd returned
    check(AT_RE.match(c.ask(iamat("daemon"))), "daemon serves")
    check(h.stop() == 0, "daemon did not stop cleanly")


def test_daemon_mode_reports_start_failure():
    h = Herd()
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", h.ports["Riley"]))
    blocker.listen()
    r = subprocess.run([HERDD, "-c", h.conf], capture_output=True,
                       timeout=20)
    h.daemon_pid = h.find_daemon()
    blocker.close()
    check(r.returncode != 0, "reported success")
    check(b"cannot listen on 127.0.0.1:%d" % h.ports["Riley"] in r.stderr,
          r.stderr)


def test_every_process_allocates_as_configured():
    # configure decides (jemalloc when found); a link that silently fell
    # back to glibc's malloc would only show as a slower WHATSAT.
    want = os.environ.get("HERD_JEMALLOC")
    if want not in ("yes", "no"):
        raise Skip("HERD_JEMALLOC is set by make check")
    h = Herd(links=()).start()
    pids = [h.proc.pid] + list(h.workers_of().values())
    for pid in pids:
        with open("/proc/%d/maps" % pid) as f:
            on_jemalloc = "libjemalloc" in f.read()
        check(on_jemalloc == (want == "yes"),
              "pid %d: jemalloc %s, configured %s" % (pid, on_jemalloc, want))


if __name__ == "__main__":
    run_tests(globals())
