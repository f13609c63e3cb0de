# dt4ecg-admin: the offline operator tool (man section 8).
sbin_PROGRAMS += admin/dt4ecg-admin
admin_dt4ecg_admin_SOURCES = \
	admin/admin.c admin/admin.h \
	admin/cmd_infer.c \
	admin/common.c admin/common.h \
	admin/cmd_store.c admin/cmd_kiosk.c admin/cmd_user.c \
	admin/cmd_migrate_store.c \
	admin/enroll_check.c admin/enroll_check.h \
	admin/model_check.c admin/model_check.h \
	admin/model_sign.c admin/model_sign.h \
	admin/contamination.c admin/contamination.h \
	admin/openset.c admin/openset.h admin/cmd_threshold.c \
	admin/report_summary.c admin/report_summary.h \
	admin/cmd_model.c admin/cmd_audit.c \
	admin/datasrc.c admin/datasrc.h admin/cmd_retrain.c admin/cmd_evaluate.c \
	admin/eval_open.c admin/eval_open.h admin/cmd_calibrate.c \
	admin/cmd_quantize.c \
	admin/storedata.c admin/storedata.h \
	admin/retrain_ckpt.c admin/retrain_ckpt.h admin/retrain_init.c \
	admin/retrain_init.h
admin_dt4ecg_admin_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(SQLITE_CFLAGS) \
	$(SODIUM_CFLAGS)
admin_dt4ecg_admin_LDADD = $(DATA_LIBS) $(PIPELINE_LIBS) $(STORE_LIBS) $(NN_LIBS) \
	$(ECG_LIBS) $(JANSSON_LIBS) $(SODIUM_LIBS)
