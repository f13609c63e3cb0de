/*
 * tests/dmn_harness.h — runs the real dt4ecgd for the integration test and
 * the load benchmark: a temporary directory with a self-signed certificate
 * (certtool), a store key and a store (kiosks with generated Ed25519 key
 * pairs, members and their recordings), a configuration file, the daemon
 * started on 127.0.0.1 (optionally under valgrind) with $NOTIFY_SOCKET so
 * that its READY=1 is awaited, and libcurl requests signed as a kiosk
 * (RFC 9421 + RFC 9530).  Every wait is bounded.
 */
#ifndef TESTS_DMN_HARNESS_H
#define TESTS_DMN_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <curl/curl.h>

#define DH_KIOSKS 4
#define DH_PATH_MAX 512
#define DH_EXPECT_MIN 65536	/* a POST body from here on sends Expect */

struct nn_model;
struct embedder;
struct store;
struct store_key;

struct dh {
	char dir[DH_PATH_MAX];
	char conf[DH_PATH_MAX + 32];
	char cert[DH_PATH_MAX + 32];
	char notify[DH_PATH_MAX + 32];
	char daemon_log[DH_PATH_MAX + 32];
	char bin[DH_PATH_MAX * 2];
	unsigned port;
	char *extra;			/* dh_write_conf's extra lines */
	char store[DH_PATH_MAX + 32];	/* the file, or a postgresql:// URI */
	bool replica;			/* of another dh (dh_replica) */
	pid_t pid;
	int notify_fd;
	struct store_key *key;
	struct store *s;
	char kiosk_id[DH_KIOSKS][16];
	unsigned char sk[DH_KIOSKS][64];
	struct nn_model *model;		/* loaded back from model_bytes */
	void *model_bytes;
	size_t model_len;
	struct embedder *emb;
	char model_id[32];
	bool full_model;		/* dh_model: default sizes, not tiny */
};

#define DH_MAX_HDRS 32

/* An answer, every header of it, and what was sent (for cross-checks). */
struct dh_resp {
	long status;
	char *body;		/* malloc'd, NUL-terminated */
	size_t len;
	char content_type[128];
	char retry_after[32];
	char allow[64];		/* the Allow header of a 405 */
	double seconds;
	int nh;			/* response headers, in order */
	char hname[DH_MAX_HDRS][64];
	char hval[DH_MAX_HDRS][256];
	const char *req_body;	/* the request: its body, header names */
	size_t req_len;
	int nreq;
	char req_hname[8][64];
};

/* Creates the directory, certificate, store key, store, kiosks (and a
 * default config with the given extra lines; see dh_write_conf).  0 / -1
 * with a message on stderr. */
int dh_init(struct dh *h, const char *extra_conf);
/* The same with the store at STORE: a postgresql:// URI of an empty
 * database (a store there already is refused), or NULL for the file. */
int dh_init_at(struct dh *h, const char *extra_conf, const char *store);
/* R: one more dt4ecgd on H's store, kiosks, model and certificate, with
 * its own port, configuration (H's extra lines), log and notify socket;
 * dh_start/dh_stop/dh_cleanup as for H (cleaning R up leaves H alone). */
int dh_replica(const struct dh *h, struct dh *r, int k);
/* Writes the configuration: defaults for the test, then EXTRA ("k = v\n"
 * lines overriding nothing: the parser refuses duplicate keys, so EXTRA
 * must only name keys not in `skip`...).  The test passes full lines for
 * threshold, rate_*, lockout_*, threads. */
int dh_write_conf(struct dh *h, const char *extra);
/* A small random model (nn_model_create), its bytes, and an embedder. */
int dh_model(struct dh *h, const char *id, uint64_t seed);
/* The model in the file PATH instead, as ID. */
int dh_model_file(struct dh *h, const char *path, const char *id);
/* Adds member ID with the recording file REC (WFDB path relative to
 * $DT4ECG_DATA); with TEMPLATE also its template for h->model_id. */
int dh_member(struct dh *h, const char *id, const char *name,
    const char *rec, bool template);
/* Stores h->model and activates it (templates recomputed by h->emb). */
int dh_activate(struct dh *h);
/* Starts the daemon; VALGRIND wraps it.  Waits for READY=1. */
int dh_start(struct dh *h, bool valgrind, double timeout_s);
/* Waits for one sd_notify datagram containing WHAT (bounded). */
int dh_wait_notify(struct dh *h, const char *what, double timeout_s);
/* SIGTERM and wait; *status = exit code (or 128 + signal). */
int dh_stop(struct dh *h, double timeout_s, int *status);
void dh_cleanup(struct dh *h);

/* The fused embedding and activity of samples through h->emb. */
int dh_embed(struct dh *h, const float *x, size_t n, double fs, float *emb,
    float *act);
/* The JSON body for samples (claimed may be NULL); malloc'd. */
char *dh_body(const float *x, size_t n, double fs, const char *claimed,
    size_t *len);
/* The bodies of consecutive SEG_S-second segments of the recording REL
 * (a WFDB path relative to $DT4ECG_DATA), one every HOP_S seconds,
 * claiming CLAIMED (may be NULL): at most MAX into JSON[] and LEN[]
 * (malloc'd).  The number made, or -1. */
int dh_segment_bodies(const char *rel, double seg_s, double hop_s,
    const char *claimed, char **json, size_t *len, int max);

/* One request.  CURL may be NULL (a fresh handle).  HEADERS NULL-ended
 * "Name: value" lines; a POST without a Content-Type sends none (not
 * libcurl's form default). */
int dh_request(struct dh *h, CURL *c, const char *method, const char *path,
    const char *const *headers, const char *body, size_t len,
    struct dh_resp *r);
/* A POST /v1/authenticate signed by kiosk K (created = now + skew), with a
 * fresh nonce unless NONCE is given. */
int dh_signed(struct dh *h, CURL *c, int k, const char *body, size_t len,
    int64_t skew, const char *nonce, struct dh_resp *r);
/* POST /v1/authenticate with hand-made headers (NULL: header absent). */
int dh_post(struct dh *h, CURL *c, const char *ctype, const char *digest,
    const char *si, const char *sig, const char *body, size_t len,
    struct dh_resp *r);
/* The value of response header NAME (any case), or NULL. */
const char *dh_resp_header(const struct dh_resp *r, const char *name);
void dh_resp_free(struct dh_resp *r);

#endif /* TESTS_DMN_HARNESS_H */
