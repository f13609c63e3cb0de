#!/bin/sh
# Replays the seed corpus of fuzz/fuzz_body.c (under ASan/UBSan when built
# with --enable-sanitizers).
exec "${DT4ECG_BUILDDIR:-.}/fuzz/fuzz_body" "${DT4ECG_SRCDIR:-..}/fuzz/corpus/body"
