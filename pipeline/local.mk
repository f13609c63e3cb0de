# pipeline/: recording -> fused embedding and activity, shared by the admin
# tool (enrollment, template recomputation) and the daemon.
noinst_LIBRARIES += libpipeline.a
libpipeline_a_SOURCES = pipeline/embed.c pipeline/embed.h \
	pipeline/activity.c pipeline/activity.h
PIPELINE_LIBS = libpipeline.a $(NN_LIBS) $(ECG_LIBS)
