"""Locations survive restarts: snapshots in the state directory."""

import os
import signal

from herdtest import (AT_RE, Client, Herd, check, iamat, run_tests,
                      wait_for)


def ask(h, member, line):
    c = Client(h.ports[member])
    try:
        return c.ask(line)
    finally:
        c.close()


def lookup(h, member, client):
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


def snap_path(h, member):
    return os.path.join(h.dir, "state", member + ".snap")


def test_restart_keeps_every_location():
    h = Herd(herd={"snapshot_interval": 0}).start()
    stored = {"keep%d" % i: ask(h, "Riley", iamat("keep%d" % i))
              for i in range(200)}
    check(h.stop() == 0, "stop failed")
    check(os.path.getsize(snap_path(h, "Riley")) > 0, "no snapshot at stop")
    h.start()
    for client, line in stored.items():
        check(lookup(h, "Riley", client) == line, "%s lost" % client)
    check(b"loaded 200 locations" in h.log_text("Riley"), "not logged")


def test_periodic_snapshot_survives_kill_9():
    h = Herd(herd={"snapshot_interval": 1}).start()
    line = ask(h, "Riley", iamat("periodic"))
    wait_for(lambda: b"saved 1 locations" in h.log_text("Riley"), 10,
             "a periodic snapshot")
    os.killpg(h.proc.pid, signal.SIGKILL)
    h.proc.wait()
    h.proc = None
    h.start()
    check(lookup(h, "Riley", "periodic") == line, "lost after kill -9")


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
