/*
 * fuzz/fuzz_model.c — the safetensors model loader (nn_model_load_buffer) on
 * arbitrary bytes.  A model that loads is also saved and reloaded, so the
 * writer is exercised on whatever the loader accepts, and its int8
 * calibration (metadata dt4ecg.int8.act_max) is parsed.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "nn/model.h"
#include "nn/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nn_model *m = NULL, *m2 = NULL;
	struct dt_error err;
	void *buf = NULL;
	size_t len = 0;
	float amax[2 * NN_MAX_STAGES];

	if (nn_model_load_buffer(data, size, "fuzz", &m, &err) != 0)
		return 0;
	(void)nn_int8_calibration(m, amax, &err);
	if (nn_model_save_buffer(m, &buf, &len, &err) == 0) {
		if (nn_model_load_buffer(buf, len, "fuzz-resaved", &m2,
		    &err) != 0)
			abort();	/* what we write we must read */
		nn_model_free(m2);
		free(buf);
	}
	nn_model_free(m);
	return 0;
}
