/*
 * data/split.h — the protocols of DESIGN.md section 8 as lists of ranges.
 *
 * P1: every recording's first `frac` (0.8) of raw samples trains, the rest
 *     tests; each part is preprocessed alone, so no window crosses the cut.
 *     `val_frac` > 0 takes the tail of the training part (that fraction of
 *     it) for validation; the training part then ends where validation starts.
 * P2: recordings of one manifest (ecg-id); subjects numbered 1..train_max
 *     train (whole recordings); every other subject with >= 2 recordings is
 *     enrolled from its lowest-numbered recording and probed with the others.
 * P3: subjects with activity labels, sorted by name, in `n_folds` folds of
 *     consecutive subjects; fold k (0-based) holds out its subjects.
 */
#ifndef DATA_SPLIT_H
#define DATA_SPLIT_H

#include "data/dataset.h"

struct data_ranges {
	int n, cap;
	struct data_range *r;
};

void data_ranges_free(struct data_ranges *r);
int data_ranges_add(struct data_ranges *rs, int rec, size_t r0, size_t r1,
    int group);

/* P1; any of train/val/test may be NULL. `rec_ok` (may be NULL) selects
 * recordings.  Group = recording index. */
int data_split_p1(const struct data_corpus *c, double frac, double val_frac,
    const bool *rec_ok, struct data_ranges *train, struct data_ranges *val,
    struct data_ranges *test, struct dt_error *err);

/* Consecutive segments of seg_len raw samples of [r0, r1) (the last partial
 * one is dropped); groups numbered from *next_group. */
int data_segments(struct data_ranges *rs, int rec, size_t r0, size_t r1,
    size_t seg_len, int *next_group);

struct data_p2 {
	struct data_ranges train;	/* subjects 1..train_max, whole recordings */
	struct data_ranges enroll;	/* group = subject (corpus index) */
	struct data_ranges probe;	/* whole test recordings, group = recording */
	int *enrolled;			/* corpus subject indices enrolled */
	int n_enrolled;
	int n_train_subjects;
};
int data_split_p2(const struct data_corpus *c, int manifest, int train_max,
    struct data_p2 *p2, struct dt_error *err);
void data_p2_free(struct data_p2 *p2);

/* P3: *held (corpus subject indices, malloc'd) and rec_train/rec_test masks
 * (n_recs each, malloc'd).  Recordings without an activity label go to
 * training only when `with_unlabelled`. */
int data_split_p3(const struct data_corpus *c, int fold, int n_folds,
    bool with_unlabelled, bool **rec_train, bool **rec_test, int **held,
    int *n_held, struct dt_error *err);

/* Splits the tail (fraction vf) of every range off: the head goes to tr,
 * the tail to va (retrain's validation); vf <= 0 keeps every range whole. */
int data_split_tail(const struct data_ranges *in, double vf,
    struct data_ranges *tr, struct data_ranges *va);

/*
 * The fixed hold-outs of DESIGN.md section 8, which no shipped model trains
 * on: ECG-ID persons 61-90 ("ecgid:61" .. "ecgid:90") and the PTB-XL records
 * whose number (ecg_id) is divisible by 5 ("ptbxl:00010").
 */
bool data_subject_held_out(const char *subject);

/* "open": every recording of every subject that is not held out, whole. */
int data_split_open(const struct data_corpus *c, struct data_ranges *train,
    struct dt_error *err);

#endif /* DATA_SPLIT_H */
