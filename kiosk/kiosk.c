/*
 * kiosk/kiosk.c — dt4ecg-kiosk, the reference kiosk client: reads a
 * recording, takes up to --seconds of it, signs the request with the
 * kiosk's Ed25519 key (RFC 9421, DESIGN.md section 5), POSTs it over HTTPS
 * with libcurl and prints the decision.
 *
 * Exit status: 0 every recording accepted, 3 at least one rejected (and no
 * error), 1 an error (network, TLS, problem document, unreadable
 * recording), 2 usage.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "ecg/load.h"
#include "kiosk/request.h"
#include "util/num.h"

#define EXIT_ACCEPT 0
#define EXIT_ERROR 1
#define EXIT_USAGE 2
#define EXIT_REJECT 3

#define RESPONSE_MAX (1024 * 1024)
#define REPLAY_DEPTH 4

struct opts {
	const char *url;
	const char *key;
	const char *kiosk_id;
	const char *cacert;
	const char *pin;
	const char *claimed;
	const char *format;
	const char *replay;
	double fs;
	double seconds;
	double offset;
	double interval;
	long timeout;
	int signal;
	int retries;
	int json;
	int verbose;
};

struct client {
	struct opts o;
	enum ecg_format fmt;
	CURL *curl;
	char *url;		/* full request URL */
	char *path;		/* its path, as signed */
	unsigned char *sk;
	int n_sent;
};

struct response {
	char *p;
	size_t len;
	bool too_big;
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: dt4ecg-kiosk --url URL --key FILE --kiosk-id KIOSK_ID\n"
"           [--cacert FILE | --pin sha256//BASE64] [--claimed USER_ID]\n"
"           [--format wfdb|csv] [--fs HZ] [--signal N] [--seconds S]\n"
"           [--offset S] [--json] [--timeout S] [--retries N]\n"
"           [--interval S] [--verbose] RECORDING...\n"
"       dt4ecg-kiosk ... --replay DIR\n"
"  Sends each recording (a WFDB record path without extension, or a\n"
"  CSV/TSV file with --fs) to dt4ecgd, signed with the kiosk key, and\n"
"  prints the decision.  --replay sends every recording found in DIR.\n"
"  Exit status: 0 accepted, 3 rejected, 1 error, 2 usage.\n");
}

static int
parse_double(const char *opt, const char *s, double lo, double hi,
    double *out)
{
	if (dt_parse_double(s, lo, hi, out) == 0)
		return 0;
	fprintf(stderr, "dt4ecg-kiosk: %s %s: expected a number %g..%g\n", opt,
	    s, lo, hi);
	return -1;
}

static size_t
on_data(char *data, size_t size, size_t nmemb, void *vr)
{
	struct response *r = vr;
	size_t n = size * nmemb;
	char *np;

	if (r->len + n > RESPONSE_MAX) {
		r->too_big = true;
		return 0;
	}
	if ((np = realloc(r->p, r->len + n + 1)) == NULL)
		return 0;
	r->p = np;
	memcpy(r->p + r->len, data, n);
	r->len += n;
	r->p[r->len] = '\0';
	return n;
}

/* Retry-After in seconds (delta form only), capped; 1 when absent. */
static long
retry_after(CURL *c)
{
#if LIBCURL_VERSION_NUM >= 0x075400	/* curl_easy_header: 7.84 */
	struct curl_header *h;
	long v;

	if (curl_easy_header(c, "Retry-After", 0, CURLH_HEADER, -1, &h) !=
	    CURLHE_OK)
		return 1;
	v = strtol(h->value, NULL, 10);
	return v < 1 ? 1 : v > 30 ? 30 : v;
#else
	(void)c;
	return 1;
#endif
}

static double
num(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *
str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "?";
}

/* What to do about a TLS failure, pointing at the options that fix it. */
static const char *
tls_hint(CURLcode cc, const struct opts *o)
{
	switch (cc) {
	case CURLE_PEER_FAILED_VERIFICATION:
#if LIBCURL_VERSION_NUM < 0x073e00
	case CURLE_SSL_CACERT:
#endif
		if (o->pin != NULL)
			return " (the server's certificate is not trusted: give "
			    "--cacert with the certificate or CA that signed "
			    "it as well as --pin)";
		return o->cacert != NULL ? " (the server's certificate is not "
		    "signed by --cacert's: give the right --cacert, or --pin "
		    "sha256//<base64 of its public key's SHA-256>)" :
		    " (the server's certificate is not trusted: give --cacert "
		    "FILE with it or its CA, or --pin sha256//<base64 of its "
		    "public key's SHA-256>)";
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return " (the server's public key is not the one --pin names: "
		    "check --pin against the server's certificate)";
	case CURLE_SSL_CACERT_BADFILE:
		return " (--cacert: the file cannot be read as PEM "
		    "certificates)";
	case CURLE_SSL_CONNECT_ERROR:
		return " (TLS handshake failed: is it the daemon's HTTPS port, "
		    "and does it speak TLS 1.2 or newer?)";
	default:
		return "";
	}
}

/* Prints a 200 answer; returns the exit status it stands for. */
static int
print_decision(const char *rec, json_t *j)
{
	json_t *user = json_object_get(j, "user");
	json_t *act = json_object_get(j, "activity");
	json_t *q = json_object_get(j, "quality");
	const char *decision = str(j, "decision");
	const char *name = json_string_value(json_object_get(user,
	    "display_name"));
	bool accept = strcmp(decision, "accept") == 0;

	if (name != NULL && *name == '\0')
		name = NULL;	/* a member without a display name */
	if (accept)
		printf("%s: accepted as %s%s%s%s, score %.3f (threshold %.3f)",
		    rec, str(user, "id"), name ? " (" : "", name ? name : "",
		    name ? ")" : "", num(j, "score"), num(j, "threshold"));
	else if (strcmp(decision, "reject") == 0) {
		const char *why = json_string_value(json_object_get(j,
		    "reason"));

		printf("%s: rejected%s%s%s", rec, why ? " (" : "",
		    why ? why : "", why ? ")" : "");
		if (!isnan(num(j, "score")))
			printf(", score %.3f (threshold %.3f)", num(j, "score"),
			    num(j, "threshold"));
	} else {
		fprintf(stderr, "dt4ecg-kiosk: %s: unexpected decision "
		    "\"%s\"\n", rec, decision);
		return EXIT_ERROR;
	}
	if (json_is_object(act))
		printf(", activity %s (%.2f)", str(act, "label"),
		    num(act, "probability"));
	if (json_is_object(q))
		printf(", %lld window%s used, %.0f bpm",
		    (long long)json_integer_value(json_object_get(q,
		    "windows_used")), json_integer_value(json_object_get(q,
		    "windows_used")) == 1 ? "" : "s",
		    num(q, "heart_rate_bpm"));
	/* what staff quote to find the decision in the audit log */
	if (json_is_string(json_object_get(j, "request_id")))
		printf(", request %s", str(j, "request_id"));
	printf("\n");
	return accept ? EXIT_ACCEPT : EXIT_REJECT;
}

/* Prints an error answer (a problem document if it is one). */
static void
print_problem(const char *rec, long status, const struct response *r)
{
	json_t *j = r->p ? json_loads(r->p, 0, NULL) : NULL;
	const char *title = json_string_value(json_object_get(j, "title"));
	const char *detail = json_string_value(json_object_get(j, "detail"));

	if (title != NULL)
		fprintf(stderr, "dt4ecg-kiosk: %s: HTTP %ld %s%s%s\n", rec,
		    status, title, detail ? ": " : "", detail ? detail : "");
	else
		fprintf(stderr, "dt4ecg-kiosk: %s: HTTP %ld%s%.200s\n", rec,
		    status, r->len ? ": " : "", r->p ? r->p : "");
	json_decref(j);
}

static int
post(struct client *c, const char *rec, const char *body, size_t len,
    struct response *r, long *status)
{
	struct dt_error err = { 0 };
	struct kiosk_sig sig;
	struct curl_slist *h = NULL, *nh;
	char line[HTTPSIG_HEADER_MAX + 32];
	CURLcode cc;
	int rc = -1;

	if (kiosk_sign(c->path, c->o.kiosk_id, c->sk, body, len,
	    (int64_t)time(NULL), NULL, &sig, &err) != 0) {
		fprintf(stderr, "dt4ecg-kiosk: %s: signing: %s\n", rec,
		    err.msg);
		return -1;
	}
	h = curl_slist_append(h, "Content-Type: application/json");
	h = h ? curl_slist_append(h, "Accept: application/json, "
	    "application/problem+json") : NULL;
	snprintf(line, sizeof(line), "Content-Digest: %s", sig.content_digest);
	nh = h ? curl_slist_append(h, line) : NULL;
	h = nh ? nh : h;
	snprintf(line, sizeof(line), "Signature-Input: %s",
	    sig.signature_input);
	nh = nh ? curl_slist_append(h, line) : NULL;
	h = nh ? nh : h;
	snprintf(line, sizeof(line), "Signature: %s", sig.signature);
	nh = nh ? curl_slist_append(h, line) : NULL;
	h = nh ? nh : h;
	/* dt4ecgd refuses a stale or unknown signature from the headers and
	 * closes without reading the body: waiting for its "100 Continue"
	 * lets the refusal arrive instead of a reset (RFC 9112 section 9.6) */
	nh = nh ? curl_slist_append(h, "Expect: 100-continue") : NULL;
	if (nh == NULL) {
		fprintf(stderr, "dt4ecg-kiosk: out of memory\n");
		goto out;
	}
	h = nh;
	free(r->p);
	memset(r, 0, sizeof(*r));
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)len);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, r);
	if ((cc = curl_easy_perform(c->curl)) != CURLE_OK) {
		fprintf(stderr, "dt4ecg-kiosk: %s: %s: %s%s\n", rec, c->url,
		    r->too_big ? "answer larger than 1 MiB" :
		    curl_easy_strerror(cc), tls_hint(cc, &c->o));
		goto out;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
	if (c->o.verbose)
		fprintf(stderr, "dt4ecg-kiosk: %s: nonce %s: HTTP %ld\n", rec,
		    sig.nonce, *status);
	rc = 0;
out:
	curl_slist_free_all(h);
	return rc;
}

static void
sleep_s(double s)
{
	struct timespec ts;

	if (!(s > 0))
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int
send_one(struct client *c, const char *rec)
{
	struct dt_error err = { 0 };
	struct response r = { 0 };
	float *mv = NULL;
	char *body = NULL;
	size_t n = 0, start, count, len = 0;
	double fs;
	long status = 0;
	json_t *j = NULL;
	int attempt, rc = EXIT_ERROR;

	if (c->n_sent++ > 0)
		sleep_s(c->o.interval);
	if (ecg_load_signal(rec, c->fmt, c->o.fs, c->o.signal, &mv, &n, &fs,
	    &err) != 0) {
		fprintf(stderr, "dt4ecg-kiosk: %s\n", err.msg);
		return EXIT_ERROR;
	}
	if (kiosk_segment(n, fs, c->o.offset, c->o.seconds, &start, &count,
	    &err) != 0 || kiosk_body(mv + start, count, fs, c->o.claimed,
	    &body, &len, &err) != 0) {
		fprintf(stderr, "dt4ecg-kiosk: %s: %s\n", rec, err.msg);
		goto out;
	}
	for (attempt = 0;; attempt++) {
		if (post(c, rec, body, len, &r, &status) != 0)
			goto out;
		if (status != 429 || attempt >= c->o.retries)
			break;
		fprintf(stderr, "dt4ecg-kiosk: %s: rate limited, retrying in "
		    "%ld s\n", rec, retry_after(c->curl));
		sleep_s((double)retry_after(c->curl));
	}
	if (c->o.json) {
		/* the raw answer, one line per recording */
		printf("%s\n", r.p ? r.p : "");
		if (status != 200) {
			print_problem(rec, status, &r);
			goto out;
		}
	} else if (status != 200) {
		print_problem(rec, status, &r);
		goto out;
	}
	if ((j = json_loads(r.p ? r.p : "", 0, NULL)) == NULL ||
	    !json_is_object(j)) {
		fprintf(stderr, "dt4ecg-kiosk: %s: HTTP 200 but the answer is "
		    "not a JSON object\n", rec);
		goto out;
	}
	if (c->o.json) {
		const char *d = str(j, "decision");

		rc = strcmp(d, "accept") == 0 ? EXIT_ACCEPT :
		    strcmp(d, "reject") == 0 ? EXIT_REJECT : EXIT_ERROR;
	} else
		rc = print_decision(rec, j);
out:
	fflush(stdout);
	json_decref(j);
	free(r.p);
	if (body != NULL) {
		sodium_memzero(body, len);
		free(body);
	}
	ecg_samples_free(mv, n);
	return rc;
}

static int
fold(int acc, int rc)
{
	if (acc == EXIT_ERROR || rc == EXIT_ERROR)
		return EXIT_ERROR;
	if (acc == EXIT_REJECT || rc == EXIT_REJECT)
		return EXIT_REJECT;
	return EXIT_ACCEPT;
}

static bool
has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Every WFDB record (NAME.hea) and CSV/TSV file under DIR, sorted. */
static int
replay(struct client *c, const char *dir, int depth, int *acc, int *found)
{
	struct dirent **ents = NULL;
	struct stat sb;
	char path[4096];
	int i, n;

	if ((n = scandir(dir, &ents, NULL, versionsort)) < 0) {
		fprintf(stderr, "dt4ecg-kiosk: --replay %s: %s\n", dir,
		    strerror(errno));
		*acc = EXIT_ERROR;
		return -1;
	}
	for (i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;

		if (name[0] == '.' || (size_t)snprintf(path, sizeof(path),
		    "%s/%s", dir, name) >= sizeof(path))
			continue;
		if (stat(path, &sb) != 0)
			continue;
		if (S_ISDIR(sb.st_mode)) {
			if (depth < REPLAY_DEPTH)
				replay(c, path, depth + 1, acc, found);
			continue;
		}
		if (has_suffix(name, ".hea"))
			path[strlen(path) - 4] = '\0';
		else if (!has_suffix(name, ".csv") && !has_suffix(name,
		    ".tsv"))
			continue;
		(*found)++;
		*acc = fold(*acc, send_one(c, path));
	}
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	return 0;
}

/* The request URL and its path: URL's own path, or /v1/authenticate
 * when it has none. */
static int
setup_url(struct client *c)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *path = NULL, *full = NULL;
	int rc = -1;

	if (u == NULL || curl_url_set(u, CURLUPART_URL, c->o.url, 0) !=
	    CURLUE_OK || curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) !=
	    CURLUE_OK) {
		fprintf(stderr, "dt4ecg-kiosk: --url %s: not a URL\n",
		    c->o.url);
		goto out;
	}
	if (strcmp(scheme, "https") != 0) {
		fprintf(stderr, "dt4ecg-kiosk: --url %s: dt4ecgd speaks HTTPS "
		    "only\n", c->o.url);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK ||
	    strcmp(path, "/") == 0 || path[0] == '\0') {
		if (curl_url_set(u, CURLUPART_PATH, KIOSK_PATH, 0) !=
		    CURLUE_OK)
			goto out;
	}
	curl_free(path);
	path = NULL;
	if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK ||
	    (c->path = strdup(path)) == NULL || (c->url = strdup(full)) ==
	    NULL)
		goto out;
	rc = 0;
out:
	curl_free(scheme);
	curl_free(path);
	curl_free(full);
	curl_url_cleanup(u);
	return rc;
}

static int
setup_curl(struct client *c)
{
	CURL *h;

	if ((c->curl = h = curl_easy_init()) == NULL)
		return -1;
	curl_easy_setopt(h, CURLOPT_URL, c->url);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, c->o.timeout);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "dt4ecg-kiosk/" PACKAGE_VERSION);
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	if (c->o.cacert != NULL &&
	    curl_easy_setopt(h, CURLOPT_CAINFO, c->o.cacert) != CURLE_OK)
		return -1;
	if (c->o.pin != NULL) {
		if (curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, c->o.pin) !=
		    CURLE_OK) {
			fprintf(stderr, "dt4ecg-kiosk: --pin: this libcurl "
			    "cannot pin public keys\n");
			return -1;
		}
		/* the pin alone authenticates the server (self-signed) */
		if (c->o.cacert == NULL) {
			curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
			curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "key", required_argument, NULL, 'k' },
		{ "kiosk-id", required_argument, NULL, 'i' },
		{ "cacert", required_argument, NULL, 'C' },
		{ "pin", required_argument, NULL, 'P' },
		{ "claimed", required_argument, NULL, 'c' },
		{ "format", required_argument, NULL, 'F' },
		{ "fs", required_argument, NULL, 'f' },
		{ "signal", required_argument, NULL, 's' },
		{ "seconds", required_argument, NULL, 'S' },
		{ "offset", required_argument, NULL, 'O' },
		{ "interval", required_argument, NULL, 'I' },
		{ "timeout", required_argument, NULL, 't' },
		{ "retries", required_argument, NULL, 'r' },
		{ "replay", required_argument, NULL, 'R' },
		{ "json", no_argument, NULL, 'j' },
		{ "version", no_argument, NULL, 'V' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct client c = { .o = { .seconds = 8, .timeout = 30, .signal = -1,
	    .retries = 2 } };
	struct dt_error err = { 0 };
	double d;
	bool loose = false;
	int ch, i, rc = EXIT_ACCEPT, found = 0;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'u': c.o.url = optarg; break;
		case 'k': c.o.key = optarg; break;
		case 'i': c.o.kiosk_id = optarg; break;
		case 'C': c.o.cacert = optarg; break;
		case 'P': c.o.pin = optarg; break;
		case 'c': c.o.claimed = optarg; break;
		case 'F': c.o.format = optarg; break;
		case 'R': c.o.replay = optarg; break;
		case 'j': c.o.json = 1; break;
		case 'v': c.o.verbose = 1; break;
		case 'f':
			if (parse_double("--fs", optarg, 50, 2000, &c.o.fs))
				return EXIT_USAGE;
			break;
		case 's':
			if (parse_double("--signal", optarg, 0, 1000, &d) ||
			    d != floor(d))
				return EXIT_USAGE;
			c.o.signal = (int)d;
			break;
		case 'S':
			if (parse_double("--seconds", optarg, 0, 3600,
			    &c.o.seconds))
				return EXIT_USAGE;
			break;
		case 'O':
			if (parse_double("--offset", optarg, 0, 86400,
			    &c.o.offset))
				return EXIT_USAGE;
			break;
		case 'I':
			if (parse_double("--interval", optarg, 0, 3600,
			    &c.o.interval))
				return EXIT_USAGE;
			break;
		case 't':
			if (parse_double("--timeout", optarg, 1, 3600, &d))
				return EXIT_USAGE;
			c.o.timeout = (long)d;
			break;
		case 'r':
			if (parse_double("--retries", optarg, 0, 100, &d) ||
			    d != floor(d))
				return EXIT_USAGE;
			c.o.retries = (int)d;
			break;
		case 'h':
			usage(stdout);
			return EXIT_ACCEPT;
		case 'V':
			printf("dt4ecg-kiosk (%s) %s\n", PACKAGE_NAME,
			    PACKAGE_VERSION);
			return EXIT_ACCEPT;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (c.o.url == NULL || c.o.key == NULL || c.o.kiosk_id == NULL ||
	    (optind == argc) == (c.o.replay == NULL)) {
		fprintf(stderr, "dt4ecg-kiosk: %s\n", c.o.url == NULL ?
		    "--url is required" : c.o.key == NULL ? "--key is required"
		    : c.o.kiosk_id == NULL ? "--kiosk-id is required" :
		    c.o.replay ? "give recordings or --replay DIR, not both" :
		    "no recording given");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (c.o.pin != NULL && strncmp(c.o.pin, "sha256//", 8) != 0) {
		fprintf(stderr, "dt4ecg-kiosk: --pin %s: expected "
		    "sha256//BASE64 (the SHA-256 of the server's public key)\n",
		    c.o.pin);
		return EXIT_USAGE;
	}
	if (ecg_format_parse(c.o.format, &c.fmt) != 0) {
		fprintf(stderr, "dt4ecg-kiosk: --format %s: expected wfdb or "
		    "csv\n", c.o.format);
		return EXIT_USAGE;
	}
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "dt4ecg-kiosk: cannot initialise libsodium or "
		    "libcurl\n");
		return EXIT_ERROR;
	}
	if (kiosk_key_load(c.o.key, &c.sk, &loose, &err) != 0) {
		fprintf(stderr, "dt4ecg-kiosk: %s\n", err.msg);
		rc = EXIT_ERROR;
		goto out;
	}
	if (loose)
		fprintf(stderr, "dt4ecg-kiosk: warning: key file %s is "
		    "accessible by group or others (chmod 600 %s)\n", c.o.key,
		    c.o.key);
	if (setup_url(&c) != 0) {
		rc = EXIT_USAGE;
		goto out;
	}
	if (setup_curl(&c) != 0) {
		fprintf(stderr, "dt4ecg-kiosk: cannot set up libcurl\n");
		rc = EXIT_ERROR;
		goto out;
	}
	if (c.o.replay != NULL) {
		replay(&c, c.o.replay, 0, &rc, &found);
		if (found == 0 && rc != EXIT_ERROR) {
			fprintf(stderr, "dt4ecg-kiosk: --replay %s: no "
			    "recording (*.hea, *.csv, *.tsv) found\n",
			    c.o.replay);
			rc = EXIT_ERROR;
		}
	} else
		for (i = optind; i < argc; i++)
			rc = fold(rc, send_one(&c, argv[i]));
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "dt4ecg-kiosk: standard output: write error\n");
		rc = EXIT_ERROR;
	}
out:
	kiosk_key_free(c.sk);
	if (c.curl != NULL)
		curl_easy_cleanup(c.curl);
	free(c.url);
	free(c.path);
	curl_global_cleanup();
	return rc;
}
