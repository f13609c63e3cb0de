/*
 * data/manifest.h — data-set manifests (DESIGN.md section 7): a CSV file
 *
 *   path,format,subject,activity,session,fs_hz,lead
 *
 * with exactly that header, one recording per line.  `path` is relative to
 * the manifest's folder unless absolute; `format` is wfdb, csv or adc-ts (raw
 * ADC counts with host timestamps, "YYYY-MM-DD HH:MM:SS.ffffff ; count", as
 * ecg-activity stores them); `activity` may be empty (no activity label);
 * `session` is free text (empty allowed); `fs_hz` is empty (from the header,
 * or the timestamps) or a rate of 50..2000 Hz (required for csv); `lead` is
 * the WFDB signal or CSV column (empty = 0).  Blank lines and lines starting
 * with '#' are skipped.  Parsing is strict: every fault names file:line.
 */
#ifndef DATA_MANIFEST_H
#define DATA_MANIFEST_H

#include <stddef.h>

#include "util/error.h"

enum data_format {
	DATA_FMT_WFDB,
	DATA_FMT_CSV,
	DATA_FMT_ADC_TS,
};

struct data_entry {
	char *path;		/* resolved against the manifest's folder */
	enum data_format format;
	char *subject;
	char *activity;		/* NULL: no activity label */
	char *session;		/* "" when empty */
	double fs_hz;		/* 0: from the file */
	int lead;
	size_t line;		/* for messages */
};

struct data_manifest {
	char *name;		/* file name without folder and ".csv" */
	char *file;		/* as given, for messages */
	size_t n;
	struct data_entry *e;
};

#define DATA_MANIFEST_MAX_LINE 4096
#define DATA_MANIFEST_MAX_ENTRIES 1000000

/* `file` names the manifest in messages and gives the folder that relative
 * paths are resolved against (NULL or "": the current folder). */
int data_manifest_parse(const char *text, size_t len, const char *file,
    struct data_manifest **out, struct dt_error *err);
int data_manifest_read(const char *path, struct data_manifest **out,
    struct dt_error *err);
void data_manifest_free(struct data_manifest *m);

const char *data_format_name(enum data_format f);

#endif /* DATA_MANIFEST_H */
