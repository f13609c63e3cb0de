/*
 * admin/report_summary.h — the operator summary that opens an evaluation
 * report (data_report.summary_html): what protocol and which people were
 * measured (and that P1's are people the model trained on), FAR and FRR at
 * the site's threshold with the counts behind them, the EER and its
 * threshold, and how far the activity label can be trusted per device.
 */
#ifndef ADMIN_REPORT_SUMMARY_H
#define ADMIN_REPORT_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* The caption of the score figures for RESULT's protocol (static). */
const char *report_score_caption(const json_t *result);

/* malloc'd HTML (a <section>), or NULL when out of memory.  THR_GIVEN:
 * --threshold was given (else dt4ecgd's default is said to be used). */
char *report_summary_html(const json_t *result, const float *gen, size_t ng,
    const float *imp, size_t ni, double thr, bool thr_given);

#endif /* ADMIN_REPORT_SUMMARY_H */
