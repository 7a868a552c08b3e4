"""valgrind finds no error and no leak in any herdd process on a clean stop.

Skipped (reported as such) in a sanitizer build, where valgrind cannot
run, and where valgrind is not installed.
"""

import glob
import os
import re
import shutil
import subprocess

import herdtest
from herdtest import (AT_RE, Client, Herd, Skip, check, iamat, run_tests,
                      wait_for)


def skip_reason():
    if os.environ.get("HERD_SANITIZERS") == "yes":
        return "sanitizer build"
    if shutil.which("valgrind") is None:
        return "valgrind not installed"
    return None


def test_no_leak_or_error_in_any_process_on_clean_stop():
    why = skip_reason()
    if why:
        raise Skip(why)
    h = Herd(members=("Riley", "Jaquez"), links=(("Riley", "Jaquez"),),
             workers=2, places={"provider": "file", "file": os.path.join(
                 os.path.abspath(os.environ.get("HERD_SRCDIR", ".")),
                 "etc/places-demo.json")})
    logs = os.path.join(h.dir, "vg.%p")
    wrapper = os.path.join(h.dir, "herdd-vg")
    with open(wrapper, "w") as f:
        # herdd may run on jemalloc: memcheck must replace its malloc too.
        f.write("#!/bin/sh\nexec valgrind -q --trace-children=yes "
                "--soname-synonyms=somalloc=*jemalloc* "
                "--leak-check=full --show-leak-kinds=definite,indirect "
                "--errors-for-leak-kinds=definite,indirect "
                "--log-file=%s %s \"$@\"\n" % (logs, herdtest.HERDD))
    os.chmod(wrapper, 0o755)
    saved, herdtest.HERDD = herdtest.HERDD, wrapper
    try:
        h.start()
    finally:
        herdtest.HERDD = saved
    c = Client(h.ports["Riley"], timeout=30)
    line = c.ask(iamat("vg.client"))
    check(AT_RE.match(line), line)
    c.send("WHATSAT vg.client 2 3\n")
    check(b'"status" : "OK"' in c.until(b"\n\n"), "WHATSAT failed")
    c.send("garbage line\n" + "x" * 5000 + "\n")
    c.line()
    c.line()
    c.close()
    wait_for(lambda: Client(h.ports["Jaquez"], 30).ask(
        "WHATSAT vg.client 1 1").startswith(b"AT Riley "), 30, "the flood")
    check(h.stop(timeout=60) == 0, "herdd did not stop cleanly")
    reports = glob.glob(os.path.join(h.dir, "vg.*"))
    check(len(reports) >= 7, "valgrind saw only %d processes" % len(reports))
    for path in reports:
        with open(path, errors="replace") as f:
            text = f.read()
        check(not re.search(r"are (definitely|indirectly) lost|"
                            r"(definitely|indirectly) lost: [1-9]|Invalid |"
                            r"uninitialised|ERROR SUMMARY: [1-9]", text),
              "%s:\n%s" % (path, text[:3000]))


if __name__ == "__main__":
    run_tests(globals())
