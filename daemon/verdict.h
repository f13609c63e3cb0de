/*
 * daemon/verdict.h — the two numeric checks of a decision, failing closed:
 * a score accepts only when it is a number at or above the threshold (a
 * NaN compares false both ways, so "score < threshold" would let it
 * through), and an embedding is used only when every component is finite.
 */
#ifndef DT_DAEMON_VERDICT_H
#define DT_DAEMON_VERDICT_H

#include <stdbool.h>

bool verdict_accepts(float score, double threshold);
bool verdict_finite(const float *v, int n);

#endif /* DT_DAEMON_VERDICT_H */
