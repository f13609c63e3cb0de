/* fuzz/fuzz_config.c — the dt4ecgd.conf parser. */
#include "config.h"

#include <stdint.h>

#include "daemon/cfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg c;
	struct dt_error err;

	(void)cfg_parse("fuzz.conf", (const char *)data, size, &c, &err);
	return 0;
}
