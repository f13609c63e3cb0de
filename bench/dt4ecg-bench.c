/*
 * bench/dt4ecg-bench.c — the benchmarks of DESIGN.md section 9, one program
 * with a subcommand each.  Readable tables by default, one JSON object per line
 * and configuration with --json.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "bench/bench.h"

static const struct {
	const char *name;
	int (*main)(int, char **);
	const char *what;
} subcommands[] = {
	{ "infer", bench_infer_main, "inference latency and throughput (oneDNN vs plain C)" },
	{ "match", bench_match_main, "1:N matching latency and memory (index vs naive loop)" },
	{ "train", bench_train_main, "training throughput (windows/s, GFLOP/s), with and without GradNorm" },
	{ "load", bench_load_main, "signed requests against dt4ecgd vs raw inference" },
	{ "soak", bench_soak_main, "a long mixed valid/malformed/replayed load on dt4ecgd (run it under ASan)" },
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: dt4ecg-bench SUBCOMMAND [OPTIONS] [--json]\n");
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(f, "  %-8s %s\n", subcommands[i].name,
		    subcommands[i].what);
}

int
main(int argc, char **argv)
{
	size_t i;

	if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		printf("dt4ecg-bench (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (strcmp(argv[1], subcommands[i].name) == 0)
			return subcommands[i].main(argc - 1, argv + 1);
	fprintf(stderr, "dt4ecg-bench: unknown subcommand '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
