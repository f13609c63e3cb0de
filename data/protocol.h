/*
 * data/protocol.h — the evaluation protocols of DESIGN.md section 8 as a
 * library: their names, and the scoring they share once a network has
 * embedded the windows (templates, probes, open-set verification and
 * rank-1, activity confusion).  Pure arithmetic on arrays: no model, no
 * files, so it is tested on synthetic embeddings (tests/test_protocol.c).
 */
#ifndef DATA_PROTOCOL_H
#define DATA_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>

#include "data/dataset.h"
#include "data/eval.h"
#include "util/error.h"

enum data_protocol {
	DATA_PROTO_P1,		/* closed set: per-recording split */
	DATA_PROTO_P2,		/* open set: unseen subjects enrolled */
	DATA_PROTO_P3,		/* activity: subject folds */
	DATA_PROTO_OPEN,	/* retrain: all but the hold-outs; evaluate:
				 * the four open-set protocols below */
	DATA_PROTO_ALL,		/* retrain: everything */
	DATA_PROTO_P2_PTBXL,
	DATA_PROTO_P4,
	DATA_PROTO_XELECTRODE,
	DATA_PROTO_REST_OTHER,
	DATA_PROTO_SITE,
	DATA_PROTO_ADAPT,
	DATA_PROTO_N
};

/* "p1", "p2+ptbxl", ...: 0, or -1 for an unknown name. */
int data_protocol_parse(const char *name, enum data_protocol *out);
const char *data_protocol_name(enum data_protocol p);
/* The open-set protocols (those of admin/eval_open.c): open and the six
 * after it. */
bool data_protocol_is_open_set(enum data_protocol p);

/* V /= |V| (+1e-12): unit length, a zero vector stays zero. */
void data_l2_normalise(float *v, int n);

/* The index of the largest of N values (the first of equals). */
int data_argmax(const float *v, int n);

/*
 * Sums the embeddings (EMB: S->n x E) of the windows of S whose KEY is k
 * into OUT[k] (N x E, zeroed here) and L2-normalises each; KEY is each
 * window's group (DATA_BY_GROUP) or subject (DATA_BY_SUBJECT).  Only
 * windows that pass the identity gate count; with FALLBACK, a key without
 * any such window takes all its windows.  COUNT[k] (may be NULL) receives
 * the gated windows of k.  SUBJECT_OF (DATA_BY_SUBJECT, may be NULL: the
 * identity) maps a key 0..N-1 to the subject it collects.
 */
enum data_key { DATA_BY_GROUP, DATA_BY_SUBJECT };
int data_mean_embeddings(const struct data_set *s, const float *emb, int E,
    enum data_key key, const int *subject_of, int n, bool fallback,
    float *out, int *count, struct dt_error *err);

/* Appends X to the growing array *V (*N used of *CAP): 0, or -1 out of
 * memory (*V unchanged). */
int data_push(float **v, size_t *n, size_t *cap, float x);

/* Open-set scores of P probes (PE: P x E, identities PID) against T
 * templates (TE, TID): verification figures and rank-1. */
struct data_open_set {
	struct data_verif v;
	double rank1;
	int n_probes, n_enrolled;
	float *gen, *imp;	/* the genuine and impostor scores (owned) */
	size_t n_gen, n_imp;
};
int data_open_set_score(const float *pe, const int *pid, int P,
    const float *te, const int *tid, int T, int E, struct data_open_set *out,
    struct dt_error *err);
void data_open_set_free(struct data_open_set *o);

/* Adds each window of S with an activity label to CONF (K x K, true-major)
 * at the argmax of its ACT row (S->n x K); returns the windows counted. */
size_t data_confusion_add(const struct data_set *s, const float *act, int K,
    long *conf);

#endif /* DATA_PROTOCOL_H */
