/*
 * ecg/record.h — ECG recordings read from files: WFDB (format 16 and 212,
 * multi-signal, gain and baseline from the header) and CSV/TSV columns.
 * Samples come out in millivolts, one array per signal.
 */
#ifndef ECG_RECORD_H
#define ECG_RECORD_H

#include <stddef.h>

#include "util/error.h"

#define ECG_MAX_SIGNALS 32

/* What a signal's samples measure.  WFDB units mV, uV and V (and none, which
 * WFDB reads as mV) come out converted to millivolts; any other unit (PTB-XL
 * lead I here is z-scored, "sd") is kept as stored and marked relative, so
 * that no millivolt rule (saturation, flatness in mV) is applied to it. */
enum ecg_units {
	ECG_UNITS_MV = 0,
	ECG_UNITS_RELATIVE,
};

struct ecg_record {
	double fs_hz;
	int n_signals;
	size_t n_samples;		/* per signal */
	float *samples[ECG_MAX_SIGNALS];	/* [signal][n_samples], mV */
	char *description[ECG_MAX_SIGNALS];	/* may be NULL */
	enum ecg_units units[ECG_MAX_SIGNALS];
	/* WFDB only: 1 when the header's first value and checksum matched the
	 * data, 0 when they did not (the record is still returned: some PhysioNet
	 * records carry wrong header checksums), -1 when the header gave none. */
	int checksum_ok[ECG_MAX_SIGNALS];
};

/*
 * WFDB: `record` is the record path without extension ("data/rec_1"); the
 * header is record.hea and the signal files are named in it, relative to the
 * header's folder.
 */
int ecg_read_wfdb(const char *record, struct ecg_record **out,
    struct dt_error *err);

/*
 * WFDB on memory: `hea` is the header text, `dat` the bytes of the one signal
 * file it names (records whose signals are spread over several files need
 * ecg_read_wfdb).  `name` is used in error messages only.
 */
int ecg_parse_wfdb(const char *hea, size_t hea_len, const void *dat,
    size_t dat_len, const char *name, struct ecg_record **out,
    struct dt_error *err);

/* Caps against absurd headers: samples per signal times signals. */
#define ECG_MAX_TOTAL_SAMPLES	((size_t)1 << 27)

/*
 * CSV/TSV: one sample per row, columns separated by ',', ';' or tab; lines
 * starting with '#' and one header row of non-numbers are skipped.  `column`
 * picks the column (0-based; -1 = the last column).  Values are taken as mV
 * multiplied by `scale` (1.0 for mV).  fs_hz must be given (> 0).
 */
int ecg_read_csv(const char *path, double fs_hz, int column, double scale,
    struct ecg_record **out, struct dt_error *err);

/* Parsers on memory (the fuzz targets use them; the file readers call them). */
int ecg_parse_csv(const char *text, size_t len, const char *name,
    double fs_hz, int column, double scale, struct ecg_record **out,
    struct dt_error *err);

void ecg_record_free(struct ecg_record *r);

#endif /* ECG_RECORD_H */
