# Fuzz targets: each defines LLVMFuzzerTestOneInput.  Built with gcc they link
# fuzz/driver.c and replay their seed corpus in `make check`; built with clang
# and -fsanitize=fuzzer (scripts/fuzz.sh) they are libFuzzer targets.
FUZZ_DRIVER = fuzz/driver.c
