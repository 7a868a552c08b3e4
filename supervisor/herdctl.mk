# herdctl.mk - herdctl, the systemd unit, herdctl(8) and their tests.
# Include it at the end of Makefile.am: it appends to man_MANS,
# CLEANFILES, EXTRA_DIST, UNIT_TESTS, INTEGRATION_TESTS and
# AM_TESTS_ENVIRONMENT, and uses edit_paths and HERD_LIBS (which links
# src/control.c, in libherd.a).  It defines bin_PROGRAMS (automake refuses
# "+=" on a variable not set before).  configure.ac must define
# systemdsystemunitdir and the HAVE_SYSTEMD conditional.

# --- herdctl -------------------------------------------------------------
bin_PROGRAMS = herdctl
herdctl_SOURCES = supervisor/herdctl.c
herdctl_CPPFLAGS = $(AM_CPPFLAGS) -DHERDD_PATH='"$(sbindir)/herdd"'
herdctl_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
herdctl_LDADD = $(HERD_LIBS) $(JSONC_LIBS)

# --- generated files: herdctl(8) and the systemd unit ----------------------
edit_all_paths = $(edit_paths) \
	-e 's|@sbindir[@]|$(sbindir)|g' \
	-e 's|@bindir[@]|$(bindir)|g'

man_MANS += man/herdctl.8
man/herdctl.8: man/herdctl.8.in Makefile
	$(AM_V_GEN)$(MKDIR_P) man && $(edit_all_paths) \
		$(srcdir)/man/herdctl.8.in > $@

etc/herd.service: etc/herd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) etc && $(edit_all_paths) \
		$(srcdir)/etc/herd.service.in > $@

if HAVE_SYSTEMD
systemdsystemunit_DATA = etc/herd.service
else
noinst_DATA = etc/herd.service
endif
CLEANFILES += etc/herd.service
EXTRA_DIST += man/herdctl.8.in etc/herd.service.in

# make distcheck installs as an ordinary prefix: keep the unit inside it.
AM_DISTCHECK_CONFIGURE_FLAGS = \
	--with-systemdsystemunitdir='$${prefix}/lib/systemd/system'

# --- tests ---------------------------------------------------------------
# UNIT_TESTS is both check_PROGRAMS and part of TESTS.
UNIT_TESTS += tests/check_control
tests_check_control_SOURCES = tests/check_control.c tests/tap.h
tests_check_control_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JSONC_CFLAGS)
tests_check_control_LDADD = $(HERD_LIBS) $(JSONC_LIBS) $(CHECK_LIBS)

INTEGRATION_TESTS += \
	tests/integration/test_herdctl.py \
	tests/integration/test_systemd.py

AM_TESTS_ENVIRONMENT += \
	HERDCTL='$(abs_top_builddir)/herdctl'; export HERDCTL; \
	HERD_UNIT='$(abs_top_builddir)/etc/herd.service'; export HERD_UNIT; \
	HERD_BUILDDIR='$(abs_top_builddir)'; export HERD_BUILDDIR; \
	HERD_MANS='$(man_MANS)'; export HERD_MANS;
