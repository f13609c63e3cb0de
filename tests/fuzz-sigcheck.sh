#!/bin/sh
# Replays the sigcheck seed corpus through fuzz/fuzz_sigcheck (fuzz/driver.c).
exec "${DT4ECG_BUILDDIR:-.}/fuzz/fuzz_sigcheck" "${DT4ECG_SRCDIR:-.}/fuzz/corpus/sigcheck"
