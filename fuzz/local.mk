# Fuzz targets: each defines LLVMFuzzerTestOneInput.  Built with gcc they link
# fuzz/driver.c and replay their seed corpus in `make check`; built with clang
# and -fsanitize=fuzzer (scripts/fuzz.sh) they are libFuzzer targets.
FUZZ_DRIVER = fuzz/driver.c

# Each fragment adds its targets' tests as FUZZ_TESTS += fuzz/<name>.fuzz; one
# LOG_COMPILER replays fuzz/corpus/<name>/ through fuzz/fuzz_<name>.  The
# .fuzz names are not files: the empty rule lets the .fuzz.log rule run.
FUZZ_TESTS =
TEST_EXTENSIONS = .fuzz
FUZZ_LOG_COMPILER = $(SHELL) $(top_srcdir)/tests/fuzz-replay.sh
TESTS += $(FUZZ_TESTS)
EXTRA_DIST += tests/fuzz-replay.sh
$(FUZZ_TESTS):
