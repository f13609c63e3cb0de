/*
 * tests/nonecg.h — signals that are not ECGs, for the signal check's tests
 * (tests/test_sigcheck.c, tests/sigcheck_frr.c): white noise, a sine, a
 * square wave, a saw wave and a random walk, in mV at any rate.
 */
#ifndef TESTS_NONECG_H
#define TESTS_NONECG_H

#include <stddef.h>
#include <stdint.h>

enum nonecg_kind {
	NONECG_NOISE,
	NONECG_SINE,
	NONECG_SQUARE,
	NONECG_SAW,
	NONECG_WALK,
	NONECG_N
};

const char *nonecg_name(enum nonecg_kind k);

/* n samples at fs Hz of kind k: amplitude amp (mV; the noise's standard
 * deviation, the walk's step), frequency f Hz (periodic kinds), seeded. */
void nonecg_fill(enum nonecg_kind k, float *x, size_t n, double fs,
    double amp, double f, uint64_t seed);

#endif /* TESTS_NONECG_H */
