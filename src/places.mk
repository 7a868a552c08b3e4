# places.mk - WHATSAT's Places client, its tests and the fake Places
# server.  Include it from Makefile.am after libherd_a_SOURCES, HERD_LIBS,
# check_PROGRAMS and EXTRA_DIST are defined; libherd_a_CFLAGS and
# HERD_LIBS must carry $(LIBCURL_*) and $(JSONC_*).
#
# tests/fake_places is a helper, not a test: keep it out of TESTS (list
# $(PLACES_TESTS) there rather than all of $(check_PROGRAMS)), and export
# FAKE_PLACES='$(abs_top_builddir)/tests/fake_places' in
# AM_TESTS_ENVIRONMENT (HERD_SRCDIR is already there).

libherd_a_SOURCES += \
	src/places.c src/places.h \
	src/places_cache.c src/places_cache.h \
	src/places_file.c src/places_file.h \
	src/places_gnew.c src/places_gnew.h \
	src/places_http.c src/places_http.h \
	src/places_json.c src/places_json.h
# sin, cos, asin, sqrt for great-circle distances (places_file.c)
HERD_LIBS += -lm

PLACES_TESTS = tests/check_places
check_PROGRAMS += $(PLACES_TESTS) tests/fake_places

tests_check_places_SOURCES = tests/check_places.c tests/tap.h
tests_check_places_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) \
	$(LIBEVENT_CFLAGS) $(LIBCURL_CFLAGS) $(JSONC_CFLAGS)
tests_check_places_LDADD = $(HERD_LIBS) $(CHECK_LIBS)

tests_fake_places_SOURCES = tests/fake_places.c
tests_fake_places_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(JSONC_CFLAGS)
tests_fake_places_LDADD = $(LIBEVENT_LIBS) $(JSONC_LIBS)

EXTRA_DIST += tests/data
