"""herdtest - a small harness for black-box tests of the real herdd.

Every test is a function named test_* in the test module; run_tests() runs
them in order and prints TAP, one line per test, so the build's test driver
counts each.  A test gets a fresh Herd per call of herd(); whatever it
started is stopped and reaped when the test ends, pass or fail.  Every wait
polls a condition against a deadline; nothing sleeps blindly.
"""

import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

HERDD = os.environ.get("HERDD", "./herdd")
AT_RE = re.compile(
    rb"^AT (\S+) ([+-]\d+\.\d{9}) (\S+) (\S+) (\S+)$")

_live = []          # Herds started by the running test


class TestFailure(AssertionError):
    pass


class Skip(Exception):
    """Raised by a test that cannot run here (a tool is missing); TAP
    reports it as skipped, never as passed."""


def check(cond, msg="check failed"):
    if not cond:
        raise TestFailure(msg)


def wait_for(cond, timeout=10.0, msg="condition", interval=0.01):
    """Polls cond() until it returns a true value or timeout passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TestFailure("timed out waiting for " + msg)
        time.sleep(interval)


def free_port():
    """A port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def distinct_free_ports(n):
    """n ports that were free a moment ago, no two the same."""
    ports = []
    while len(ports) < n:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def raise_fd_limit(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE,
                           (min(want, hard), hard))


def proc_children(pid):
    """Pids whose parent is pid."""
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(entry))
    return kids


def proc_comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def session_members(sid):
    """Live processes (not zombies) of session sid."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(entry))
    return pids


class Client:
    """A line client with deadlines on every read."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.timeout = timeout

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TestFailure("timed out reading a reply")
        self.sock.settimeout(left)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise TestFailure("connection closed; had %r" % self.buf[:200])
        self.buf += chunk

    def line(self):
        deadline = time.monotonic() + self.timeout
        while b"\n" not in self.buf:
            self._fill(deadline)
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def until(self, marker):
        """Bytes up to and including marker."""
        deadline = time.monotonic() + self.timeout
        while marker not in self.buf:
            self._fill(deadline)
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_to_eof(self):
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TestFailure("timed out waiting for EOF")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                out, self.buf = self.buf, b""
                return out
            self.buf += chunk

    def ask(self, line):
        self.send(line + "\n" if isinstance(line, str) else line + b"\n")
        return self.line()

    def close(self):
        self.sock.close()


def lookup(h, member, client):
    """The AT line member holds for client (asked with WHATSAT), or None."""
    c = Client(h.ports[member], timeout=5)
    try:
        c.send("WHATSAT %s 1 1\n" % client)
        first = c.line()
        if first.startswith(b"? "):
            return None
        c.until(b"\n\n")
        return first
    finally:
        c.close()


def iamat(client, when=None, location="+34.068930-118.445127"):
    if when is None:
        when = "%.9f" % time.time()
    return "IAMAT %s %s %s" % (client, location, when)


class Herd:
    """A herdd process on free ports, with its configuration and logs."""

    def __init__(self, members=("Riley",), workers=2, links=(), herd=None,
                 places=None, classic=None):
        self.dir = tempfile.mkdtemp(prefix="herdtest-")
        ports = distinct_free_ports(2 * len(members))
        self.ports = dict(zip(members, ports))
        self.peer_ports = dict(zip(members, ports[len(members):]))
        self.workers = workers
        self.conf = os.path.join(self.dir, "herd.conf")
        self.proc = None
        self.member_procs = {}      # one herdd per member: start_member()
        self.daemon_pid = None
        classic = dict(classic or {})
        herd = dict(herd or {})
        herd.setdefault("workers", workers)
        herd.setdefault("log_dir", os.path.join(self.dir, "log"))
        herd.setdefault("state_dir", os.path.join(self.dir, "state"))
        herd.setdefault("run_dir", os.path.join(self.dir, "run"))
        neighbours = {m: [] for m in list(members) + list(classic)}
        for a, b in links:
            neighbours[a].append(b)
        with open(self.conf, "w") as f:
            f.write("[herd]\n")
            for k, v in herd.items():
                f.write("%s = %s\n" % (k, v))
            if places:
                f.write("[places]\n")
                for k, v in places.items():
                    f.write("%s = %s\n" % (k, v))
            for m in members:
                f.write("[member %s]\nclient = 127.0.0.1:%d\n"
                        "peer = 127.0.0.1:%d\n"
                        % (m, self.ports[m], self.peer_ports[m]))
                if neighbours[m]:
                    f.write("neighbours = %s\n" % " ".join(neighbours[m]))
            for m, (host, port) in classic.items():
                f.write("[member %s]\nclient = %s:%d\nclassic = yes\n"
                        % (m, host, port))
                if neighbours[m]:
                    f.write("neighbours = %s\n" % " ".join(neighbours[m]))
        _live.append(self)

    def log_path(self, member):
        return os.path.join(self.dir, "log", member + ".log")

    def log_text(self, member):
        try:
            with open(self.log_path(member), "rb") as f:
                return f.read()
        except OSError:
            return b""

    def start(self, args=(), wait=True):
        self.stderr = open(os.path.join(self.dir, "stderr"), "wb")
        self.proc = subprocess.Popen(
            [HERDD, "-f", "-c", self.conf] + list(args),
            stdin=subprocess.DEVNULL, stdout=self.stderr,
            stderr=self.stderr, start_new_session=True)
        if wait:
            for port in self.ports.values():
                wait_for(lambda: self._accepts(port), 10,
                         "herdd to listen on %d" % port)
            wait_for(lambda: len(self.workers_of()) >=
                     self.workers * len(self.ports), 10, "workers to start")
            wait_for(lambda: len(self.kids_of("fl")) >= len(self.ports), 10,
                     "flooders to start")
        return self

    def _accepts(self, port):
        check(self.proc.poll() is None,
              "herdd exited: %s" % self.stderr_text())
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    def stderr_text(self):
        with open(os.path.join(self.dir, "stderr"), "rb") as f:
            return f.read().decode(errors="replace")

    def kids_of(self, role, member=None):
        """{comm: pid} of live processes of a role ("w" or "fl")."""
        out = {}
        pat = re.compile(r"^herd-(w\d+|fl)-(.*)$")
        for pid in proc_children(self.proc.pid):
            m = pat.match(proc_comm(pid) or "")
            if not m or not m.group(1).startswith(role):
                continue
            if role == "fl" and m.group(1) != "fl":
                continue
            if member is None or member.startswith(m.group(2)):
                out[m.group(0)] = pid
        return out

    def workers_of(self, member=None):
        return self.kids_of("w", member)

    def flooder_of(self, member):
        pids = list(self.kids_of("fl", member).values())
        return pids[0] if pids else None

    def client(self, member=None, timeout=10.0):
        member = member or next(iter(self.ports))
        return Client(self.ports[member], timeout)

    def find_daemon(self):
        """Pid of a detached herdd running our configuration."""
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or proc_comm(int(entry)) != "herdd":
                continue
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as f:
                    if self.conf.encode() + b"\0" in f.read():
                        return int(entry)
            except OSError:
                continue
        return None

    def _stop_daemon(self, timeout):
        pid, self.daemon_pid = self.daemon_pid, None
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while session_members(pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        left = session_members(pid)
        for p in left:
            os.kill(p, signal.SIGKILL)
        check(not left, "daemon processes left after stop: %r" % left)
        return 0

    def start_member(self, member, wait=True):
        """Runs member in a herdd of its own (herdd -m member)."""
        err = open(os.path.join(self.dir, "stderr-" + member), "ab")
        # The same herd, but a control socket of its own: one herdd per
        # host is the rule, and here every member's herdd shares a host.
        conf = os.path.join(self.dir, "herd-%s.conf" % member)
        with open(self.conf) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write(text.replace("[herd]\n", "[herd]\ncontrol_socket = %s\n"
                                 % os.path.join(self.dir, member + ".sock"),
                                 1))
        proc = subprocess.Popen(
            [HERDD, "-f", "-c", conf, "-m", member],
            stdin=subprocess.DEVNULL, stdout=err, stderr=err,
            start_new_session=True)
        self.member_procs[member] = proc
        if wait:
            port = self.ports[member]
            wait_for(lambda: proc.poll() is None and self._can_connect(port),
                     10, "%s to listen" % member)
            wait_for(lambda: self._kid_count(proc.pid) >= self.workers + 1,
                     10, "%s's workers and flooder" % member)
        return proc

    @staticmethod
    def kid_pids(pid):
        """[(comm, pid)] of herd processes whose parent is pid."""
        out = []
        for k in proc_children(pid):
            comm = proc_comm(k) or ""
            if comm.startswith("herd-"):
                out.append((comm, k))
        return out

    def _kid_count(self, pid):
        return sum(1 for k in proc_children(pid)
                   if (proc_comm(k) or "").startswith("herd-"))

    @staticmethod
    def _can_connect(port):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    def kill_member(self, member):
        """SIGKILLs the member's herdd and every process of it."""
        proc = self.member_procs.pop(member)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        wait_for(lambda: not session_members(proc.pid), 10,
                 "%s's processes to die" % member)

    @staticmethod
    def _stop_proc(proc, timeout):
        sid = proc.pid
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            status = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(sid, signal.SIGKILL)
            proc.wait()
            raise TestFailure("herdd did not stop within %ss" % timeout)
        deadline = time.monotonic() + 5
        while session_members(sid) and time.monotonic() < deadline:
            time.sleep(0.01)
        left = session_members(sid)
        if left:
            for pid in left:
                os.kill(pid, signal.SIGKILL)
            raise TestFailure("processes left after stop: %r" % left)
        return status

    def stop(self, timeout=15.0):
        """SIGTERM, wait, and prove nothing of ours is left running."""
        if self.daemon_pid is not None:
            return self._stop_daemon(timeout)
        status = None
        while self.member_procs:
            _, proc = self.member_procs.popitem()
            status = self._stop_proc(proc, timeout) or status
        if self.proc is not None:
            proc, self.proc = self.proc, None
            status = self._stop_proc(proc, timeout)
        return status

    def kill(self):
        for proc in self.member_procs.values():
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        self.member_procs = {}
        if self.daemon_pid is not None:
            for p in session_members(self.daemon_pid):
                os.kill(p, signal.SIGKILL)
            self.daemon_pid = None
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.proc = None


def _remove_dir(d, keep):
    """Removes a test's directory; a failed test's stays for the post
    mortem, but without its tables (each reserves its whole size)."""
    if not keep:
        shutil.rmtree(d, ignore_errors=True)
        return
    for root, _, files in os.walk(d):
        for name in files:
            if name.endswith(".table"):
                os.unlink(os.path.join(root, name))
    print("# kept %s" % d, flush=True)


def _cleanup(keep_dirs=False):
    """Stops whatever the test started, then removes its directories."""
    failures = []
    while _live:
        h = _live.pop()
        try:
            h.stop()
        except Exception as e:  # noqa: BLE001 - report, keep cleaning
            failures.append(str(e))
            h.kill()
        if getattr(h, "dir", None):
            _remove_dir(h.dir, keep_dirs or bool(failures))
    return failures


def run_tests(namespace):
    """Runs every test_* function in namespace; prints TAP; exits."""
    raise_fd_limit(8192)
    tests = [(n, f) for n, f in namespace.items()
             if n.startswith("test_") and callable(f)]
    only = os.environ.get("HERDTEST_ONLY")
    if only:
        tests = [(n, f) for n, f in tests if only in n]
    print("1..%d" % len(tests), flush=True)
    failed = 0
    for i, (name, fn) in enumerate(tests, 1):
        started = time.monotonic()
        error, skip = None, None
        try:
            fn()
        except Skip as e:
            skip = str(e)
        except Exception:  # noqa: BLE001 - any error fails the test
            error = traceback.format_exc()
        leftovers = _cleanup(keep_dirs=error is not None)
        if error is None and leftovers:
            error = "cleanup: " + "; ".join(leftovers)
        took = time.monotonic() - started
        if skip is not None:
            print("ok %d - %s # SKIP %s" % (i, name, skip), flush=True)
        elif error is None:
            print("ok %d - %s (%.1fs)" % (i, name, took), flush=True)
        else:
            failed += 1
            print("not ok %d - %s (%.1fs)" % (i, name, took), flush=True)
            for line in error.rstrip().splitlines():
                print("# " + line, flush=True)
    sys.exit(1 if failed else 0)
