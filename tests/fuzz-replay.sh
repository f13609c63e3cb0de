#!/bin/sh
# The LOG_COMPILER of every fuzz test (fuzz/local.mk): a TESTS entry
# fuzz/<name>.fuzz replays the seed corpus fuzz/corpus/<name>/ through the
# target fuzz/fuzz_<name> (fuzz/driver.c), under ASan/UBSan when built with
# --enable-sanitizers.  A new fuzz target needs only its FUZZ_TESTS line.
name=$(basename "$1" .fuzz)
exec "${DT4ECG_BUILDDIR:-.}/fuzz/fuzz_$name" \
    "${DT4ECG_SRCDIR:-..}/fuzz/corpus/$name"
