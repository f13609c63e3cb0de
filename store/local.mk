# store: the store (SQLite file or PostgreSQL) (members, sealed biometric data, kiosks, models,
# audit log) and the in-memory matching engine.
noinst_LIBRARIES += libstore.a
libstore_a_SOURCES = \
	store/store.c store/store.h store/store_int.h store/db.h \
	store/db_sqlite.c store/db_sqlite.h store/db_pg.c store/db_count.c \
	store/migrate.c \
	store/member.c store/recording.c store/kiosk.c store/model.c \
	store/copy.c \
	store/crypto.c store/crypto.h \
	store/audit.c store/anchor.c store/rowmac.c \
	store/guard.h store/nonce.c store/lockout.c \
	store/match.c store/match.h store/match_int.h store/match_load.c
libstore_a_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS) $(PQ_CFLAGS) $(SODIUM_CFLAGS)
STORE_LIBS = libstore.a libdtutil.a $(SQLITE_LIBS) $(PQ_LIBS) $(SODIUM_LIBS) -lm
