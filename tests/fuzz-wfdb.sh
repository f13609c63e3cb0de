#!/bin/sh
# Replays the wfdb seed corpus through fuzz/fuzz_wfdb (fuzz/driver.c).
exec "${DT4ECG_BUILDDIR:-.}/fuzz/fuzz_wfdb" "${DT4ECG_SRCDIR:-.}/fuzz/corpus/wfdb"
