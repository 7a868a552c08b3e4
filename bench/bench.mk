# bench/bench.mk - herd's benchmark suite (included from Makefile.am).
#
# The benchmark programs are not built by default: `make bench` builds
# them (with herdd) and runs the quick matrix, which writes
# bench/results/REPORT.md.  The full matrix is `bench/run` (about 5 min).
# `make check` builds herdbench and runs a short smoke run of it against a
# real herdd (bench/smoke.py), asserting correctness only, never speed.
#
# Makefile.am must set `EXTRA_PROGRAMS =` before including this file, and
# include it after TESTS and check_PROGRAMS are defined.

EXTRA_PROGRAMS += bench/herdbench bench/ceiling bench/tablebench
CLEANFILES += bench/herdbench bench/ceiling bench/tablebench

bench_herdbench_SOURCES = bench/herdbench.c
bench_herdbench_CFLAGS = $(AM_CFLAGS) -pthread
bench_herdbench_LDFLAGS = $(AM_LDFLAGS) -pthread

bench_ceiling_SOURCES = bench/ceiling.c
bench_ceiling_CFLAGS = $(AM_CFLAGS)

bench_tablebench_SOURCES = bench/tablebench.c
bench_tablebench_CFLAGS = $(AM_CFLAGS)
bench_tablebench_LDADD = $(HERD_LIBS)

TESTS += bench/smoke.py
# Not a check program (TESTS would run it bare): the smoke test needs it.
bench/smoke.log: bench/herdbench

EXTRA_DIST += bench/run bench/smoke.py bench/reference/server.py bench/README.md \
	bench/results/REPORT.md

BENCH_BINARIES = bench/herdbench bench/ceiling bench/tablebench herdd

.PHONY: bench bench-full
bench: $(BENCH_BINARIES)
	$(srcdir)/bench/run --quick --build-dir $(abs_builddir)
bench-full: $(BENCH_BINARIES)
	$(srcdir)/bench/run --build-dir $(abs_builddir)
