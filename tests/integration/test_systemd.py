"""The systemd side: the generated unit passes systemd-analyze, herdd
speaks the sd_notify protocol to a fake NOTIFY_SOCKET, and the man pages
are mandoc -Tlint clean.  A test whose tool is missing is skipped
("ok N - name # SKIP ...")."""

import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

import herdtest
from herdtest import HERDD, Herd, Skip, TestFailure, check

BUILDDIR = os.environ.get("HERD_BUILDDIR", ".")
UNIT = os.environ.get("HERD_UNIT", os.path.join(BUILDDIR, "etc/herd.service"))
MANS = os.environ.get("HERD_MANS",
                      "man/herdd.8 man/herd.conf.5 man/herdctl.8").split()


def need(tool):
    path = shutil.which(tool)
    if path is None:
        raise Skip("%s is not installed" % tool)
    return path


def read(path):
    with open(path) as f:
        return f.read()


# --- the unit --------------------------------------------------------------

def unit_for_verify(tmp):
    """The generated unit, its programs pointed at the built ones (the
    installed paths do not exist yet, and verify checks them)."""
    text = read(UNIT)
    text = re.sub(r"(?m)(=[-@:+!]*)/\S*/herdd\b",
                  r"\g<1>" + os.path.abspath(HERDD), text)
    text = re.sub(r"(?m)(=[-@:+!]*)/\S*/herdctl\b",
                  r"\g<1>" + os.path.abspath(
                      os.path.join(BUILDDIR, "herdctl")), text)
    path = os.path.join(tmp, "herd.service")
    with open(path, "w") as f:
        f.write(text)
    return path


def unit_settings():
    settings = {}
    for line in read(UNIT).splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_unit_contents():
    text = read(UNIT)
    check("@" not in re.sub(r"(?m)^#.*$", "", text).replace(
        "@system-service", ""), "unsubstituted @...@ in the unit")
    s = unit_settings()
    want = {"Type": "notify", "NotifyAccess": "main",
            "Restart": "on-failure", "KillMode": "mixed",
            "NoNewPrivileges": "yes", "ProtectSystem": "strict",
            "ProtectHome": "yes", "PrivateTmp": "yes",
            "RuntimeDirectory": "herd", "StateDirectory": "herd",
            "LogsDirectory": "herd"}
    for key, value in want.items():
        check(s.get(key) == [value], "%s=%r, want %s" % (key, s.get(key),
                                                        value))
    start, = s["ExecStart"]
    check(re.match(r"^/\S+/herdd -f -c /\S+/herd/herd\.conf$", start),
          "ExecStart=" + start)
    check(re.match(r"^/\S+/herdd -t -c ", s["ExecStartPre"][0]),
          "ExecStartPre=%r" % s["ExecStartPre"])
    check(re.match(r"^/\S+/herdctl -c /\S+ reload$", s["ExecReload"][0]),
          "ExecReload=%r" % s["ExecReload"])
    check(int(s["WatchdogSec"][0]) > 0, "WatchdogSec")
    caps = s["CapabilityBoundingSet"][0].split()
    check("CAP_KILL" in caps and "CAP_NET_BIND_SERVICE" in caps,
          "CapabilityBoundingSet %r" % caps)


def test_unit_verify():
    tool = need("systemd-analyze")
    tmp = tempfile.mkdtemp(prefix="herd-unit-")
    try:
        path = unit_for_verify(tmp)
        p = subprocess.run([tool, "verify", "--man=no", path],
                           capture_output=True, timeout=120)
        out = (p.stdout + p.stderr).decode(errors="replace")
        ours = [l for l in out.splitlines() if "herd" in l]
        check(p.returncode == 0 and not ours,
              "systemd-analyze verify: %d\n%s" % (p.returncode, out))
    finally:
        shutil.rmtree(tmp)


def test_unit_exposure():
    tool = need("systemd-analyze")
    tmp = tempfile.mkdtemp(prefix="herd-unit-")
    try:
        path = unit_for_verify(tmp)
        p = subprocess.run([tool, "security", "--offline=yes", path],
                           capture_output=True, timeout=120)
        out = (p.stdout + p.stderr).decode(errors="replace")
        if "--offline" in out and "unrecognized" in out:
            raise Skip("this systemd-analyze has no --offline")
        m = re.search(r"Overall exposure level for herd\.service: "
                      r"([0-9.]+)", out)
        check(m is not None, "no exposure level:\n" + out)
        check(float(m.group(1)) <= 4.0, "exposure %s (want <= 4.0):\n%s"
              % (m.group(1), out))
    finally:
        shutil.rmtree(tmp)


# --- sd_notify -------------------------------------------------------------

class Notify:
    """A fake NOTIFY_SOCKET that records each datagram and its sender."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(self.path)
        self.messages = []      # (monotonic time, sender pid, {key: value})

    def _receive(self, timeout):
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data, anc, _, _ = self.sock.recvmsg(
                4096, socket.CMSG_SPACE(struct.calcsize("3i")))
        except socket.timeout:
            return None
        pid = None
        for level, kind, cdata in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("3i", cdata[:12])[0]
        fields = dict(l.split("=", 1) for l in data.decode().splitlines()
                      if "=" in l)
        msg = (time.monotonic(), pid, fields)
        self.messages.append(msg)
        return msg

    def wait(self, key, value="1", timeout=10.0, since=0):
        """The first message (from index since on) with key=value."""
        deadline = time.monotonic() + timeout
        i = since
        while True:
            while i < len(self.messages):
                if self.messages[i][2].get(key) == value:
                    return i
                i += 1
            left = deadline - time.monotonic()
            if left <= 0:
                raise TestFailure("no %s=%s within %ss; got %r" % (
                    key, value, timeout, [m[2] for m in self.messages]))
            self._receive(left)

    def close(self):
        self.sock.close()


def start_notified(h, notify, watchdog_usec=None):
    env = dict(os.environ, NOTIFY_SOCKET=notify.path)
    if watchdog_usec:
        env["WATCHDOG_USEC"] = str(watchdog_usec)
    h.stderr = open(os.path.join(h.dir, "stderr"), "wb")
    h.proc = subprocess.Popen([HERDD, "-f", "-c", h.conf],
                              stdin=subprocess.DEVNULL, stdout=h.stderr,
                              stderr=h.stderr, env=env,
                              start_new_session=True)
    return h.proc


def test_notify_lifecycle():
    h = Herd(members=("Riley", "Jaquez"), links=[("Riley", "Jaquez")],
             workers=2)
    notify = Notify(h.dir)
    try:
        proc = start_notified(h, notify, watchdog_usec=2000000)
        started = time.monotonic()
        ready = notify.wait("READY")
        _, pid, fields = notify.messages[ready]
        # Ready means ready: listening, every worker and flooder started.
        for port in h.ports.values():
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        # Forked, that is: each child names itself just after the fork.
        kids = herdtest.proc_children(proc.pid)
        check(len(kids) >= 6, "READY=1 before the workers and flooders "
              "were forked: %r" % kids)
        herdtest.wait_for(lambda: len(h.workers_of()) == 4 and
                          h.flooder_of("Riley") and h.flooder_of("Jaquez"),
                          timeout=5, msg="the 4 workers and 2 flooders")
        check(fields.get("STATUS"), "READY=1 without STATUS=: %r" % fields)

        dog = notify.wait("WATCHDOG", timeout=2.5)
        check(notify.messages[dog][0] - started <= 2.5, "WATCHDOG late")
        second = notify.wait("WATCHDOG", since=dog + 1, timeout=2.5)
        gap = notify.messages[second][0] - notify.messages[dog][0]
        check(gap < 1.9, "WATCHDOG=1 only every %.1fs for a 2s watchdog"
              % gap)

        mark = len(notify.messages)
        proc.send_signal(signal.SIGHUP)
        reloading = notify.wait("RELOADING", since=mark)
        ready = notify.wait("READY", since=reloading + 1)

        with open(h.conf, "a") as f:
            f.write("nonsense\n")
        mark = len(notify.messages)
        proc.send_signal(signal.SIGHUP)
        reloading = notify.wait("RELOADING", since=mark)
        notify.wait("READY", since=reloading + 1)
        check(proc.poll() is None, "a refused reload stopped herdd")

        mark = len(notify.messages)
        proc.send_signal(signal.SIGTERM)
        notify.wait("STOPPING", since=mark)
        check(proc.wait(20) == 0, "herdd's exit status after SIGTERM")
        senders = {m[1] for m in notify.messages}
        check(senders == {proc.pid}, "messages from %r, not only herdd "
              "(%d): NotifyAccess=main would drop them" % (senders,
                                                            proc.pid))
    finally:
        notify.close()


def test_notify_herdctl_reload():
    h = Herd(workers=1)
    notify = Notify(h.dir)
    try:
        start_notified(h, notify)
        notify.wait("READY")
        mark = len(notify.messages)
        p = subprocess.run([os.path.join(BUILDDIR, "herdctl"), "-c", h.conf,
                            "reload"], capture_output=True, timeout=60)
        check(p.returncode == 0, "herdctl reload: %r" % p.stderr)
        reloading = notify.wait("RELOADING", since=mark)
        notify.wait("READY", since=reloading + 1)
        check(not any("WATCHDOG" in m[2] for m in notify.messages),
              "WATCHDOG=1 without WATCHDOG_USEC")
    finally:
        notify.close()


def test_no_notify_socket():
    """Without NOTIFY_SOCKET herdd runs as ever (sd_notify is a no-op)."""
    h = Herd(workers=1).start()
    h.client().close()


# --- man pages -------------------------------------------------------------

def test_man_pages_lint():
    tool = need("mandoc")
    pages = [p if os.path.isabs(p) else os.path.join(BUILDDIR, p)
             for p in MANS]
    check(pages, "no man pages given")
    bad = []
    for page in pages:
        text = read(page)
        leftover = re.findall(r"@[a-z_]+@", text)
        if leftover:
            bad.append("%s: unsubstituted %s" % (page, leftover))
        p = subprocess.run([tool, "-Tlint", "-W", "warning", page],
                           capture_output=True, timeout=60)
        out = (p.stdout + p.stderr).decode(errors="replace").strip()
        if p.returncode != 0 or out:
            bad.append("%s: status %d\n%s" % (page, p.returncode, out))
    check(not bad, "\n".join(bad))


if __name__ == "__main__":
    herdtest.run_tests(globals())
