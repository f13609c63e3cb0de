# dt4ecg-bench: built by `make`, not installed (DESIGN.md section 9).
noinst_PROGRAMS += bench/dt4ecg-bench
bench_dt4ecg_bench_SOURCES = \
	bench/dt4ecg-bench.c bench/bench.c bench/bench.h \
	bench/bench_infer.c bench/bench_match.c \
	bench/bench_load.c bench/bench_chain.c bench/bench_raw.c \
	bench/bench_soak.c \
	bench/bench_train.c
bench_dt4ecg_bench_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) $(SODIUM_CFLAGS)
bench_dt4ecg_bench_LDADD = $(DTTEST_LIBS) libdaemon.a libproto.a $(PIPELINE_LIBS) $(STORE_LIBS) \
	$(CURL_LIBS) $(JANSSON_LIBS) $(SODIUM_LIBS)
# bench/chain-load.sh: dt4ecg-bench load --replicas on a throwaway PostgreSQL
EXTRA_DIST += bench/chain-load.sh
