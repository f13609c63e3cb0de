#!/bin/sh
# Replays the seed corpus of fuzz/fuzz_anchor.c (under ASan/UBSan when built
# with --enable-sanitizers).
exec "${DT4ECG_BUILDDIR:-.}/fuzz/fuzz_anchor" "${DT4ECG_SRCDIR:-..}/fuzz/corpus/anchor"
