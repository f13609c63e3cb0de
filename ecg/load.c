/* ecg/load.c — pick one signal out of a WFDB or CSV recording. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ecg/load.h"
#include "ecg/record.h"

int
ecg_format_parse(const char *s, enum ecg_format *out)
{
	if (s == NULL)
		*out = ECG_FORMAT_AUTO;
	else if (strcmp(s, "wfdb") == 0)
		*out = ECG_FORMAT_WFDB;
	else if (strcmp(s, "csv") == 0 || strcmp(s, "tsv") == 0)
		*out = ECG_FORMAT_CSV;
	else
		return -1;
	return 0;
}

static int
has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n >= m && strcmp(s + n - m, suf) == 0;
}

int
ecg_load_signal(const char *path, enum ecg_format format, double fs_hz,
    int signal, float **mv, size_t *n, double *fs_out, struct dt_error *err)
{
	enum ecg_units units;

	return ecg_load_signal_units(path, format, fs_hz, signal, mv, n, fs_out,
	    &units, err);
}

int
ecg_load_signal_units(const char *path, enum ecg_format format,
    double fs_hz, int signal, float **mv, size_t *n, double *fs_out,
    enum ecg_units *units, struct dt_error *err)
{
	struct ecg_record *rec = NULL;
	char base[4096];
	float *copy = NULL;
	int sig, rc = -1;

	if (format == ECG_FORMAT_AUTO)
		format = (has_suffix(path, ".csv") || has_suffix(path, ".tsv") ||
		    has_suffix(path, ".txt")) ? ECG_FORMAT_CSV : ECG_FORMAT_WFDB;
	if (format == ECG_FORMAT_CSV) {
		if (!(fs_hz > 0))
			return dt_error_set(err, DT_E_INVALID,
			    "%s: a CSV recording needs its sample rate (--fs HZ)",
			    path);
		if (ecg_read_csv(path, fs_hz, signal, 1.0, &rec, err) != 0)
			return -1;
		sig = 0;
	} else {
		if (strlen(path) >= sizeof(base))
			return dt_error_set(err, DT_E_INVALID,
			    "%s: path too long", path);
		strcpy(base, path);
		if (has_suffix(base, ".hea") || has_suffix(base, ".dat"))
			base[strlen(base) - 4] = '\0';
		if (ecg_read_wfdb(base, &rec, err) != 0)
			return -1;
		sig = signal < 0 ? 0 : signal;
		if (sig >= rec->n_signals) {
			dt_error_set(err, DT_E_INVALID,
			    "%s: signal %d requested, the record has %d", path,
			    sig, rec->n_signals);
			goto out;
		}
		if (fs_hz > 0 && fs_hz != rec->fs_hz) {
			dt_error_set(err, DT_E_INVALID,
			    "%s: --fs %g disagrees with the header's %g Hz",
			    path, fs_hz, rec->fs_hz);
			goto out;
		}
	}
	if (rec->n_samples == 0) {
		dt_error_set(err, DT_E_FORMAT, "%s: no samples", path);
		goto out;
	}
	if ((copy = malloc(sizeof(float) * rec->n_samples)) == NULL) {
		dt_error_set(err, DT_E_NOMEM, "%s: out of memory", path);
		goto out;
	}
	memcpy(copy, rec->samples[sig], sizeof(float) * rec->n_samples);
	*mv = copy;
	*n = rec->n_samples;
	*fs_out = rec->fs_hz;
	*units = rec->units[sig];
	rc = 0;
out:
	ecg_record_free(rec);
	return rc;
}

void
ecg_samples_free(float *mv, size_t n)
{
	if (mv == NULL)
		return;
	explicit_bzero(mv, sizeof(float) * n);
	free(mv);
}
