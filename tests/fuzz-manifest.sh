#!/bin/sh
# Replays the seed corpus of the manifest fuzz target (make check).
exec "${DT4ECG_BUILDDIR:-.}/fuzz/fuzz_manifest" "${DT4ECG_SRCDIR:-.}/fuzz/corpus/manifest"
