/*
 * daemon/main.c — dt4ecgd: arguments, the first generation, the HTTPS
 * server, and the main thread's signal loop.
 *
 *	dt4ecgd [-c FILE] [-f] [-v]
 *
 * Inference runs on its own threads behind a bounded queue (queue.c),
 * started before the HTTPS server and stopped after it.
 *
 * The main thread never serves: it blocks SIGHUP, SIGTERM and SIGINT before
 * any thread starts (so they are delivered to it only) and waits for them
 * with sigtimedwait(), pinging the systemd watchdog in between.
 *   SIGHUP   RELOADING=1; build a new generation (configuration, TLS
 *            certificate and key, store key, the store with its active
 *            model); if anything fails, log it and keep serving the old
 *            one.  Otherwise start a second HTTPS server on the same
 *            address (SO_REUSEPORT), publish the generation, quiesce the
 *            old server and stop it once its requests in flight are done;
 *            READY=1.
 *   SIGTERM  STOPPING=1; quiesce, drain (at most timeout_s), stop, exit 0.
 */
#include "config.h"

#include <getopt.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "daemon/body.h"
#include "daemon/dmn.h"
#include "daemon/replay.h"
#include "nn/net.h"
#include "util/log.h"

/* One default, whatever the prefix, as the man pages and docs say; the
 * systemd unit passes -c @sysconfdir@/dt4ecgd/dt4ecgd.conf itself. */
#define DEFAULT_CONF "/etc/dt4ecgd/dt4ecgd.conf"

static void
usage(FILE *f)
{
	fprintf(f, "usage: dt4ecgd [-c FILE] [-f] [-v]\n"
	    "       dt4ecgd --help | --version\n"
	    "  -c FILE  configuration (default %s)\n"
	    "  -f       foreground: log to stderr without priority prefixes\n"
	    "  -v       more verbose (repeat for debug)\n", DEFAULT_CONF);
}

static void
notify_reloading(void)
{
	struct timespec ts;
	char msg[96];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
	sdnotify(msg);
}

/* What the rate limit lets one kiosk send within the nonce window: its
 * share of the replay cache (at most half of it). */
static void
replay_share(struct replay *replay, const struct cfg *c)
{
	double n = ceil(cfg_kiosk_burst(c) + cfg_kiosk_rate(c) *
	    (double)replay_window(replay)) + 1;
	double half = c->replay_capacity / 2.0;

	replay_set_quota(replay, (size_t)(n < half ? n : half));
}

static void
reload(const char *conf, struct replay *replay, struct server **srv)
{
	struct dt_error err = { 0 };
	struct dmn_gen *old, *g = NULL;
	struct server *ns = NULL, *os = *srv;
	double drain;

	notify_reloading();
	log_info("reloading %s", conf);
	old = dmn_gen_get();
	if (dmn_gen_build(conf, old, replay, &g, &err) != 0) {
		log_warnx("reload refused, the running configuration keeps "
		    "serving: %s", err.msg);
		goto out;
	}
	if (g->cfg.replay_capacity != old->cfg.replay_capacity ||
	    g->cfg.replay_window_s != old->cfg.replay_window_s)
		log_warnx("replay_capacity and replay_window_s take effect at "
		    "the next restart (the nonce cache is kept across reloads)");
	if (server_start(g, old, &ns, &err) != 0) {
		log_warnx("reload refused, the running server keeps serving: "
		    "%s", err.msg);
		dmn_gen_put(g);
		goto out;
	}
	drain = old->cfg.timeout_s;
	replay_share(replay, &g->cfg);
	queue_set_capacity(g->cfg.queue_max);
	queue_set_batch(g->cfg.batch_max, g->cfg.batch_wait_ms / 1e3);
	dmn_gen_publish(g);
	*srv = ns;
	server_stop(os, drain);
	log_info("reloaded: generation %llu",
	    (unsigned long long)g->id);
out:
	dmn_gen_put(old);
	sdnotify("READY=1\nSTATUS=serving");
}

int
main(int argc, char **argv)
{
	struct dt_error err = { 0 };
	const char *conf = DEFAULT_CONF;
	struct replay *replay = NULL;
	struct server *srv = NULL;
	struct dmn_gen *g = NULL;
	struct cfg c;
	sigset_t set;
	siginfo_t si;
	struct timespec tmo;
	double wd;
	bool foreground = false, journald;
	int ch, verbose = 0, sig, rc = 1;

	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};

	while ((ch = getopt_long(argc, argv, "c:fhv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("dt4ecgd (%s) %s\n", PACKAGE_NAME,
			    PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	journald = getenv("JOURNAL_STREAM") != NULL || !foreground;
	log_init("dt4ecgd", journald);
	log_setverbose(verbose);
	if (sodium_init() < 0)
		fatalx("sodium_init failed");
	body_wipe_json_allocs();

	/* Before any thread exists: they all inherit the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		fatalx("pthread_sigmask failed");
	signal(SIGPIPE, SIG_IGN);

	if (worker_init(&err) != 0)
		fatalx("%s", err.msg);
	if (cfg_load(conf, &c, &err) != 0) {
		log_warnx("%s", err.msg);
		goto out;
	}
	/* before any network is built; like threads, fixed until restart */
	nn_set_precision(strcmp(c.precision, "int8") == 0 ? NN_PREC_INT8 :
	    NN_PREC_F32);
	if (replay_create(c.replay_capacity, c.replay_window_s, &replay,
	    &err) != 0 || dmn_gen_build(conf, NULL, replay, &g, &err) != 0) {
		log_warnx("%s", err.msg);
		goto out;
	}
	if (queue_start(cfg_threads(&c), c.queue_max, &err) != 0) {
		log_warnx("%s", err.msg);
		dmn_gen_put(g);
		goto out;
	}
	queue_set_batch(c.batch_max, c.batch_wait_ms / 1e3);
	replay_share(replay, &c);
	if (server_start(g, NULL, &srv, &err) != 0) {
		log_warnx("%s", err.msg);
		dmn_gen_put(g);
		goto out;
	}
	dmn_gen_publish(g);
	log_info("serving https on %s port %u, %u thread(s)", c.listen,
	    c.port, cfg_threads(&c));
	sdnotify("READY=1\nSTATUS=serving");
	anchor_tick(true);

	wd = sdnotify_watchdog_interval();
	for (;;) {
		double step = anchor_step(wd > 0 ? wd : 3600);

		tmo.tv_sec = (time_t)step;
		tmo.tv_nsec = (long)((step - (double)tmo.tv_sec) * 1e9);
		sig = sigtimedwait(&set, &si, &tmo);
		if (sig == -1) {
			if (errno == EAGAIN && wd > 0)
				sdnotify("WATCHDOG=1");
			anchor_tick(false);
			continue;
		}
		if (sig == SIGHUP) {
			reload(conf, replay, &srv);
			continue;
		}
		log_info("%s: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		break;
	}
	sdnotify("STOPPING=1");
	g = dmn_gen_get();
	server_stop(srv, g->cfg.timeout_s);
	dmn_gen_put(g);
	anchor_tick(true);	/* the last entries of this run */
	rc = 0;
	log_info("stopped");
out:
	queue_stop();
	dmn_gen_publish(NULL);
	replay_free(replay);
	worker_shutdown();
	return rc;
}
