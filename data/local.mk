# Data sets for training and evaluation: manifests, loaders, protocol splits,
# augmentation, accuracy figures and the HTML report.
noinst_LIBRARIES += libdata.a
libdata_a_SOURCES = \
	data/manifest.c data/manifest.h \
	data/dataset.c data/dataset.h \
	data/split.c data/split.h \
	data/eval.c data/eval.h \
	data/protocol.c data/protocol.h
libdata_a_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
DATA_LIBS = libdata.a $(ECG_LIBS) $(JANSSON_LIBS)
