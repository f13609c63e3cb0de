noinst_LIBRARIES += libecg.a
libecg_a_SOURCES = \
	ecg/record.c ecg/record.h \
	ecg/prep.c ecg/prep.h \
	ecg/sigcheck.c ecg/sigcheck.h \
	ecg/load.c ecg/load.h
libecg_a_CFLAGS = $(AM_CFLAGS) $(SOXR_CFLAGS)
ECG_LIBS = libecg.a libdtutil.a $(SOXR_LIBS) -lm
