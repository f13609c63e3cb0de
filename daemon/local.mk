# daemon: the request layer of dt4ecgd as a convenience library (the
# request body, replay cache, rate limits, configuration, verdicts) on top of
# proto/ (signatures, digests, problems).  The dt4ecgd program links it.
noinst_LIBRARIES += libdaemon.a
libdaemon_a_SOURCES = \
	daemon/body.c daemon/body.h \
	daemon/replay.c daemon/replay.h \
	daemon/ratelimit.c daemon/ratelimit.h \
	daemon/cfg.c daemon/cfg.h \
	daemon/verdict.c daemon/verdict.h
libdaemon_a_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(SODIUM_CFLAGS)
DAEMON_LIBS = libdaemon.a $(PROTO_LIBS) -lm

EXTRA_DIST += etc/dt4ecgd.conf etc/dt4ecg-pg-roles.sql

# dt4ecgd: the HTTPS authentication daemon (issue 6).
sbin_PROGRAMS += daemon/dt4ecgd
daemon_dt4ecgd_SOURCES = \
	daemon/main.c daemon/dmn.h \
	daemon/gen.c daemon/server.c daemon/worker.c \
	daemon/h_authenticate.c daemon/h_health.c \
	daemon/metrics.c daemon/queue.c daemon/sdnotify.c daemon/anchor.c
daemon_dt4ecgd_CPPFLAGS = $(AM_CPPFLAGS)
daemon_dt4ecgd_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(JANSSON_CFLAGS) \
	$(SODIUM_CFLAGS) $(SQLITE_CFLAGS)
daemon_dt4ecgd_LDADD = libdaemon.a libproto.a $(PIPELINE_LIBS) $(STORE_LIBS) \
	$(MHD_LIBS) $(JANSSON_LIBS) $(SODIUM_LIBS) -lm
EXTRA_DIST += docs/dt4ecgd.md
