#!/bin/sh
# Replays the seed corpus of fuzz/fuzz_httpsig.c (under ASan/UBSan when built
# with --enable-sanitizers).
exec "${DT4ECG_BUILDDIR:-.}/fuzz/fuzz_httpsig" "${DT4ECG_SRCDIR:-..}/fuzz/corpus/httpsig"
