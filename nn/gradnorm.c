/*
 * nn/gradnorm.c — GradNorm loss balancing (Chen et al., ICML 2018) for the
 * two tasks of DESIGN.md section 2, identity (0) and activity (1).
 *
 * The trainer measures gnorm_i = ||grad_W L_i||_2 at the shared layer W
 * (stages.{S-1}.conv2.weight) for each task separately; then
 *   G_i    = ||grad_W (w_i L_i)|| = w_i gnorm_i          (w_i > 0)
 *   r_i    = (L_i / L_i(0)) / mean_j (L_j / L_j(0))
 *   L_grad = sum_i |G_i - mean(G) r_i^alpha|,  the target held constant,
 * so dL_grad/dw_i = sign(G_i - target_i) gnorm_i.  The weights take one Adam
 * step (betas 0.9 / 0.999, eps 1e-8, as torch.optim.Adam), are clamped at
 * 1e-3 and renormalised so that w_0 + w_1 = 2.
 * With nn_train_opts.gradnorm_features the trainer measures gnorm_i at the
 * shared pooled features instead of W (a variant; the rule is the same).
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "nn/train_internal.h"

void
nn_gradnorm_init(struct nn_gradnorm *g, float alpha)
{
	memset(g, 0, sizeof(*g));
	g->w[0] = g->w[1] = 1.0f;
	g->alpha = alpha;
}

void
nn_gradnorm_observe(struct nn_gradnorm *g, const float L[2],
    const bool active[2])
{
	int i;

	for (i = 0; i < 2; i++)
		if (active[i] && !g->have_L0[i]) {
			/* a zero first loss would make every ratio infinite */
			g->L0[i] = L[i] > 1e-12f ? L[i] : 1e-12f;
			g->have_L0[i] = true;
		}
}

void
nn_gradnorm_update(struct nn_gradnorm *g, const float L[2],
    const float gnorm[2], float lr)
{
	double G[2], ratio[2], rm, Gm, grad[2], sum;
	const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
	int i;

	for (i = 0; i < 2; i++) {
		G[i] = (double)g->w[i] * gnorm[i];
		ratio[i] = (double)L[i] / g->L0[i];
	}
	rm = 0.5 * (ratio[0] + ratio[1]);
	Gm = 0.5 * (G[0] + G[1]);
	for (i = 0; i < 2; i++) {
		double r = rm > 0 ? ratio[i] / rm : 1.0;
		double target = Gm * pow(r, g->alpha);
		double d = G[i] - target;

		grad[i] = (d > 0 ? 1.0 : d < 0 ? -1.0 : 0.0) * gnorm[i];
	}
	g->t++;
	for (i = 0; i < 2; i++) {
		double mh, vh;

		g->m[i] = b1 * g->m[i] + (1 - b1) * grad[i];
		g->v[i] = b2 * g->v[i] + (1 - b2) * grad[i] * grad[i];
		mh = g->m[i] / (1 - pow(b1, (double)g->t));
		vh = g->v[i] / (1 - pow(b2, (double)g->t));
		g->w[i] = (float)(g->w[i] - lr * mh / (sqrt(vh) + eps));
		if (g->w[i] < 1e-3f)
			g->w[i] = 1e-3f;
	}
	sum = (double)g->w[0] + g->w[1];
	for (i = 0; i < 2; i++)
		g->w[i] = (float)(g->w[i] * 2.0 / sum);
}
