/* daemon/verdict.c — see verdict.h. */
#include "config.h"

#include <math.h>

#include "daemon/verdict.h"

bool
verdict_accepts(float score, double threshold)
{
	return isfinite(score) && (double)score >= threshold;
}

bool
verdict_finite(const float *v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return false;
	return true;
}
