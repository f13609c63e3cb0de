#!/bin/sh
# Replays the csv seed corpus through fuzz/fuzz_csv (fuzz/driver.c).
exec "${DT4ECG_BUILDDIR:-.}/fuzz/fuzz_csv" "${DT4ECG_SRCDIR:-.}/fuzz/corpus/csv"
