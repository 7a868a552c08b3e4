# tests/fuzz/fuzz.mk - libFuzzer targets for herd's parsers.  Include it
# from Makefile.am after EXTRA_DIST and CLEANFILES are first set:
#
#   include tests/fuzz/fuzz.mk
#
# `make fuzz` builds every target with clang (-fsanitize=fuzzer,address,
# undefined; the library sources are compiled into each target, not taken
# from the gcc-built libherd.a) into tests/fuzz/bin/, then runs each one
# with tests/fuzz/run for $FUZZ_SECONDS (default 60) on a copy of its seed
# corpus.  Findings go to tests/fuzz/findings/ and fail the target.
#   make fuzz FUZZ_SECONDS=600 FUZZ_JOBS=2 CLANG=clang-14
# Not part of `make check`.  Without make: tests/fuzz/run --build [SECONDS].
# The sources of each target are listed in tests/fuzz/run too: keep the
# two in step.

CLANG = clang
FUZZ_BIN = tests/fuzz/bin
FUZZ_DIR = $(srcdir)/tests/fuzz
FUZZ_CC = $(CLANG) -std=c11 -D_GNU_SOURCE -g -O1 \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-I$(srcdir)/src

FUZZ_PROTOCOL_SRC = $(FUZZ_DIR)/fuzz_protocol.c \
	$(srcdir)/src/protocol.c $(srcdir)/src/lines.c
FUZZ_LINKMSG_SRC = $(FUZZ_DIR)/fuzz_linkmsg.c \
	$(srcdir)/src/linkmsg.c $(srcdir)/src/protocol.c
FUZZ_CONFIG_SRC = $(FUZZ_DIR)/fuzz_config.c $(srcdir)/src/config.c
FUZZ_PLACES_JSON_SRC = $(FUZZ_DIR)/fuzz_places_json.c \
	$(srcdir)/src/places_json.c $(srcdir)/src/places_gnew.c
FUZZ_CONTROL_SRC = $(FUZZ_DIR)/fuzz_control.c $(srcdir)/src/control.c
FUZZ_SNAPSHOT_SRC = $(FUZZ_DIR)/fuzz_snapshot.c \
	$(srcdir)/src/snapshot.c $(srcdir)/src/table.c \
	$(srcdir)/src/protocol.c

# Every target is rebuilt when a header changes: they are few and small.
FUZZ_DEPS = $(FUZZ_DIR)/fuzz_common.h $(srcdir)/src/protocol.h \
	$(srcdir)/src/lines.h $(srcdir)/src/linkmsg.h \
	$(srcdir)/src/linkauth.h $(srcdir)/src/config.h \
	$(srcdir)/src/places_json.h $(srcdir)/src/places_gnew.h \
	$(srcdir)/src/control.h $(srcdir)/src/snapshot.h \
	$(srcdir)/src/table.h

FUZZ_BINARIES = $(FUZZ_BIN)/fuzz_protocol $(FUZZ_BIN)/fuzz_linkmsg \
	$(FUZZ_BIN)/fuzz_config $(FUZZ_BIN)/fuzz_places_json \
	$(FUZZ_BIN)/fuzz_control $(FUZZ_BIN)/fuzz_snapshot

$(FUZZ_BIN)/fuzz_protocol: $(FUZZ_PROTOCOL_SRC) $(FUZZ_DEPS)
	$(AM_V_at)$(MKDIR_P) $(FUZZ_BIN)
	$(AM_V_GEN)$(FUZZ_CC) $(LIBEVENT_CFLAGS) -o $@ \
		$(FUZZ_PROTOCOL_SRC) $(LIBEVENT_LIBS)

$(FUZZ_BIN)/fuzz_linkmsg: $(FUZZ_LINKMSG_SRC) $(FUZZ_DEPS)
	$(AM_V_at)$(MKDIR_P) $(FUZZ_BIN)
	$(AM_V_GEN)$(FUZZ_CC) -o $@ $(FUZZ_LINKMSG_SRC)

$(FUZZ_BIN)/fuzz_config: $(FUZZ_CONFIG_SRC) $(FUZZ_DEPS)
	$(AM_V_at)$(MKDIR_P) $(FUZZ_BIN)
	$(AM_V_GEN)$(FUZZ_CC) $(INIH_CFLAGS) -o $@ \
		$(FUZZ_CONFIG_SRC) $(INIH_LIBS)

$(FUZZ_BIN)/fuzz_places_json: $(FUZZ_PLACES_JSON_SRC) $(FUZZ_DEPS)
	$(AM_V_at)$(MKDIR_P) $(FUZZ_BIN)
	$(AM_V_GEN)$(FUZZ_CC) $(JSONC_CFLAGS) -o $@ \
		$(FUZZ_PLACES_JSON_SRC) $(JSONC_LIBS) -lm

$(FUZZ_BIN)/fuzz_control: $(FUZZ_CONTROL_SRC) $(FUZZ_DEPS)
	$(AM_V_at)$(MKDIR_P) $(FUZZ_BIN)
	$(AM_V_GEN)$(FUZZ_CC) $(JSONC_CFLAGS) -o $@ \
		$(FUZZ_CONTROL_SRC) $(JSONC_LIBS)

$(FUZZ_BIN)/fuzz_snapshot: $(FUZZ_SNAPSHOT_SRC) $(FUZZ_DEPS)
	$(AM_V_at)$(MKDIR_P) $(FUZZ_BIN)
	$(AM_V_GEN)$(FUZZ_CC) $(ZLIB_CFLAGS) -o $@ \
		$(FUZZ_SNAPSHOT_SRC) $(ZLIB_LIBS) -lpthread

fuzz-build: $(FUZZ_BINARIES)

# FUZZ_SECONDS and FUZZ_JOBS reach tests/fuzz/run from the environment or
# the make command line.
fuzz: fuzz-build
	FUZZ_BIN='$(abs_builddir)/$(FUZZ_BIN)' \
	FUZZ_FINDINGS='$(abs_builddir)/tests/fuzz/findings' \
	CLANG='$(CLANG)' bash $(FUZZ_DIR)/run

.PHONY: fuzz fuzz-build

CLEANFILES += $(FUZZ_BINARIES)

EXTRA_DIST += tests/fuzz/run tests/fuzz/make-corpus.py \
	tests/fuzz/fuzz_common.h tests/fuzz/fuzz_protocol.c \
	tests/fuzz/fuzz_linkmsg.c tests/fuzz/fuzz_config.c \
	tests/fuzz/fuzz_places_json.c tests/fuzz/fuzz_control.c \
	tests/fuzz/fuzz_snapshot.c tests/fuzz/corpus tests/fuzz/dict \
	tests/fuzz/crashes-found
