# store: the SQLite store (members, sealed biometric data, kiosks, models,
# audit log) and the in-memory matching engine.
noinst_LIBRARIES += libstore.a
libstore_a_SOURCES = \
	store/store.c store/store.h store/store_int.h \
	store/crypto.c store/crypto.h \
	store/audit.c store/anchor.c store/rowmac.c \
	store/guard.h store/nonce.c store/lockout.c \
	store/match.c store/match.h
libstore_a_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS) $(SODIUM_CFLAGS)
STORE_LIBS = libstore.a libdtutil.a $(SQLITE_LIBS) $(SODIUM_LIBS) -lm
