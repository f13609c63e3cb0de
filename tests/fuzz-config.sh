#!/bin/sh
# Replays the seed corpus of fuzz/fuzz_config.c (under ASan/UBSan when built
# with --enable-sanitizers).
exec "${DT4ECG_BUILDDIR:-.}/fuzz/fuzz_config" "${DT4ECG_SRCDIR:-..}/fuzz/corpus/config"
