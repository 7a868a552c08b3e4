"""Smoke run of herdbench against a real herdd (make check).

Tiny durations; asserts only that every reply herdbench checked was right
and that its summary line is well formed, never a speed.
"""

import os
import subprocess

from herdtest import HERDD, Herd, check, run_tests

HERDBENCH = os.environ.get("HERDBENCH") or os.path.join(
    os.path.dirname(os.path.abspath(HERDD)), "bench", "herdbench")


def herdbench(*args, timeout=60):
    """Runs herdbench; returns its RESULT fields (and the whole output)."""
    proc = subprocess.run([HERDBENCH] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=timeout)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    check(lines, "no RESULT line; stderr: %s" % proc.stderr[-500:])
    result = dict(kv.split("=", 1) for kv in lines[-1].split()[1:])
    result["exit"] = proc.returncode
    result["output"] = proc.stdout
    return result


def check_clean(r):
    check(r["errors"] == "0" and r["exit"] == 0,
          "herdbench saw errors:\n%s" % r["output"])


def test_iamat_pipelined_every_reply_verified():
    h = Herd(workers=2, herd={"log_io": "no"}).start()
    r = herdbench("iamat", "-p", h.ports["Riley"], "-c", 8, "-d", 4,
                  "-t", 0.5, "-w", 0.1, "-T", 2, "-s", "Riley")
    check_clean(r)
    check(int(r["replies"]) > 0 and r["verified"] == "yes", r["output"])


def test_whatsat_reply_framing():
    h = Herd(workers=1).start()
    r = herdbench("whatsat", "-p", h.ports["Riley"], "-c", 4, "-d", 2,
                  "--ids", 3, "-t", 0.3, "-w", 0.1, "-s", "Riley")
    check_clean(r)
    check(int(r["replies"]) > 0, r["output"])


def test_idle_connections_all_answer_afterwards():
    h = Herd(workers=2).start()
    pids = [h.proc.pid] + list(h.workers_of().values())
    r = herdbench("idle", "-p", h.ports["Riley"], "-n", 200, "--settle",
                  0.2, "--pids", ",".join(map(str, pids)))
    check_clean(r)
    check(r["answered"] == "200", r["output"])


def test_propagate_zero_hops():
    h = Herd(workers=1).start()
    port = h.ports["Riley"]
    r = herdbench("propagate", "-p", port, "-P", port, "-n", 20)
    check_clean(r)
    check(r["status"] == "ok" and r["samples"] == "20", r["output"])


def test_refuses_a_remote_target_unless_allowed():
    proc = subprocess.run([HERDBENCH, "iamat", "-H", "192.0.2.1", "-p", "9",
                           "-t", "1"], capture_output=True, text=True,
                          timeout=30)
    check(proc.returncode == 2 and "loopback" in proc.stderr, proc.stderr)


if __name__ == "__main__":
    run_tests(globals())
