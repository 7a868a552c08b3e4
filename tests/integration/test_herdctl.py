"""herdctl against the real herdd: start, status, lookup, reload, stop,
check, a crash loop, and garbage on the control socket; and herdctl
against a fake control server, for what a real herdd rarely does (odd
answers, silence, a pid that will not die)."""

import json
import os
import random
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

from herdtest import (HERDD, Herd, TestFailure, check, iamat, proc_children,
                      proc_comm, run_tests, session_members, wait_for)

HERDCTL = os.environ.get("HERDCTL", "./herdctl")


# --- helpers ---------------------------------------------------------------

def herdctl(conf, *args, timeout=60, sock=None):
    """Runs herdctl; returns (status, stdout, stderr).  Always reaped."""
    argv = [HERDCTL]
    if conf is not None:
        argv += ["-c", conf]
    if sock is not None:
        argv += ["-s", sock]
    env = dict(os.environ, HERDD=HERDD)
    try:
        p = subprocess.run(argv + list(args), stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise TestFailure("herdctl %s took over %ss" % (args, timeout))
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def ctl_path(h):
    return os.path.join(h.dir, "run", "herdd.sock")


def frame(payload):
    if isinstance(payload, dict):
        payload = json.dumps(payload)
    if isinstance(payload, str):
        payload = payload.encode()
    return struct.pack(">I", len(payload)) + payload


def read_frame(sock, timeout=10.0):
    """One frame's payload, or None if the server closed first."""
    deadline = time.monotonic() + timeout
    buf = b""
    while True:
        if len(buf) >= 4:
            n = struct.unpack(">I", buf[:4])[0]
            if len(buf) >= 4 + n:
                return buf[4:4 + n]
        left = deadline - time.monotonic()
        if left <= 0:
            raise TestFailure("no answer on the control socket")
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return None
        buf += chunk


def ctl_call(path, request, timeout=10.0):
    """Sends one request (a dict) the way herdctl does; the answer dict."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(frame(request))
        raw = read_frame(s, timeout)
    check(raw is not None, "herdd closed without answering %r" % request)
    return json.loads(raw)


def status_json(h):
    return ctl_call(ctl_path(h), {"version": 1, "command": "status"})


def member_of(status, name):
    for m in status["members"]:
        if m["name"] == name:
            return m
    raise TestFailure("no member %s in status" % name)


def store(h, member, client):
    """IAMATs client at member; returns the AT line herdd answered."""
    c = h.client(member)
    line = c.ask(iamat(client)).decode()
    c.close()
    check(line.startswith("AT %s " % member), "IAMAT answered %r" % line)
    return line


def start_daemon(h):
    """herdctl start; registers the detached herdd for clean-up."""
    rc, out, err = herdctl(h.conf, "start")
    h.daemon_pid = h.find_daemon()
    check(rc == 0, "start: %d %r %r" % (rc, out, err))
    check(h.daemon_pid is not None, "no herdd running after start")
    check("herdd started (pid %d)" % h.daemon_pid in out,
          "start said %r (herdd is %d)" % (out, h.daemon_pid))
    return h.daemon_pid


def write_conf(h, text):
    with open(h.conf, "w") as f:
        f.write(text)


def conf_text(h):
    with open(h.conf) as f:
        return f.read()


def line_of(text, needle):
    return text.splitlines().index(needle) + 1


def workers_under(pid, member):
    """Pids of member's worker processes (named herd-wN-member) of pid."""
    return [k for k in proc_children(pid)
            if (proc_comm(k) or "").startswith("herd-w") and
            member.startswith(proc_comm(k).split("-", 2)[2])]


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# --- start, status, stop ---------------------------------------------------

def test_start_status_stop():
    h = Herd(members=("Riley", "Jaquez"), links=[("Riley", "Jaquez")],
             workers=2, herd={"table_capacity": 5000, "name": "herdtest"})
    pid = start_daemon(h)
    rc, out, _ = herdctl(h.conf, "start")
    check(rc == 0 and "already running (pid %d)" % pid in out,
          "second start: %d %r" % (rc, out))
    check(os.stat(ctl_path(h)).st_mode & 0o777 == 0o660,
          "control socket mode %o" % os.stat(ctl_path(h)).st_mode)

    rc, out, err = herdctl(h.conf, "status")
    check(rc == 0, "status: %d %r" % (rc, err))
    for needle in ("pid %d" % pid, "Riley:", "Jaquez:", "worker 0",
                   "worker 1", "flooder", "of 5000 entries", h.conf):
        check(needle in out, "status lacks %r:\n%s" % (needle, out))

    def links_up():
        s = json.loads(herdctl(h.conf, "status", "--json")[1])
        links = member_of(s, "Riley")["flooder"]["links"]
        return len(links) == 2 and all(l["state"] == "up" for l in links)
    wait_for(links_up, 15, "Riley's links to come up")

    rc, out, err = herdctl(h.conf, "status", "--json")
    check(rc == 0, "status --json: %d %r" % (rc, err))
    check_status_json(json.loads(out), h, pid)

    rc, out, err = herdctl(h.conf, "stop")
    check(rc == 0 and "herdd stopped" in out, "stop: %d %r %r"
          % (rc, out, err))
    left = session_members(pid)
    check(not left, "processes left after herdctl stop returned: %r" % left)
    h.daemon_pid = None
    check(not os.path.exists(ctl_path(h)), "control socket left behind")
    rc, out, _ = herdctl(h.conf, "status")
    check(rc == 3 and "not running" in out, "status after stop: %d %r"
          % (rc, out))
    rc, out, _ = herdctl(h.conf, "stop")
    check(rc == 0 and "not running" in out, "second stop: %d %r"
          % (rc, out))


def check_status_json(s, h, pid):
    check(s["version"] == 1 and s["ok"] is True, "header: %r" % s)
    d = s["herdd"]
    check(d["pid"] == pid, "herdd.pid %r, want %d" % (d["pid"], pid))
    check(is_number(d["uptime_s"]) and 0 <= d["uptime_s"] < 600,
          "uptime %r" % d["uptime_s"])
    check(d["config"] == h.conf, "config %r" % d["config"])
    check(d["herd"] == "herdtest" and d["reloads"] == 0, "herdd: %r" % d)
    check(sorted(m["name"] for m in s["members"]) == ["Jaquez", "Riley"],
          "members %r" % [m["name"] for m in s["members"]])
    kids = set(proc_children(pid))
    for m in s["members"]:
        name = m["name"]
        check(m["client"] == "127.0.0.1:%d" % h.ports[name], "client %r"
              % m["client"])
        check(m["peer"] == "127.0.0.1:%d" % h.peer_ports[name], "peer %r"
              % m["peer"])
        t = m["table"]
        check(t["capacity"] == 5000 and isinstance(t["entries"], int) and
              0 <= t["entries"] <= 5000, "table %r" % t)
        check(len(m["workers"]) == 2, "%s has %d workers"
              % (name, len(m["workers"])))
        for i, w in enumerate(m["workers"]):
            check_process(w, kids)
            check(w["slot"] == i, "slot %r" % w["slot"])
            for k in ("connections", "requests"):
                check(isinstance(w[k], int) and w[k] >= 0, "%s %r" % (k, w))
            p = w["places"]
            for k in ("requests", "errors", "upstream"):
                check(isinstance(p[k], int) and p[k] >= 0, "places %r" % p)
            for k in ("latency_ms_avg", "latency_ms_max"):
                check(is_number(p[k]) and p[k] >= 0, "places %r" % p)
        fl = m["flooder"]
        check_process(fl, kids)
        other = "Jaquez" if name == "Riley" else "Riley"
        dirs = sorted((l["peer"], l["direction"]) for l in fl["links"])
        check(dirs == [(other, "in"), (other, "out")], "links %r" % dirs)
        for l in fl["links"]:
            check(l["state"] == "up" and is_number(l["since_s"]) and
                  l["since_s"] >= 0 and isinstance(l["sent"], int) and
                  isinstance(l["received"], int), "link %r" % l)


def check_process(p, kids):
    check(isinstance(p["pid"], int) and p["pid"] in kids,
          "pid %r is not herdd's child" % p["pid"])
    check(p["state"] == "running" and p["restarts"] == 0 and
          p["backoff_ms"] == 0 and is_number(p["uptime_s"]),
          "process %r" % p)


def test_stop_foreground():
    """stop works on a herdd that is not detached (as under systemd)."""
    h = Herd(workers=2).start()
    rc, out, err = herdctl(h.conf, "stop", timeout=40)
    check(rc == 0, "stop: %d %r %r" % (rc, out, err))
    check(h.proc.wait(10) == 0, "herdd's exit status after stop")
    check(not session_members(h.proc.pid), "processes left")


def test_start_failures():
    h = Herd()
    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
        busy.bind(("127.0.0.1", h.ports["Riley"]))
        busy.listen(1)
        rc, out, err = herdctl(h.conf, "start")
    h.daemon_pid = h.find_daemon()
    check(rc == 1, "start on a busy port: %d %r %r" % (rc, out, err))
    check("herdd: " in err and str(h.ports["Riley"]) in err,
          "herdd's own error not shown: %r" % err)
    check(h.daemon_pid is None, "a herdd is left running")

    env_herdd = os.environ.get("HERDD")
    os.environ["HERDD"] = "/nonexistent/herdd"
    try:
        p = subprocess.run([HERDCTL, "-c", h.conf, "start"],
                           capture_output=True, timeout=30)
    finally:
        if env_herdd is None:
            del os.environ["HERDD"]
        else:
            os.environ["HERDD"] = env_herdd
    check(p.returncode == 1 and b"/nonexistent/herdd" in p.stderr,
          "missing herdd: %d %r" % (p.returncode, p.stderr))

    write_conf(h, conf_text(h) + "workers = many\n")
    rc, out, err = herdctl(h.conf, "start")
    n = len(conf_text(h).splitlines())
    check(rc == 1 and "%s:%d:" % (h.conf, n) in err,
          "bad config start: %d %r" % (rc, err))


# --- lookup ----------------------------------------------------------------

def test_lookup():
    h = Herd(members=("Riley", "Jaquez"), links=[("Riley", "Jaquez")]).start()
    line = store(h, "Riley", "kiwi.cs.ucla.edu")
    rc, out, err = herdctl(h.conf, "lookup", "Riley", "kiwi.cs.ucla.edu")
    check(rc == 0 and out == line + "\n", "lookup: %d %r %r" % (rc, out, err))
    wait_for(lambda: herdctl(h.conf, "lookup", "Jaquez",
                             "kiwi.cs.ucla.edu")[1] == line + "\n",
             10, "the location to reach Jaquez")
    rc, out, err = herdctl(h.conf, "lookup", "Riley", "nobody")
    check(rc == 1 and out == "" and "nobody" in err, "unknown client: %d "
          "%r %r" % (rc, out, err))
    rc, out, err = herdctl(h.conf, "lookup", "Nobody", "kiwi.cs.ucla.edu")
    check(rc == 1 and "Nobody" in err, "unknown member: %d %r" % (rc, err))
    rc, _, err = herdctl(h.conf, "lookup", "Riley", "x" * 1025)
    check(rc == 1 and "client" in err, "long client: %d %r" % (rc, err))
    rc, _, err = herdctl(h.conf, "lookup", "Riley")
    check(rc == 2, "lookup without a client: %d" % rc)
    h.stop()
    rc, _, err = herdctl(h.conf, "lookup", "Riley", "kiwi.cs.ucla.edu")
    check(rc == 1 and "not running" in err, "lookup, no herdd: %d %r"
          % (rc, err))


# --- reload ----------------------------------------------------------------

def workers_running(h, member, n):
    m = member_of(status_json(h), member)
    return (len(m["workers"]) == n and
            all(w["state"] == "running" and w["pid"] > 0
                for w in m["workers"])) and m


def test_reload_more_workers():
    h = Herd(members=("Riley", "Jaquez"), links=[("Riley", "Jaquez")],
             workers=2)
    start_daemon(h)
    line = store(h, "Riley", "kiwi.cs.ucla.edu")
    wait_for(lambda: herdctl(h.conf, "lookup", "Jaquez",
                             "kiwi.cs.ucla.edu")[0] == 0, 10, "flooding")
    before = {w["pid"] for w in workers_running(h, "Riley", 2)["workers"]}
    write_conf(h, conf_text(h).replace("workers = 2", "workers = 3"))

    rc, out, err = herdctl(h.conf, "reload")
    check(rc == 0 and out == "reloaded\n", "reload: %d %r %r"
          % (rc, out, err))
    def replaced():
        """Three running workers, none of them from before the reload
        (an old one shows as running until it has finished and exited)."""
        m = workers_running(h, "Riley", 3)
        return m and not before & {w["pid"] for w in m["workers"]}
    wait_for(replaced, 15, "3 running workers, all new")
    wait_for(lambda: len(workers_under(h.daemon_pid, "Riley")) == 3 and
             len(workers_under(h.daemon_pid, "Jaquez")) == 3, 15,
             "exactly 3 worker processes each")
    rc, out, _ = herdctl(h.conf, "status")
    check(rc == 0 and "worker 2" in out, "status after reload:\n" + out)
    check(status_json(h)["herdd"]["reloads"] == 1, "reloads count")
    for member in ("Riley", "Jaquez"):
        rc, out, _ = herdctl(h.conf, "lookup", member, "kiwi.cs.ucla.edu")
        check(rc == 0 and out == line + "\n", "%s lost the location: %r"
              % (member, out))
    store(h, "Jaquez", "after.reload")


def test_reload_broken_config():
    h = Herd(workers=2).start()
    line = store(h, "Riley", "kiwi.cs.ucla.edu")
    pids = set(h.workers_of().values())
    good = conf_text(h)
    write_conf(h, good + "frobnicate = yes\n")
    n = len(good.splitlines()) + 1

    rc, out, err = herdctl(h.conf, "reload")
    check(rc == 1 and "%s:%d:" % (h.conf, n) in err,
          "herdctl reload: %d %r %r" % (rc, out, err))
    # The same through herdd, which must check the file itself.
    rc, out, err = herdctl(None, "reload", sock=ctl_path(h))
    check(rc == 1 and "not reloaded" in err and
          "%s:%d:" % (h.conf, n) in err, "herdd's reload: %d %r"
          % (rc, err))
    a = ctl_call(ctl_path(h), {"version": 1, "command": "reload"})
    check(a["ok"] is False and "%s:%d:" % (h.conf, n) in a["error"],
          "reload answer %r" % a)
    h.proc.send_signal(signal.SIGHUP)

    write_conf(h, good.replace("[herd]\n", "[herd]\ntable_capacity = 7\n"))
    rc, _, err = herdctl(h.conf, "reload")
    check(rc == 1 and "table_capacity" in err, "capacity change: %d %r"
          % (rc, err))

    check(h.proc.poll() is None, "herdd died")
    rc, out, _ = herdctl(h.conf, "status")
    check(rc == 0, "status after refused reloads: %d" % rc)
    s = status_json(h)
    check(s["herdd"]["reloads"] == 0, "reloads %r" % s["herdd"]["reloads"])
    check({w["pid"] for w in member_of(s, "Riley")["workers"]} == pids,
          "workers were replaced by a refused reload")
    check(set(h.workers_of().values()) == pids, "worker processes changed")
    rc, out, _ = herdctl(h.conf, "lookup", "Riley", "kiwi.cs.ucla.edu")
    check(rc == 0 and out == line + "\n", "lookup after: %r" % out)
    store(h, "Riley", "still.serving")
    write_conf(h, good)


def test_reload_refused_while_in_progress():
    """While a replaced worker has not exited yet (here: it is stopped
    with SIGSTOP, so it cannot), the reload is in progress and a second
    one is refused; once it exits, a reload is applied again."""
    h = Herd(workers=1).start()
    line = store(h, "Riley", "a")
    old = member_of(status_json(h), "Riley")["workers"][0]["pid"]
    os.kill(old, signal.SIGSTOP)
    try:
        rc, out, err = herdctl(h.conf, "reload")
        check(rc == 0 and out == "reloaded\n", "first: %d %r" % (rc, err))
        rc, out, err = herdctl(h.conf, "reload")
        check(rc == 1 and "in progress" in err, "second: %d %r %r"
              % (rc, out, err))
    finally:
        os.kill(old, signal.SIGCONT)
    wait_for(lambda: herdctl(h.conf, "reload")[0] == 0, 15,
             "a reload to be accepted again")
    check(status_json(h)["herdd"]["reloads"] == 2, "reloads")
    w = wait_for(lambda: workers_running(h, "Riley", 1), 15, "the worker")
    check(w["workers"][0]["pid"] != old, "the old worker is still there")
    rc, out, _ = herdctl(h.conf, "lookup", "Riley", "a")
    check(rc == 0 and out == line + "\n", "lookup: %r" % out)


# --- check -----------------------------------------------------------------

def test_check():
    h = Herd()
    rc, out, err = herdctl(h.conf, "check")
    check(rc == 0 and out == "%s: configuration OK\n" % h.conf,
          "good: %d %r %r" % (rc, out, err))
    text = conf_text(h).replace("[member Riley]\n",
                                "[member Riley]\nworkers = 3\n")
    write_conf(h, text)
    n = line_of(text, "workers = 3")
    rc, out, err = herdctl(h.conf, "check")
    check(rc == 1 and out == "" and
          err.startswith("herdctl: %s:%d: " % (h.conf, n)),
          "bad: %d %r %r" % (rc, out, err))
    p = subprocess.run([HERDD, "-t", "-c", h.conf], capture_output=True,
                       timeout=30)
    check(p.returncode == 1 and
          ("%s:%d:" % (h.conf, n)).encode() in p.stderr,
          "herdd -t: %d %r" % (p.returncode, p.stderr))
    rc, _, err = herdctl(os.path.join(h.dir, "missing.conf"), "check")
    check(rc == 1 and "missing.conf" in err, "missing: %d %r" % (rc, err))


# --- not running, unknown --------------------------------------------------

def test_not_running():
    h = Herd()
    rc, out, err = herdctl(h.conf, "status")
    check(rc == 3 and "not running" in out, "status: %d %r" % (rc, out))
    rc, out, err = herdctl(h.conf, "status", "--json")
    check(rc == 3 and out == "" and "not running" in err,
          "status --json: %d %r %r" % (rc, out, err))
    os.makedirs(os.path.join(h.dir, "run"), exist_ok=True)
    with socket.socket(socket.AF_UNIX) as stale:    # bound, never listens
        stale.bind(ctl_path(h))
        rc, _, _ = herdctl(h.conf, "status")
        check(rc == 3, "status, stale socket: %d" % rc)
        rc, out, _ = herdctl(h.conf, "stop")
        check(rc == 0 and "not running" in out, "stop: %d %r" % (rc, out))
        rc, _, err = herdctl(h.conf, "reload")
        check(rc == 1 and "not running" in err, "reload: %d %r" % (rc, err))
    write_conf(h, conf_text(h) + "[oops\n")
    rc, _, err = herdctl(h.conf, "status")
    check(rc == 4 and h.conf in err, "status, bad config: %d %r" % (rc, err))
    rc, _, _ = herdctl(h.conf, "status", "extra")
    check(rc == 4, "status usage error: %d" % rc)
    rc, _, _ = herdctl(h.conf, "frobnicate")
    check(rc == 2, "unknown command: %d" % rc)


# --- a worker that keeps dying ---------------------------------------------

def watch_respawn(h, old_pid, seen):
    """Polls status until slot 0 runs again; records what it showed."""
    def back():
        w = member_of(status_json(h), "Riley")["workers"][0]
        seen.append((w["state"], w["restarts"], w["backoff_ms"]))
        return w["state"] == "running" and w["pid"] not in (0, old_pid) \
            and w
    return wait_for(back, 20, "worker 0 to come back", interval=0.002)


def test_crash_loop_backoff_and_budget():
    h = Herd(workers=1, herd={"respawn_budget": 4}).start()
    restarts, backoffs = [], []
    for _ in range(4):
        w = member_of(status_json(h), "Riley")["workers"][0]
        seen = []
        os.kill(w["pid"], signal.SIGKILL)
        w = watch_respawn(h, w["pid"], seen)
        restarts.append(w["restarts"])
        backoffs.append(max(b for s, r, b in seen))
        rc, out, _ = herdctl(h.conf, "status")
        check(rc == 0 and "worker 0" in out, "status in the crash loop")
    check(restarts == [1, 2, 3, 4], "restarts %r" % restarts)
    check(backoffs == sorted(backoffs) and backoffs[-1] > backoffs[1] > 0,
          "back-off does not grow: %r" % backoffs)
    s = member_of(status_json(h), "Riley")["workers"][0]
    os.kill(s["pid"], signal.SIGKILL)       # over the budget
    try:
        status = h.proc.wait(20)
    except subprocess.TimeoutExpired:
        raise TestFailure("herdd outlived its crash budget")
    check(status != 0, "herdd exited 0 after the crash budget")
    check("keeps dying" in h.stderr_text(), "stderr: %r" % h.stderr_text())
    wait_for(lambda: not session_members(h.proc.pid), 10, "every process")
    rc, _, _ = herdctl(h.conf, "status")
    check(rc == 3, "status after the budget ended herdd: %d" % rc)


# --- garbage on the control socket -----------------------------------------

def send_garbage(path, data, close_early=False):
    """Sends data; returns the answer (None if closed without one)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(path)
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            return None
        if close_early:
            return None
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        return read_frame(s, 15)


def test_garbage_on_control_socket():
    h = Herd(workers=2).start()
    path = ctl_path(h)
    line = store(h, "Riley", "kiwi.cs.ucla.edu")
    before = status_json(h)
    rnd = random.Random(5)
    for n in (1, 3, 4, 100, 5000):
        send_garbage(path, bytes(rnd.randrange(256) for _ in range(n)))
    for data in (b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff" + b"x" * 1000,
                 b"\x00\x00\x00\x00", struct.pack(">I", 1 << 20) + b"{",
                 b"\x00\x00\x00\x40" + b'{"version":1', b"GET / HTTP/1.0\r\n"
                 b"\r\n"):
        send_garbage(path, data)
    send_garbage(path, b"\x00\x00\x00\x40" + b'{"version":1',
                 close_early=True)
    for bad in ('{"version":1,"command":"status"', '[]', '{"version":2,'
                '"command":"status"}', '{"version":1,"command":"halt"}',
                '{"version":1,"command":"lookup","member":"Riley"}',
                '{"version":1,"command":"lookup","member":"Riley",'
                '"client":"%s"}' % ("c" * 1025)):
        a = send_garbage(path, frame(bad))
        check(a is None or json.loads(a)["ok"] is False,
              "%r answered %r" % (bad, a))
    idle = []
    try:
        for _ in range(200):
            s = socket.socket(socket.AF_UNIX)
            idle.append(s)
            s.settimeout(5)
            try:
                s.connect(path)
            except OSError:
                break
        rc, _, err = herdctl(h.conf, "status", timeout=60)
        check(rc in (0, 4), "status beside idle clients: %d %r" % (rc, err))
        wait_for(lambda: herdctl(h.conf, "-t", "2", "status")[0] == 0, 30,
                 "status to answer beside 200 idle clients")
    finally:
        for s in idle:
            s.close()
    check(h.proc.poll() is None, "herdd died")
    after = status_json(h)
    check(after["herdd"]["pid"] == before["herdd"]["pid"], "herdd changed")
    w0 = [w["pid"] for w in member_of(before, "Riley")["workers"]]
    w1 = [(w["pid"], w["restarts"])
          for w in member_of(after, "Riley")["workers"]]
    check(w1 == [(p, 0) for p in w0], "workers disturbed: %r" % w1)
    rc, out, _ = herdctl(h.conf, "lookup", "Riley", "kiwi.cs.ucla.edu")
    check(rc == 0 and out == line + "\n", "lookup after garbage")
    store(h, "Riley", "still.serving")


# --- herdctl against a fake control server ---------------------------------

SAMPLE = {
    "version": 1, "ok": True,
    "herdd": {"pid": 4242, "uptime_s": 3723.5, "config": "/etc/herd.conf",
              "herd": "herd2021", "reloads": 1},
    "members": [{
        "name": "Riley", "client": "127.0.0.1:12480",
        "peer": "127.0.0.1:12580",
        "table": {"entries": 1234, "capacity": 100000, "last_change": 1300,
                  "epoch": "0123456789abcdef"},
        "workers": [
            {"slot": 0, "pid": 4243, "state": "running", "uptime_s": 3723.0,
             "restarts": 0, "backoff_ms": 0, "connections": 3,
             "requests": 15210,
             "places": {"requests": 310, "errors": 2, "upstream": 250,
                        "latency_ms_avg": 81.4, "latency_ms_max": 402.7}},
            {"slot": 1, "pid": 0, "state": "respawning", "uptime_s": 0,
             "restarts": 3, "backoff_ms": 400, "connections": 0,
             "requests": 0,
             "places": {"requests": 0, "errors": 0, "upstream": 0,
                        "latency_ms_avg": 0, "latency_ms_max": 0}}],
        "flooder": {"pid": 4245, "state": "running", "uptime_s": 3723.0,
                    "restarts": 0, "backoff_ms": 0, "links": [
                        {"peer": "Jaquez", "direction": "out",
                         "state": "up", "since_s": 3722.9, "sent": 1200,
                         "received": 0},
                        {"peer": "Juzang", "direction": "out",
                         "state": "connecting", "since_s": 12.0, "sent": 0,
                         "received": 0}]}},
        {"name": "Bona", "client": "127.0.0.1:12481", "peer": "",
         "table": {"entries": 0, "capacity": 10, "last_change": 0,
                   "epoch": "0"}, "workers": [], "flooder": None}]}


class FakeServer:
    """Answers each connection with reply(request) on a thread; a reply
    of None means: read the request, then say nothing until closed."""

    def __init__(self, reply):
        self.dir = tempfile.mkdtemp(prefix="herdctl-fake-")
        self.path = os.path.join(self.dir, "fake.sock")
        self.reply = reply
        self.requests = []
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(self.path)
        self.sock.listen(8)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(0.1)
        while not self.done.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                raw = read_frame(conn, 10)
                self.requests.append(json.loads(raw) if raw else None)
                answer = self.reply(self.requests[-1])
                if answer is None:
                    self.done.wait(30)
                    continue
                if isinstance(answer, dict):
                    answer = frame(answer)
                conn.sendall(answer)

    def close(self):
        self.done.set()
        self.sock.close()
        self.thread.join(5)
        os.unlink(self.path)
        os.rmdir(self.dir)


def with_fake(reply, *args, timeout=30):
    fake = FakeServer(reply)
    try:
        rc, out, err = herdctl(None, *args, sock=fake.path, timeout=timeout)
    finally:
        fake.close()
    return rc, out, err, fake.requests


def test_fake_status_table():
    rc, out, err, reqs = with_fake(lambda r: SAMPLE, "status")
    check(rc == 0, "status: %d %r" % (rc, err))
    check(reqs == [{"version": 1, "command": "status"}], "sent %r" % reqs)
    rows = [l.split() for l in out.splitlines()]
    for row in (["herdd:", "running,", "pid", "4242,", "up", "1h02m,",
                 "reloads", "1"],
                ["worker", "0", "4243", "running", "1h02m", "0", "0", "3",
                 "15210", "310", "2", "81.4", "402.7"],
                ["worker", "1", "-", "respawning", "-", "3", "400ms", "0",
                 "0", "0", "0", "-", "-"],
                ["flooder", "4245", "running", "1h02m", "0", "0"] +
                ["-"] * 6,
                ["Jaquez", "out", "up", "1h02m", "1200", "0"],
                ["Juzang", "out", "connecting", "12s", "0", "0"],
                ["no", "links"]):
        check(row in rows, "no row %r in:\n%s" % (row, out))
    check("table 1234 of 100000 entries" in out and
          "Bona: client 127.0.0.1:12481, no peer, table 0 of 10" in out,
          "members:\n" + out)
    riley = out.split("\n\n")[1].splitlines()
    widths = {len(l) for l in riley if "worker" in l or
              l.lstrip().startswith("PROCESS") or "flooder" in l}
    check(len(widths) == 1, "process rows are not aligned:\n" + out)


def test_fake_status_json_as_is():
    rc, out, err, _ = with_fake(lambda r: SAMPLE, "status", "--json")
    check(rc == 0 and json.loads(out) == SAMPLE, "status --json: %d %r"
          % (rc, out[:200]))
    check(out.count("\n") > 20, "not pretty-printed")


def test_fake_status_unknown():
    cases = [
        ({"version": 1, "ok": False, "error": "busy"}, "busy"),
        (frame("this is not JSON"), "bad answer"),
        (frame('{"ok":true}'), "bad answer"),          # no version
        (frame('{"version":2,"ok":true}'), "bad answer"),
        (b"\xff\xff\xff\xff", "bad answer"),
        (b"\x00\x00\x00\x10{", "bad answer"),             # cut short
        (b"", "bad answer"),                               # closed
    ]
    for answer, why in cases:
        rc, out, err, _ = with_fake(lambda r, a=answer: a, "status")
        check(rc == 4 and why in err, "%r: %d %r %r" % (answer, rc, out,
                                                        err))
    started = time.monotonic()
    rc, _, err, _ = with_fake(lambda r: None, "-t", "1", "status")
    took = time.monotonic() - started
    check(rc == 4 and "in time" in err and took < 5,
          "silent server: %d %r after %.1fs" % (rc, err, took))


def test_fake_stop_waits_for_pid():
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        started = time.monotonic()
        rc, _, err, reqs = with_fake(
            lambda r: {"version": 1, "ok": True, "pid": sleeper.pid},
            "-t", "1", "stop")
        check(rc == 1 and "still running" in err and
              time.monotonic() - started < 5, "stop: %d %r" % (rc, err))
        check(reqs == [{"version": 1, "command": "stop"}], "sent %r" % reqs)

        def kill_soon(r):
            threading.Timer(0.3, sleeper.kill).start()
            return {"version": 1, "ok": True, "pid": sleeper.pid}
        rc, out, err, _ = with_fake(kill_soon, "stop")
        # The sleeper is our child: a zombie until we reap it, which
        # herdctl must count as gone.
        check(rc == 0 and "stopped" in out, "stop: %d %r %r"
              % (rc, out, err))
    finally:
        sleeper.kill()
        sleeper.wait()
    rc, _, err, _ = with_fake(lambda r: {"version": 1, "ok": False,
                                         "error": "no"}, "stop")
    check(rc == 1 and "no" in err, "refused stop: %d %r" % (rc, err))


def test_fake_reload_and_lookup():
    rc, out, _, reqs = with_fake(lambda r: {"version": 1, "ok": True},
                                 "reload")
    check(rc == 0 and out == "reloaded\n", "reload: %d %r" % (rc, out))
    check(reqs == [{"version": 1, "command": "reload"}], "sent %r" % reqs)
    rc, _, err, _ = with_fake(lambda r: {"version": 1, "ok": False,
                                         "error": "x.conf:3: bad"}, "reload")
    check(rc == 1 and "x.conf:3: bad" in err, "reload: %d %r" % (rc, err))
    at = "AT Riley +0.1 a\"b +1+1 1.0"
    rc, out, _, reqs = with_fake(
        lambda r: {"version": 1, "ok": True, "found": True, "line": at},
        "lookup", "Riley", 'a"b')
    check(rc == 0 and out == at + "\n", "lookup: %d %r" % (rc, out))
    check(reqs == [{"version": 1, "command": "lookup", "member": "Riley",
                    "client": 'a"b'}], "sent %r" % reqs)
    rc, out, err, _ = with_fake(
        lambda r: {"version": 1, "ok": True, "found": False},
        "lookup", "Riley", "x")
    check(rc == 1 and out == "", "not found: %d %r" % (rc, err))


if __name__ == "__main__":
    run_tests(dict(globals()))
