/* tests/nonecg.c — signals that are not ECGs (nonecg.h). */
#include "config.h"

#include <math.h>

#include "tests/nonecg.h"

const char *
nonecg_name(enum nonecg_kind k)
{
	static const char *const names[] = { "white noise", "sine",
	    "square wave", "saw wave", "random walk" };

	return k < NONECG_N ? names[k] : "?";
}

static uint64_t
next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double
gauss(uint64_t *s)
{
	double u1 = ((double)(next(s) >> 11) + 1.0) / 9007199254740993.0;
	double u2 = (double)(next(s) >> 11) / 9007199254740992.0;

	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void
nonecg_fill(enum nonecg_kind k, float *x, size_t n, double fs, double amp,
    double f, uint64_t seed)
{
	double walk = 0, ph;
	size_t i;

	for (i = 0; i < n; i++) {
		ph = fmod(f * (double)i / fs, 1.0);
		switch (k) {
		case NONECG_NOISE:
			x[i] = (float)(amp * gauss(&seed));
			break;
		case NONECG_SINE:
			x[i] = (float)(amp * sin(2.0 * M_PI * ph));
			break;
		case NONECG_SQUARE:
			/* a little noise, or the clipping check (a signal
			 * sitting on its rails) refuses it first */
			x[i] = (float)((ph < 0.5 ? amp : -amp) +
			    0.005 * amp * gauss(&seed));
			break;
		case NONECG_SAW:
			x[i] = (float)(amp * (2.0 * ph - 1.0));
			break;
		case NONECG_WALK:
		default:
			walk += amp * gauss(&seed);
			x[i] = (float)walk;
			break;
		}
	}
}
