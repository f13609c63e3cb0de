/*
 * fuzz/fuzz_httpsig.c — the Signature-Input and Signature parsers (RFC 9421)
 * and Content-Digest (RFC 9530).  Input: Signature-Input, a NUL byte,
 * Signature, a NUL byte, Content-Digest (missing parts are empty).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/digest.h"
#include "proto/httpsig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char pk[HTTPSIG_PK_BYTES] = { 1 };
	char *buf, *si, *sg, *cd, base[HTTPSIG_BASE_MAX];
	struct httpsig_field f[2];
	struct httpsig_msg m;
	struct httpsig_sig sig;
	struct dt_error err;
	size_t len;

	if ((buf = malloc(size + 3)) == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = buf[size + 2] = '\0';
	si = buf;
	sg = si + strlen(si) + 1;
	if (sg > buf + size)
		sg = buf + size + 1;
	cd = sg + strlen(sg) + 1;
	if (cd > buf + size + 1)
		cd = buf + size + 2;
	f[0].name = "Content-Digest";
	f[0].value = cd;
	f[1].name = "Content-Type";
	f[1].value = "application/json";
	m.method = "POST";
	m.path = "/v1/authenticate";
	m.authority = "example.com";
	m.fields = f;
	m.nfields = 2;
	if (httpsig_parse(si, sg, NULL, &sig, &err) == PROBLEM_OK) {
		(void)httpsig_check(&sig.params, &httpsig_kiosk_policy,
		    1700000000, 60, &err);
		if (httpsig_base(&m, &sig.params, base, sizeof(base), &len,
		    &err) == PROBLEM_OK && len != strlen(base))
			abort();
		(void)httpsig_verify(&m, &sig, pk, &err);
	}
	(void)digest_verify(cd, si, strlen(si), &err);
	free(buf);
	return 0;
}
