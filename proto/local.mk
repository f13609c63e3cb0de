# proto/: the HTTP protocol code that dt4ecgd and the kiosk client share —
# RFC 8941 structured fields (sfv), RFC 9421 message signatures (httpsig),
# RFC 9530 digests (digest), RFC 9457 problem details (problem).  Knows
# nothing of the daemon: depends on util, jansson and libsodium only.
noinst_LIBRARIES += libproto.a
libproto_a_SOURCES = \
	proto/sfv.c proto/sfv.h \
	proto/problem.c proto/problem.h \
	proto/httpsig.c proto/httpsig.h \
	proto/digest.c proto/digest.h
libproto_a_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(SODIUM_CFLAGS)
PROTO_LIBS = libproto.a libdtutil.a $(JANSSON_LIBS) $(SODIUM_LIBS)
