/*
 * daemon/cfg.h — dt4ecgd.conf (DESIGN.md section 7): `key = value` lines,
 * `#` comments (whole lines, or after whitespace at the end of a line), one
 * table {name, type, offset, default, min, max} (as in redis' config.c).
 * Unknown keys, duplicate keys, malformed or out-of-range values are errors
 * naming the file and line.  The file is etc/dt4ecgd.conf; every key is
 * documented there.
 *
 * (Named cfg, not config: daemon/config.h would shadow autoconf's config.h
 * for every file in daemon/.)
 */
#ifndef DT_DAEMON_CFG_H
#define DT_DAEMON_CFG_H

#include <stddef.h>

#include "util/error.h"

#define CFG_STR_MAX 1024
#define CFG_LINE_MAX 4096
#define CFG_FILE_MAX (1024 * 1024)

struct cfg {
	char listen[CFG_STR_MAX];	/* address to bind */
	unsigned port;
	char tls_cert[CFG_STR_MAX];
	char tls_key[CFG_STR_MAX];
	char store[CFG_STR_MAX];	/* SQLite file */
	char store_key[CFG_STR_MAX];	/* its key file */
	unsigned threads;		/* 0: number of cores */
	unsigned network_threads;	/* per inference thread, 0: share */
	double threshold;		/* cosine similarity to accept */
	unsigned max_body;		/* bytes */
	unsigned clock_skew_s;
	double rate_per_kiosk;		/* requests per second */
	double rate_burst;
	unsigned chain_replicas;		/* a kiosk's requests spread over */
	unsigned template_updates;	/* adapted templates per member, 0 off */
	double template_update_margin;	/* above threshold to adapt */
	unsigned template_update_interval_s;	/* between a member's */
	unsigned lockout_failures;
	unsigned lockout_s;
	unsigned replay_window_s;
	unsigned replay_capacity;
	unsigned connection_limit;
	unsigned per_ip_limit;
	unsigned timeout_s;
	unsigned max_duration_s;	/* seconds of ECG in one request */
	unsigned queue_max;		/* requests waiting for inference */
	unsigned batch_max;		/* windows in one network batch */
	double batch_wait_ms;		/* gathering a batch, at most */
	unsigned kiosk_lockout_failures;
	unsigned kiosk_lockout_s;
	unsigned header_timeout_s;	/* connection to end of headers */
	unsigned body_timeout_s;	/* connection to end of body */
	unsigned audit_anchor_s;	/* 0: no anchors */
	char audit_anchor_file[CFG_STR_MAX];
	char precision[CFG_STR_MAX];	/* network: "f32" or "int8" */
};

/* The built-in defaults (those of etc/dt4ecgd.conf). */
void cfg_defaults(struct cfg *c);

/*
 * Parses len bytes of configuration text over the defaults; `name` (the
 * file name) prefixes every error message ("name:line: ...").  *out is set
 * only on success.  0 / -1.
 */
int cfg_parse(const char *name, const char *text, size_t len,
    struct cfg *out, struct dt_error *err);

/* Reads and parses the file at path (at most CFG_FILE_MAX bytes). */
int cfg_load(const char *path, struct cfg *out, struct dt_error *err);

/* c->threads, or the number of online cores when it is 0. */
unsigned cfg_threads(const struct cfg *c);
/* This replica's share of the per-kiosk token bucket: rate_per_kiosk and
 * rate_burst divided by chain_replicas (the burst at least 1), so that the
 * configured figures hold for a chain whose balancer spreads a kiosk's
 * requests over its replicas. */
double cfg_kiosk_rate(const struct cfg *c);
double cfg_kiosk_burst(const struct cfg *c);

#endif /* DT_DAEMON_CFG_H */
