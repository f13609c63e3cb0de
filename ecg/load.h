/*
 * ecg/load.h — one signal of a recording, as the command-line tools name it:
 * a WFDB record path (".hea"/".dat" suffix tolerated) or a CSV/TSV file.
 */
#ifndef ECG_LOAD_H
#define ECG_LOAD_H

#include <stddef.h>

#include "ecg/record.h"
#include "util/error.h"

enum ecg_format {
	ECG_FORMAT_AUTO,	/* by the file name: .csv .tsv .txt -> CSV, else WFDB */
	ECG_FORMAT_WFDB,
	ECG_FORMAT_CSV,
};

/* "wfdb" / "csv" / NULL (auto); -1 for anything else. */
int ecg_format_parse(const char *s, enum ecg_format *out);

/*
 * Reads signal `signal` (WFDB signal index, or CSV column; -1 = signal 0 /
 * the last column).  fs_hz is required for CSV and must be 0 or agree for
 * WFDB.  *mv is malloc'd (n samples, mV, at *fs_out Hz); free it with
 * ecg_samples_free().
 */
int ecg_load_signal(const char *path, enum ecg_format format, double fs_hz,
    int signal, float **mv, size_t *n, double *fs_out, struct dt_error *err);

/* The same, also saying what the samples measure (ECG_UNITS_RELATIVE: not
 * millivolts, see record.h).  CSV is always taken as mV. */
int ecg_load_signal_units(const char *path, enum ecg_format format,
    double fs_hz, int signal, float **mv, size_t *n, double *fs_out,
    enum ecg_units *units, struct dt_error *err);

/* Wipes (biometric data) and frees. */
void ecg_samples_free(float *mv, size_t n);

#endif /* ECG_LOAD_H */
