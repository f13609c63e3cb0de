/*
 * tests/support.h — what several test programs need alike: a tiny network's
 * hyperparameters, random input windows, a recording of the public data
 * sets.  Part of libdttest.a (tests/local.mk) with tests/dmn_harness.c (the
 * daemon harness and its HTTP client) and tests/nonecg.c (signals that are
 * not ECGs); a test links the library and gets only the objects it uses.
 */
#ifndef TESTS_SUPPORT_H
#define TESTS_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

struct nn_hparams;

/* nn_hparams_default() shrunk to two stages of 8 and 16 channels and an
 * 8-wide embedding, for WINDOW samples and ACT_HIDDEN activity units. */
void tt_tiny_hp(struct nn_hparams *hp, int window, int act_hidden);

/* N windows of W standard-normal samples from SEED (dt_rng); malloc'd
 * (aborts when out of memory: a test cannot go on). */
float *tt_random_windows(int n, int w, uint64_t seed);

/* The WFDB recording $DT4ECG_DATA/REL in mV (ecg_load_signal); -1 when
 * $DT4ECG_DATA is not set, or with a message on stderr when it cannot be
 * read. */
int tt_load_wfdb(const char *rel, float **mv, size_t *n, double *fs);

#endif /* TESTS_SUPPORT_H */
