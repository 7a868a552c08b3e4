"""Locations survive restarts: snapshots in the state directory."""

import os
import shutil
import signal
import subprocess
import tempfile

from herdtest import (AT_RE, HERDD, Client, Herd, Skip, check, iamat, lookup,
                      run_tests, wait_for)


def ask(h, member, line):
    c = Client(h.ports[member])
    try:
        return c.ask(line)
    finally:
        c.close()


def snap_path(h, member):
    return os.path.join(h.dir, "state", member + ".snap")


def reboot(h):
    """What a host restart does to herd: the table files (tmpfs) are gone."""
    for name in os.listdir(os.path.join(h.dir, "run")):
        if name.endswith(".table"):
            os.unlink(os.path.join(h.dir, "run", name))


def kill_9(h):
    os.killpg(h.proc.pid, signal.SIGKILL)
    h.proc.wait()
    h.proc = None


def test_restart_keeps_every_location():
    h = Herd(herd={"snapshot_interval": 0}).start()
    stored = {"keep%d" % i: ask(h, "Riley", iamat("keep%d" % i))
              for i in range(200)}
    check(h.stop() == 0, "stop failed")
    h.start()
    for client, line in stored.items():
        check(lookup(h, "Riley", client) == line, "%s lost" % client)
    check(b"as the last herdd left it: 200 locations" in
          h.log_text("Riley"), "table not found again")


def test_kill_9_of_everything_loses_no_acknowledged_location():
    h = Herd(herd={"snapshot_interval": 0}).start()
    stored = {"k9.%d" % i: ask(h, "Riley", iamat("k9.%d" % i))
              for i in range(300)}
    kill_9(h)           # supervisor and children, no snapshot at all
    h.start()
    for client, line in stored.items():
        check(lookup(h, "Riley", client) == line, "%s lost" % client)


def test_host_restart_loads_the_snapshot_written_at_stop():
    h = Herd(herd={"snapshot_interval": 0}).start()
    stored = {"boot%d" % i: ask(h, "Riley", iamat("boot%d" % i))
              for i in range(200)}
    check(h.stop() == 0, "stop failed")
    check(os.path.getsize(snap_path(h, "Riley")) > 0, "no snapshot at stop")
    reboot(h)
    h.start()
    for client, line in stored.items():
        check(lookup(h, "Riley", client) == line, "%s lost" % client)
    check(b"loaded 200 locations" in h.log_text("Riley"), "not logged")


def test_periodic_snapshot_survives_a_crash_and_reboot():
    h = Herd(herd={"snapshot_interval": 1}).start()
    line = ask(h, "Riley", iamat("periodic"))
    wait_for(lambda: b"saved 1 locations" in h.log_text("Riley"), 10,
             "a periodic snapshot")
    kill_9(h)
    reboot(h)
    h.start()
    check(lookup(h, "Riley", "periodic") == line, "lost")


def test_second_herdd_cannot_take_a_running_member():
    h = Herd().start()
    other = Herd()
    with open(h.conf) as f:
        text = f.read()
    with open(other.conf, "w") as f:     # same member, same table file,
        f.write(text.replace("control_socket", "x_unused")   # other socket
                .replace("[herd]\n", "[herd]\ncontrol_socket = %s\n"
                         % os.path.join(other.dir, "c.sock"), 1))
    other.start(wait=False)
    status = other.proc.wait(10)
    other.proc = None
    check(status != 0, "a second herdd started the same member")
    check("another herdd runs this member" in other.stderr_text(),
          other.stderr_text())
    check(AT_RE.match(ask(h, "Riley", iamat("still.mine"))), "first hurt")


def _mapping_kib(pid, path):
    """(Size, Rss) in KiB of pid's mapping of path, from smaps."""
    size = rss = 0
    inside = False
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            fields = line.split()
            if "-" in fields[0] and len(fields) >= 5:     # a new mapping
                inside = fields[-1] == path
            elif inside and fields[0] in ("Size:", "Rss:"):
                if fields[0] == "Size:":
                    size += int(fields[1])
                else:
                    rss += int(fields[1])
    return size, rss


def test_table_dir_is_created_and_holds_the_table():
    parent = tempfile.mkdtemp(prefix="herdtest-tables-")
    try:
        tables = os.path.join(parent, "tables")
        h = Herd(herd={"table_dir": tables}).start()
        check(AT_RE.match(ask(h, "Riley", iamat("kept.here"))), "no reply")
        table = os.path.join(tables, "Riley.table")
        check(os.path.isfile(table), "no table in %s" % tables)
        st = os.stat(table)
        check(st.st_blocks * 512 >= st.st_size,
              "table storage not reserved: %d of %d bytes"
              % (st.st_blocks * 512, st.st_size))
        # Every worker maps all of it before serving (no page faults
        # later), though one IAMAT touched only a page or two.
        for pid in h.workers_of().values():
            size, rss = _mapping_kib(pid, table)
            check(size > 0 and rss == size,
                  "worker %d maps %d of the table's %d KiB" % (pid, rss,
                                                                size))
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def _small_tmpfs_command(where):
    """An unshare prefix under which a 1 MiB tmpfs is mounted on where
    (a mount namespace of its own, gone with its last process)."""
    if shutil.which("unshare") is None:
        raise Skip("unshare(1) is missing")
    mount = "mount -t tmpfs -o size=1m tmpfs %s" % where
    for flags in ("-m", "-Urm"):
        probe = subprocess.run(["unshare", flags, "sh", "-c", mount],
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=10)
        if probe.returncode == 0:
            return ["unshare", flags, "sh", "-c", mount + ' && exec "$@"',
                    "sh"]
    raise Skip("cannot mount a tmpfs here (needs root or user namespaces)")


def test_table_that_does_not_fit_fails_at_start_not_later():
    # On a shared mapping a full file system shows only as SIGBUS, in
    # whichever process first writes to the page: herdd must find out at
    # start, while it can still say so.
    h = Herd(herd={"table_capacity": 100000})
    tables = os.path.join(h.dir, "run")
    os.makedirs(tables, exist_ok=True)
    argv = _small_tmpfs_command(tables) + [HERDD, "-f", "-c", h.conf]
    with open(os.path.join(h.dir, "stderr"), "wb") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err,
                                stderr=err, start_new_session=True)
    try:
        status = proc.wait(15)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = h.stderr_text()
    check(status != 0, "herdd started with a table that does not fit")
    check("Riley.table" in text and "No space left on device" in text, text)


def _corrupt(path, how):
    with open(path, "r+b") as f:
        data = f.read()
        if how == "flip":
            f.seek(len(data) // 2)
            f.write(bytes([data[len(data) // 2] ^ 0xff]))
        else:
            f.truncate(len(data) // 2)


def _corrupt_then_resync(how):
    h = Herd(members=("Riley", "Jaquez"), links=(("Riley", "Jaquez"),),
             herd={"snapshot_interval": 0})
    h.start_member("Riley")
    h.start_member("Jaquez")
    line = ask(h, "Riley", iamat("taught"))
    wait_for(lambda: lookup(h, "Jaquez", "taught") == line, 10, "flood")
    h.stop()
    _corrupt(snap_path(h, "Riley"), how)
    reboot(h)
    h.start_member("Jaquez")
    h.start_member("Riley")
    log = h.log_text("Riley")
    check(b"not using the snapshot" in log and b"corrupt" in log,
          "corruption not reported")
    check(os.path.exists(snap_path(h, "Riley") + ".corrupt"), "not kept aside")
    wait_for(lambda: lookup(h, "Riley", "taught") == line, 15,
             "Riley to be taught by Jaquez")


def test_corrupt_snapshot_starts_clean_and_resyncs():
    _corrupt_then_resync("flip")


def test_truncated_snapshot_starts_clean_and_resyncs():
    _corrupt_then_resync("truncate")


if __name__ == "__main__":
    run_tests(globals())
