noinst_LIBRARIES += libdtutil.a
libdtutil_a_SOURCES = util/error.c util/error.h util/log.c util/log.h \
	util/text.c util/text.h util/file.c util/file.h util/num.c util/num.h \
	util/rng.c util/rng.h
