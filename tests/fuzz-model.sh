#!/bin/sh
# Replays the seed corpus of the model-file fuzz target (make check).
exec "${DT4ECG_BUILDDIR:-.}/fuzz/fuzz_model" "${DT4ECG_SRCDIR:-.}/fuzz/corpus/model"
