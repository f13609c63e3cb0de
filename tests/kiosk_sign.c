/* tests/kiosk_sign.c — signs a request body once, as dt4ecg-kiosk does
 * (kiosk/request.c), and prints its three headers, so that a test can send
 * the very same request to several daemons with curl: the replay of one
 * kiosk request across replicas (tests/chain-pg.sh).
 *   kiosk_sign KEY_FILE KIOSK_ID BODY_FILE > headers */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <sodium.h>

#include "kiosk/request.h"

int
main(int argc, char **argv)
{
	struct dt_error err = { 0 };
	struct kiosk_sig sig;
	unsigned char *sk = NULL;
	char body[1 << 16];
	size_t len;
	bool loose;
	FILE *f;

	if (argc != 4) {
		fprintf(stderr, "usage: kiosk_sign KEY_FILE KIOSK_ID BODY_FILE\n");
		return 2;
	}
	if (sodium_init() < 0 || (f = fopen(argv[3], "rb")) == NULL)
		return 1;
	len = fread(body, 1, sizeof(body) - 1, f);
	fclose(f);
	body[len] = '\0';
	if (kiosk_key_load(argv[1], &sk, &loose, &err) != 0 ||
	    kiosk_sign("/v1/authenticate", argv[2], sk, body, len,
	    (int64_t)time(NULL), NULL, &sig, &err) != 0) {
		fprintf(stderr, "kiosk_sign: %s\n", err.msg);
		kiosk_key_free(sk);
		return 1;
	}
	printf("Content-Digest: %s\nSignature-Input: %s\nSignature: %s\n",
	    sig.content_digest, sig.signature_input, sig.signature);
	kiosk_key_free(sk);
	return 0;
}
