# dt4ecg-admin: the offline operator tool (man section 8).
sbin_PROGRAMS += admin/dt4ecg-admin
admin_dt4ecg_admin_SOURCES = \
	admin/admin.c admin/admin.h \
	admin/cmd_infer.c
admin_dt4ecg_admin_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
admin_dt4ecg_admin_LDADD = $(NN_LIBS) $(ECG_LIBS) $(JANSSON_LIBS)
