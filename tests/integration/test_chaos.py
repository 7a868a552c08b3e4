"""Chaos: the 2021 herd under load while its processes are killed.

Several clients send IAMATs to random members while a chaos loop
SIGKILLs random workers, flooders and whole members (restarting the
latter). Then the chaos stops and every IAMAT that got an AT reply must
be stored, with that very line, on all five members. Runs
HERD_CHAOS_SECONDS (default 8) of chaos.
"""

import os
import random
import signal
import threading
import time

from herdtest import (AT_RE, Client, Herd, TestFailure, check, iamat,
                      run_tests, wait_for)

MEMBERS = ("Riley", "Jaquez", "Juzang", "Campbell", "Bernard")
LINKS = (("Riley", "Jaquez"), ("Riley", "Juzang"), ("Bernard", "Jaquez"),
         ("Bernard", "Juzang"), ("Bernard", "Campbell"),
         ("Juzang", "Campbell"))
CHAOS_SECONDS = float(os.environ.get("HERD_CHAOS_SECONDS", "8"))


def load(h, n, acked, stop):
    rng = random.Random(n)
    i = 0
    while not stop.is_set():
        member = rng.choice(MEMBERS)
        try:
            c = Client(h.ports[member], timeout=3)
            for _ in range(20):
                i += 1
                name = "chaos%d.%d" % (n, i)
                line = c.ask(iamat(name))
                if AT_RE.match(line):
                    acked[name] = line
            c.close()
        except (OSError, TestFailure):
            time.sleep(0.01)    # that member is down or restarting


def kill_one(h, rng, down):
    """SIGKILLs a random worker, flooder or whole member."""
    member = rng.choice(MEMBERS)
    proc = h.member_procs.get(member)
    if proc is None:
        return
    what = rng.choice(("worker", "flooder", "member"))
    if what == "member" and not down:
        h.kill_member(member)
        down[member] = time.monotonic() + rng.uniform(0.2, 1.0)
        return
    kids = [k for k in Herd.kid_pids(proc.pid)
            if (what == "flooder") == k[0].startswith("herd-fl")]
    if kids:
        try:
            os.kill(rng.choice(kids)[1], signal.SIGKILL)
        except ProcessLookupError:
            pass


def chaos(h, seconds, seed):
    rng = random.Random(seed)
    down = {}
    kills = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for member, when in list(down.items()):
            if time.monotonic() >= when:
                h.start_member(member)
                del down[member]
        kill_one(h, rng, down)
        kills += 1
        time.sleep(rng.uniform(0.2, 0.6))
    for member in list(down):
        h.start_member(member)
    return kills


def missing_on(h, member, expected):
    """The clients whose stored line on member is not the expected one."""
    missing = []
    names = list(expected)
    try:
        c = Client(h.ports[member], timeout=10)
        for start in range(0, len(names), 500):
            batch = names[start:start + 500]
            c.send("".join("WHATSAT %s 1 1\n" % n for n in batch))
            for name in batch:
                first = c.line()
                if not first.startswith(b"? "):
                    c.until(b"\n\n")
                if first != expected[name]:
                    missing.append(name)
        c.close()
    except (OSError, TestFailure):
        return names        # not answering yet: try again
    return missing


def test_chaos_loses_no_acknowledged_update():
    h = Herd(members=MEMBERS, links=LINKS, workers=2,
             herd={"log_io": "no", "respawn_budget": 1000,
                   "snapshot_interval": 0})
    for m in MEMBERS:
        h.start_member(m)
    acked, stop = {}, threading.Event()
    clients = [threading.Thread(target=load, args=(h, n, acked, stop))
               for n in range(3)]
    for t in clients:
        t.start()
    try:
        kills = chaos(h, CHAOS_SECONDS, seed=int(time.time()))
    finally:
        stop.set()
        for t in clients:
            t.join(30)
    check(len(acked) > 100, "too little load got through: %d" % len(acked))
    pending = dict(acked)
    deadline = time.monotonic() + 90
    while pending and time.monotonic() < deadline:
        still = set()
        for m in MEMBERS:       # missing on any member: look again
            still.update(missing_on(h, m, pending))
        pending = {n: pending[n] for n in still}
        if pending:
            time.sleep(0.2)
    check(not pending, "%d of %d acknowledged updates are missing somewhere,"
          " e.g. %r" % (len(pending), len(acked),
                        next(iter(pending.items()), None)))
    print("# %d acknowledged updates, %d kills, all on all five members"
          % (len(acked), kills))


if __name__ == "__main__":
    run_tests(globals())
