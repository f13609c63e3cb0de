# dt4ecg-bench: built by `make`, not installed (DESIGN.md section 9).
noinst_PROGRAMS += bench/dt4ecg-bench
bench_dt4ecg_bench_SOURCES = \
	bench/dt4ecg-bench.c bench/bench.c bench/bench.h \
	bench/bench_infer.c bench/bench_match.c
bench_dt4ecg_bench_CFLAGS = $(AM_CFLAGS)
bench_dt4ecg_bench_LDADD = $(NN_LIBS) $(STORE_LIBS)
