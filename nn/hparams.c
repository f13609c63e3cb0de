/*
 * nn/hparams.c — the network's hyperparameters (nn/model.h): defaults, the
 * range and geometry checks, the layer lengths and the operation count they
 * imply.  Split from nn/model.c, which keeps the model file.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "nn/model.h"

void
nn_hparams_default(struct nn_hparams *hp)
{
	memset(hp, 0, sizeof(*hp));
	hp->fs_hz = 250;
	hp->window = 512;
	hp->stem_channels = 64;
	hp->stem_kernel = 15;
	hp->n_stages = 3;
	hp->stage_channels[0] = 64;
	hp->stage_channels[1] = 128;
	hp->stage_channels[2] = 256;
	hp->kernel = 7;
	hp->sca_reduction = 8;
	hp->seq_kernel = 7;
	hp->embedding_dim = 128;
	hp->act_hidden = 64;
}

/* PyTorch's output length of a conv or pool, or 0 if it would be < 1. */
static int
out_len(int len, int k, int stride, int pad)
{
	long v = (long)len + 2L * pad - k;

	if (v < 0)
		return 0;
	return (int)(v / stride + 1);
}

static int
check_pos(const char *field, int v, int max, struct dt_error *err)
{
	if (v < 1 || v > max)
		return dt_error_set(err, DT_E_INVALID,
		    "hyperparameter %s: %d is out of range 1..%d", field, v,
		    max);
	return 0;
}

static int
check_odd(const char *field, int v, int max, struct dt_error *err)
{
	if (check_pos(field, v, max, err) != 0)
		return -1;
	if (v % 2 == 0)
		return dt_error_set(err, DT_E_INVALID,
		    "hyperparameter %s: kernel size %d is not odd", field, v);
	return 0;
}

int
nn_hparams_check(const struct nn_hparams *hp, struct dt_error *err)
{
	int i, len;

	if (hp == NULL)
		return dt_error_set(err, DT_E_INVALID, "no hyperparameters");
	if (check_pos("fs_hz", hp->fs_hz, 100000, err) != 0 ||
	    check_pos("window", hp->window, 1 << 20, err) != 0 ||
	    check_pos("stem_channels", hp->stem_channels, 16384, err) != 0 ||
	    check_odd("stem_kernel", hp->stem_kernel, 4095, err) != 0 ||
	    check_odd("kernel", hp->kernel, 4095, err) != 0 ||
	    check_odd("seq_kernel", hp->seq_kernel, 4095, err) != 0 ||
	    check_pos("sca_reduction", hp->sca_reduction, 16384, err) != 0 ||
	    check_pos("embedding_dim", hp->embedding_dim, 16384, err) != 0 ||
	    check_pos("act_hidden", hp->act_hidden, 16384, err) != 0)
		return -1;
	if (hp->n_stages < 1 || hp->n_stages > NN_MAX_STAGES)
		return dt_error_set(err, DT_E_INVALID,
		    "hyperparameter stage_channels: %d stages, expected 1..%d",
		    hp->n_stages, NN_MAX_STAGES);
	for (i = 0; i < hp->n_stages; i++) {
		int c = hp->stage_channels[i];

		if (c < 1 || c > 16384)
			return dt_error_set(err, DT_E_INVALID,
			    "hyperparameter stage_channels: stage %d has %d "
			    "channels, expected 1..16384", i, c);
		if (c % hp->sca_reduction != 0)
			return dt_error_set(err, DT_E_INVALID,
			    "hyperparameter stage_channels: stage %d has %d "
			    "channels, not divisible by sca_reduction %d", i, c,
			    hp->sca_reduction);
	}
	len = out_len(hp->window, 2, 2, 0);
	if (len < 1)
		return dt_error_set(err, DT_E_INVALID,
		    "hyperparameter window: %d is too short for the stem",
		    hp->window);
	for (i = 0; i < hp->n_stages; i++) {
		len = out_len(len, hp->kernel, 2, hp->kernel / 2);
		if (len < 1)
			return dt_error_set(err, DT_E_INVALID,
			    "hyperparameter window: %d is too short for stage %d",
			    hp->window, i);
	}
	return 0;
}

int
nn_hparams_stem_len(const struct nn_hparams *hp)
{
	int len = out_len(hp->window, hp->stem_kernel, 1, hp->stem_kernel / 2);

	return out_len(len, 2, 2, 0);
}

int
nn_hparams_stage_len(const struct nn_hparams *hp, int stage)
{
	int i, len = nn_hparams_stem_len(hp);

	for (i = 0; i <= stage && i < hp->n_stages; i++)
		len = out_len(len, hp->kernel, 2, hp->kernel / 2);
	return len;
}

double
nn_hparams_flops(const struct nn_hparams *hp, int n_activities)
{
	double macs = 0;
	int i, cin = hp->stem_channels, len;

	/* stem conv at full length (pool afterwards) */
	len = out_len(hp->window, hp->stem_kernel, 1, hp->stem_kernel / 2);
	macs += (double)hp->stem_channels * len * hp->stem_kernel;
	for (i = 0; i < hp->n_stages; i++) {
		int c = hp->stage_channels[i];
		int l = nn_hparams_stage_len(hp, i);
		int h = c / hp->sca_reduction;

		macs += (double)c * l * cin * hp->kernel;	/* conv1 */
		macs += (double)c * l * c * hp->kernel;		/* conv2 */
		macs += (double)c * l * cin;			/* down */
		macs += 2.0 * ((double)h * c + (double)c * h);	/* SCA MLP x2 */
		macs += (double)l * 2 * hp->seq_kernel;		/* SCA seq */
		cin = c;
	}
	macs += (double)hp->embedding_dim * cin;		/* id fc */
	macs += (double)hp->act_hidden * cin;			/* act fc1 */
	macs += (double)n_activities * hp->act_hidden;		/* act fc2 */
	return 2.0 * macs;
}
