/*
 * nn/model.c — the DT4ECG model file (safetensors, DESIGN.md section 3).
 *
 * Loading trusts nothing in the file: every length, offset and shape is checked
 * for overflow and range before use, the tensors must be exactly those the
 * hyperparameters call for, and every value must be finite.
 *
 * Decisions:
 * - Unknown tensors are refused ("unexpected tensor X"), except the
 *   `<bn>.num_batches_tracked` counters PyTorch adds to every batch norm (I64
 *   or F32, one element): those are validated like any tensor (range,
 *   overlap) and then dropped, since inference and training here do not use
 *   them.  All tensors, id_head.classifier.weight included, are required.
 * - Gaps between tensors in the data section are allowed (as PyTorch's own
 *   reader does); overlaps are not.
 * - Duplicate keys in the JSON header are refused.
 * - Metadata: every key is kept, in file order.  When saving, the required
 *   keys (format, hyperparameters, activities) are rewritten from m->hp and
 *   m->activities only if they disagree with them, so a load/save round trip
 *   of someone else's file keeps their exact strings.
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "nn/model.h"
#include "util/file.h"

#define HEADER_MAX	(100u * 1024 * 1024)	/* JSON header cap */
#define FILE_MAX	((size_t)1 << 32)	/* whole-file cap for nn_model_load */
#define NAME_MAX_LEN	64
#define HP_INT_MAX	(1 << 24)
#define MAX_ACTIVITIES	4096
#define MAX_SUBJECTS	(1 << 20)

enum init_kind { INIT_UNIFORM, INIT_ZERO, INIT_ONE };

struct spec {
	char name[NAME_MAX_LEN];
	int ndim;
	int64_t shape[NN_MAX_DIMS];
	enum init_kind init;
	double bound;		/* INIT_UNIFORM: +-bound */
};

struct span {
	uint64_t begin, end;
	const char *name;
};

/* ------------------------------------------------------------------------ */
/* The tensors the hyperparameters call for. */

static void
add_spec(struct spec *s, size_t *n, enum init_kind init, double fan_in,
    int ndim, const int64_t *shape, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static void
add_spec(struct spec *s, size_t *n, enum init_kind init, double fan_in,
    int ndim, const int64_t *shape, const char *fmt, ...)
{
	struct spec *p = &s[(*n)++];
	va_list ap;
	int i;

	va_start(ap, fmt);
	vsnprintf(p->name, sizeof(p->name), fmt, ap);
	va_end(ap);
	p->ndim = ndim;
	for (i = 0; i < NN_MAX_DIMS; i++)
		p->shape[i] = i < ndim ? shape[i] : 0;
	p->init = init;
	p->bound = fan_in > 0 ? 1.0 / sqrt(fan_in) : 0;
}

#define SHAPE(...) ((const int64_t[]){ __VA_ARGS__ })

static void
add_bn(struct spec *s, size_t *n, int64_t c, const char *prefix)
{
	add_spec(s, n, INIT_ONE, 0, 1, SHAPE(c), "%s.weight", prefix);
	add_spec(s, n, INIT_ZERO, 0, 1, SHAPE(c), "%s.bias", prefix);
	add_spec(s, n, INIT_ZERO, 0, 1, SHAPE(c), "%s.running_mean", prefix);
	add_spec(s, n, INIT_ONE, 0, 1, SHAPE(c), "%s.running_var", prefix);
}

#define SPECS_MAX (5 + 21 * NN_MAX_STAGES + 11)

/* Fills s (SPECS_MAX entries) in the order of DESIGN.md section 3. */
static size_t
build_specs(const struct nn_hparams *hp, int n_subjects, int n_activities,
    struct spec *s)
{
	size_t n = 0;
	int64_t c0 = hp->stem_channels, ks = hp->stem_kernel, k = hp->kernel;
	int64_t cin = c0, e = hp->embedding_dim, h = hp->act_hidden;
	int i;

	add_spec(s, &n, INIT_UNIFORM, (double)ks, 3, SHAPE(c0, 1, ks),
	    "stem.conv.weight");
	add_bn(s, &n, c0, "stem.bn");
	for (i = 0; i < hp->n_stages; i++) {
		int64_t c = hp->stage_channels[i];
		int64_t cr = c / hp->sca_reduction;
		int64_t kq = hp->seq_kernel;
		char p[NAME_MAX_LEN];

		snprintf(p, sizeof(p), "stages.%d", i);
		add_spec(s, &n, INIT_UNIFORM, (double)(cin * k), 3,
		    SHAPE(c, cin, k), "%s.conv1.weight", p);
		snprintf(p, sizeof(p), "stages.%d.bn1", i);
		add_bn(s, &n, c, p);
		add_spec(s, &n, INIT_UNIFORM, (double)(c * k), 3,
		    SHAPE(c, c, k), "stages.%d.conv2.weight", i);
		snprintf(p, sizeof(p), "stages.%d.bn2", i);
		add_bn(s, &n, c, p);
		add_spec(s, &n, INIT_UNIFORM, (double)cin, 3,
		    SHAPE(c, cin, 1), "stages.%d.down.conv.weight", i);
		snprintf(p, sizeof(p), "stages.%d.down.bn", i);
		add_bn(s, &n, c, p);
		add_spec(s, &n, INIT_UNIFORM, (double)c, 2, SHAPE(cr, c),
		    "stages.%d.sca.fc1.weight", i);
		add_spec(s, &n, INIT_UNIFORM, (double)c, 1, SHAPE(cr),
		    "stages.%d.sca.fc1.bias", i);
		add_spec(s, &n, INIT_UNIFORM, (double)cr, 2, SHAPE(c, cr),
		    "stages.%d.sca.fc2.weight", i);
		add_spec(s, &n, INIT_UNIFORM, (double)cr, 1, SHAPE(c),
		    "stages.%d.sca.fc2.bias", i);
		add_spec(s, &n, INIT_UNIFORM, (double)(2 * kq), 3,
		    SHAPE(1, 2, kq), "stages.%d.sca.seq.weight", i);
		add_spec(s, &n, INIT_UNIFORM, (double)(2 * kq), 1, SHAPE(1),
		    "stages.%d.sca.seq.bias", i);
		cin = c;
	}
	add_spec(s, &n, INIT_UNIFORM, (double)cin, 2, SHAPE(e, cin),
	    "id_head.fc.weight");
	add_spec(s, &n, INIT_UNIFORM, (double)cin, 1, SHAPE(e),
	    "id_head.fc.bias");
	add_bn(s, &n, e, "id_head.bn");
	add_spec(s, &n, INIT_UNIFORM, (double)e, 2, SHAPE(n_subjects, e),
	    "id_head.classifier.weight");
	add_spec(s, &n, INIT_UNIFORM, (double)cin, 2, SHAPE(h, cin),
	    "act_head.fc1.weight");
	add_spec(s, &n, INIT_UNIFORM, (double)cin, 1, SHAPE(h),
	    "act_head.fc1.bias");
	add_spec(s, &n, INIT_UNIFORM, (double)h, 2,
	    SHAPE(n_activities, h), "act_head.fc2.weight");
	add_spec(s, &n, INIT_UNIFORM, (double)h, 1, SHAPE(n_activities),
	    "act_head.fc2.bias");
	return n;
}

/* ------------------------------------------------------------------------ */
/* Model lifetime and accessors. */

void
nn_model_free(struct nn_model *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n_tensors; i++) {
		free(m->tensors[i].name);
		free(m->tensors[i].data);
	}
	free(m->tensors);
	for (i = 0; i < m->n_meta; i++) {
		free(m->meta[i].key);
		free(m->meta[i].value);
	}
	free(m->meta);
	if (m->activities != NULL)
		for (i = 0; i < (size_t)m->n_activities; i++)
			free(m->activities[i]);
	free(m->activities);
	free(m);
}

const struct nn_tensor *
nn_model_tensor(const struct nn_model *m, const char *name)
{
	size_t i;

	if (m == NULL || name == NULL)
		return NULL;
	for (i = 0; i < m->n_tensors; i++)
		if (strcmp(m->tensors[i].name, name) == 0)
			return &m->tensors[i];
	return NULL;
}

struct nn_tensor *
nn_model_tensor_mut(struct nn_model *m, const char *name)
{
	return (struct nn_tensor *)nn_model_tensor(m, name);
}

const char *
nn_model_meta(const struct nn_model *m, const char *key)
{
	size_t i;

	if (m == NULL || key == NULL)
		return NULL;
	for (i = 0; i < m->n_meta; i++)
		if (strcmp(m->meta[i].key, key) == 0)
			return m->meta[i].value;
	return NULL;
}

int
nn_model_set_meta(struct nn_model *m, const char *key, const char *value,
    struct dt_error *err)
{
	struct nn_meta *nm;
	char *v;
	size_t i;

	if (m == NULL || key == NULL || value == NULL)
		return dt_error_set(err, DT_E_INVALID, "metadata: NULL argument");
	if ((v = strdup(value)) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "metadata %s: out of memory",
		    key);
	for (i = 0; i < m->n_meta; i++) {
		if (strcmp(m->meta[i].key, key) == 0) {
			free(m->meta[i].value);
			m->meta[i].value = v;
			return 0;
		}
	}
	nm = realloc(m->meta, (m->n_meta + 1) * sizeof(*nm));
	if (nm == NULL) {
		free(v);
		return dt_error_set(err, DT_E_NOMEM, "metadata %s: out of memory",
		    key);
	}
	m->meta = nm;
	if ((nm[m->n_meta].key = strdup(key)) == NULL) {
		free(v);
		return dt_error_set(err, DT_E_NOMEM, "metadata %s: out of memory",
		    key);
	}
	nm[m->n_meta].value = v;
	m->n_meta++;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Metadata <-> hyperparameters. */

static const char *const HP_INT_KEYS[] = {
	"fs_hz", "window", "stem_channels", "stem_kernel", "kernel",
	"sca_reduction", "seq_kernel", "embedding_dim", "act_hidden",
};
#define N_HP_INT (sizeof(HP_INT_KEYS) / sizeof(HP_INT_KEYS[0]))

static int *
hp_int_field(struct nn_hparams *hp, size_t i)
{
	int *f[N_HP_INT] = {
		&hp->fs_hz, &hp->window, &hp->stem_channels, &hp->stem_kernel,
		&hp->kernel, &hp->sca_reduction, &hp->seq_kernel,
		&hp->embedding_dim, &hp->act_hidden,
	};
	return f[i];
}

/* A decimal integer 0..HP_INT_MAX, optional surrounding blanks; the end
 * of the number in *end. */
static int
parse_uint(const char *s, const char **end, int *out)
{
	long v = 0;

	while (*s == ' ')
		s++;
	if (*s < '0' || *s > '9')
		return -1;
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (*s - '0');
		if (v > HP_INT_MAX)
			return -1;
		s++;
	}
	while (*s == ' ')
		s++;
	*end = s;
	*out = (int)v;
	return 0;
}

static int
parse_int_field(const char *key, const char *s, int *out,
    struct dt_error *err)
{
	const char *end;

	if (parse_uint(s, &end, out) != 0 || *end != '\0')
		return dt_error_set(err, DT_E_FORMAT,
		    "__metadata__ field %s: \"%.40s\" is not an integer "
		    "0..%d", key, s, HP_INT_MAX);
	return 0;
}

static int
parse_stage_channels(const char *s, struct nn_hparams *hp,
    struct dt_error *err)
{
	const char *p = s, *end;
	int n = 0, v;

	for (;;) {
		if (n == NN_MAX_STAGES)
			return dt_error_set(err, DT_E_FORMAT,
			    "__metadata__ field stage_channels: more than %d "
			    "stages", NN_MAX_STAGES);
		if (parse_uint(p, &end, &v) != 0)
			return dt_error_set(err, DT_E_FORMAT,
			    "__metadata__ field stage_channels: \"%.40s\" is "
			    "not a comma-separated list of integers", s);
		hp->stage_channels[n++] = v;
		if (*end == '\0')
			break;
		if (*end != ',')
			return dt_error_set(err, DT_E_FORMAT,
			    "__metadata__ field stage_channels: \"%.40s\" is "
			    "not a comma-separated list of integers", s);
		p = end + 1;
	}
	hp->n_stages = n;
	return 0;
}

static const char *
meta_required(const struct nn_model *m, const char *key,
    struct dt_error *err)
{
	const char *v = nn_model_meta(m, key);

	if (v == NULL)
		dt_error_set(err, DT_E_FORMAT,
		    "__metadata__ field %s is missing", key);
	return v;
}

/* Parses format, the hyperparameters and the activities from m->meta. */
static int
parse_required(const struct nn_model *m, struct nn_hparams *hp,
    char ***acts_out, int *n_acts_out, struct dt_error *err)
{
	const char *v;
	json_t *arr = NULL;
	json_error_t jerr;
	char **acts = NULL;
	size_t i, n = 0;
	int rc = -1;

	memset(hp, 0, sizeof(*hp));
	if ((v = meta_required(m, "dt4ecg.format", err)) == NULL)
		goto out;
	if (strcmp(v, NN_FORMAT_VERSION) != 0) {
		dt_error_set(err, DT_E_VERSION,
		    "__metadata__ field dt4ecg.format: \"%.40s\", expected \"%s\"",
		    v, NN_FORMAT_VERSION);
		goto out;
	}
	for (i = 0; i < N_HP_INT; i++) {
		if ((v = meta_required(m, HP_INT_KEYS[i], err)) == NULL ||
		    parse_int_field(HP_INT_KEYS[i], v, hp_int_field(hp, i),
		    err) != 0)
			goto out;
	}
	if ((v = meta_required(m, "stage_channels", err)) == NULL ||
	    parse_stage_channels(v, hp, err) != 0)
		goto out;
	if (nn_hparams_check(hp, err) != 0) {
		dt_error_prefix(err, "__metadata__");
		if (err != NULL)
			err->code = DT_E_FORMAT;
		goto out;
	}
	if ((v = meta_required(m, "activities", err)) == NULL)
		goto out;
	arr = json_loads(v, JSON_REJECT_DUPLICATES, &jerr);
	if (arr == NULL || !json_is_array(arr) || json_array_size(arr) < 1 ||
	    json_array_size(arr) > MAX_ACTIVITIES) {
		dt_error_set(err, DT_E_FORMAT,
		    "__metadata__ field activities: not a JSON array of 1..%d "
		    "names", MAX_ACTIVITIES);
		goto out;
	}
	n = json_array_size(arr);
	if ((acts = calloc(n, sizeof(*acts))) == NULL) {
		dt_error_set(err, DT_E_NOMEM, "activities: out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);

		if (!json_is_string(e)) {
			dt_error_set(err, DT_E_FORMAT,
			    "__metadata__ field activities: element %zu is not "
			    "a string", i);
			goto out;
		}
		if ((acts[i] = strdup(json_string_value(e))) == NULL) {
			dt_error_set(err, DT_E_NOMEM,
			    "activities: out of memory");
			goto out;
		}
	}
	*acts_out = acts;
	*n_acts_out = (int)n;
	acts = NULL;
	rc = 0;
out:
	if (acts != NULL) {
		for (i = 0; i < n; i++)
			free(acts[i]);
		free(acts);
	}
	json_decref(arr);
	return rc;
}

/* Sets the required metadata keys from m->hp and m->activities. */
static int
set_required_meta(struct nn_model *m, struct dt_error *err)
{
	char buf[16 * NN_MAX_STAGES];
	json_t *arr = NULL;
	char *s = NULL;
	size_t i, off = 0;
	int rc = -1;

	if (nn_model_set_meta(m, "dt4ecg.format", NN_FORMAT_VERSION, err) != 0)
		goto out;
	for (i = 0; i < N_HP_INT; i++) {
		snprintf(buf, sizeof(buf), "%d", *hp_int_field(&m->hp, i));
		if (nn_model_set_meta(m, HP_INT_KEYS[i], buf, err) != 0)
			goto out;
	}
	buf[0] = '\0';
	for (i = 0; i < (size_t)m->hp.n_stages; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%d",
		    i ? "," : "", m->hp.stage_channels[i]);
	if (nn_model_set_meta(m, "stage_channels", buf, err) != 0)
		goto out;
	if ((arr = json_array()) == NULL)
		goto nomem;
	for (i = 0; i < (size_t)m->n_activities; i++)
		if (json_array_append_new(arr,
		    json_string(m->activities[i])) != 0)
			goto nomem;
	if ((s = json_dumps(arr, JSON_COMPACT)) == NULL)
		goto nomem;
	if (nn_model_set_meta(m, "activities", s, err) != 0)
		goto out;
	rc = 0;
	goto out;
nomem:
	dt_error_set(err, DT_E_NOMEM, "metadata: out of memory");
out:
	free(s);
	json_decref(arr);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Creation. */

static int
alloc_tensors(struct nn_model *m, const struct spec *s, size_t n,
    struct dt_error *err)
{
	size_t i;
	int d;

	if ((m->tensors = calloc(n, sizeof(*m->tensors))) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "tensors: out of memory");
	m->n_tensors = n;
	for (i = 0; i < n; i++) {
		struct nn_tensor *t = &m->tensors[i];

		t->ndim = s[i].ndim;
		t->numel = 1;
		for (d = 0; d < s[i].ndim; d++) {
			t->shape[d] = s[i].shape[d];
			t->numel *= (size_t)s[i].shape[d];
		}
		if ((t->name = strdup(s[i].name)) == NULL ||
		    (t->data = calloc(t->numel ? t->numel : 1,
		    sizeof(float))) == NULL)
			return dt_error_set(err, DT_E_NOMEM,
			    "tensor %s: out of memory", s[i].name);
	}
	return 0;
}

int
nn_model_create(const struct nn_hparams *hp, int n_subjects,
    int n_activities, const char *const *activities, uint64_t seed,
    struct nn_model **out, struct dt_error *err)
{
	struct spec *specs = NULL;
	struct nn_model *m = NULL;
	struct dt_rng rng;
	size_t n, i, j;
	int rc = -1;

	if (out == NULL || nn_hparams_check(hp, err) != 0)
		goto out;
	if (n_subjects < 1 || n_subjects > MAX_SUBJECTS) {
		dt_error_set(err, DT_E_INVALID, "n_subjects %d out of range",
		    n_subjects);
		goto out;
	}
	if (n_activities < 1 || n_activities > MAX_ACTIVITIES ||
	    activities == NULL) {
		dt_error_set(err, DT_E_INVALID, "n_activities %d out of range",
		    n_activities);
		goto out;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (specs = calloc(SPECS_MAX, sizeof(*specs))) == NULL ||
	    (m->activities = calloc((size_t)n_activities,
	    sizeof(char *))) == NULL) {
		dt_error_set(err, DT_E_NOMEM, "model: out of memory");
		goto out;
	}
	m->hp = *hp;
	for (i = (size_t)hp->n_stages; i < NN_MAX_STAGES; i++)
		m->hp.stage_channels[i] = 0;
	m->n_subjects = n_subjects;
	m->n_activities = n_activities;
	for (i = 0; i < (size_t)n_activities; i++) {
		if (activities[i] == NULL) {
			dt_error_set(err, DT_E_INVALID, "activity %zu is NULL",
			    i);
			goto out;
		}
		if ((m->activities[i] = strdup(activities[i])) == NULL) {
			dt_error_set(err, DT_E_NOMEM, "model: out of memory");
			goto out;
		}
	}
	n = build_specs(hp, n_subjects, n_activities, specs);
	if (alloc_tensors(m, specs, n, err) != 0)
		goto out;
	dt_rng_seed(&rng, seed);
	for (i = 0; i < n; i++) {
		struct nn_tensor *t = &m->tensors[i];

		for (j = 0; j < t->numel; j++) {
			switch (specs[i].init) {
			case INIT_UNIFORM:
				t->data[j] = dt_rng_uniformf(&rng,
				    (float)-specs[i].bound,
				    (float)specs[i].bound);
				break;
			case INIT_ZERO:
				t->data[j] = 0.0f;
				break;
			case INIT_ONE:
				t->data[j] = 1.0f;
				break;
			}
		}
	}
	if (set_required_meta(m, err) != 0)
		goto out;
	*out = m;
	m = NULL;
	rc = 0;
out:
	free(specs);
	nn_model_free(m);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Loading. */

static int
json_uint(const json_t *v, uint64_t *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/*
 * Validates one header entry (dtype, shape, offsets) against the data
 * section of dlen bytes.  elsize is 4 for F32; allow_i64 also accepts I64
 * (8 bytes).  Shape and numel go to *ndim/shape/numel.
 */
static int
parse_entry(const char *fname, const char *tname, json_t *e, uint64_t dlen,
    int allow_i64, int *ndim, int64_t *shape, size_t *numel, struct span *sp,
    struct dt_error *err)
{
	json_t *dt, *sh, *off;
	const char *dtype;
	uint64_t b, en, bytes, v, elsize = 4;
	size_t i, nel = 1;

	if (!json_is_object(e))
		return dt_error_set(err, DT_E_FORMAT,
		    "%s: tensor %s: header entry is not a JSON object", fname,
		    tname);
	dt = json_object_get(e, "dtype");
	if (!json_is_string(dt))
		return dt_error_set(err, DT_E_FORMAT,
		    "%s: tensor %s: no dtype", fname, tname);
	dtype = json_string_value(dt);
	if (strcmp(dtype, "F32") == 0)
		elsize = 4;
	else if (allow_i64 && strcmp(dtype, "I64") == 0)
		elsize = 8;
	else
		return dt_error_set(err, DT_E_FORMAT,
		    "%s: tensor %s: dtype \"%.20s\", only F32 is allowed",
		    fname, tname, dtype);
	sh = json_object_get(e, "shape");
	if (!json_is_array(sh) || json_array_size(sh) > NN_MAX_DIMS)
		return dt_error_set(err, DT_E_FORMAT,
		    "%s: tensor %s: shape is not an array of at most %d "
		    "dimensions", fname, tname, NN_MAX_DIMS);
	*ndim = (int)json_array_size(sh);
	for (i = 0; i < json_array_size(sh); i++) {
		if (json_uint(json_array_get(sh, i), &v) != 0 ||
		    v > (uint64_t)INT64_MAX)
			return dt_error_set(err, DT_E_FORMAT,
			    "%s: tensor %s: shape dimension %zu is not a "
			    "non-negative integer", fname, tname, i);
		shape[i] = (int64_t)v;
		if (v > SIZE_MAX || __builtin_mul_overflow(nel, (size_t)v,
		    &nel))
			return dt_error_set(err, DT_E_FORMAT,
			    "%s: tensor %s: shape is too large", fname, tname);
	}
	off = json_object_get(e, "data_offsets");
	if (!json_is_array(off) || json_array_size(off) != 2 ||
	    json_uint(json_array_get(off, 0), &b) != 0 ||
	    json_uint(json_array_get(off, 1), &en) != 0)
		return dt_error_set(err, DT_E_FORMAT,
		    "%s: tensor %s: data_offsets is not a pair of "
		    "non-negative integers", fname, tname);
	if (b > en || en > dlen)
		return dt_error_set(err, DT_E_FORMAT,
		    "%s: tensor %s: data_offsets [%" PRIu64 ", %" PRIu64
		    "] out of range (data section is %" PRIu64 " bytes)",
		    fname, tname, b, en, dlen);
	if (__builtin_mul_overflow((uint64_t)nel, elsize, &bytes) ||
	    bytes != en - b)
		return dt_error_set(err, DT_E_FORMAT,
		    "%s: tensor %s: data_offsets span %" PRIu64 " bytes, "
		    "shape needs %zu x %" PRIu64, fname, tname, en - b, nel,
		    elsize);
	*numel = nel;
	sp->begin = b;
	sp->end = en;
	sp->name = tname;
	return 0;
}

static int
span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return 0;
}

static int
is_bn_counter(const char *name, const struct spec *s, size_t n)
{
	static const char suffix[] = ".num_batches_tracked";
	char want[2 * NAME_MAX_LEN];
	size_t len = strlen(name), sl = sizeof(suffix) - 1, i;

	if (len <= sl || strcmp(name + len - sl, suffix) != 0 ||
	    len - sl >= NAME_MAX_LEN)
		return 0;
	for (i = 0; i < n; i++) {
		snprintf(want, sizeof(want), "%.*s.running_var",
		    (int)(len - sl), name);
		if (strcmp(s[i].name, want) == 0)
			return 1;
	}
	return 0;
}

static int
copy_floats(const char *fname, const char *tname, const uint8_t *src,
    size_t numel, float *dst, struct dt_error *err)
{
	size_t i;

	for (i = 0; i < numel; i++) {
		uint32_t u;
		float f;

		memcpy(&u, src + 4 * i, 4);
		u = le32toh(u);
		memcpy(&f, &u, 4);
		if (!isfinite(f))
			return dt_error_set(err, DT_E_FORMAT,
			    "%s: tensor %s: non-finite value (%s) at element "
			    "%zu", fname, tname, isnan(f) ? "NaN" : "Inf", i);
		dst[i] = f;
	}
	return 0;
}

static int
load_meta(const char *fname, json_t *root, struct nn_model *m,
    struct dt_error *err)
{
	json_t *meta, *v;
	const char *key;

	meta = json_object_get(root, "__metadata__");
	if (meta == NULL || json_is_null(meta))
		return 0;
	if (!json_is_object(meta))
		return dt_error_set(err, DT_E_FORMAT,
		    "%s: __metadata__ is not a JSON object", fname);
	json_object_foreach(meta, key, v) {
		if (!json_is_string(v))
			return dt_error_set(err, DT_E_FORMAT,
			    "%s: __metadata__ field %.100s: value is not a "
			    "string", fname, key);
		if (nn_model_set_meta(m, key, json_string_value(v), err) != 0)
			return -1;
	}
	return 0;
}

int
nn_model_load_buffer(const void *buf, size_t len, const char *name,
    struct nn_model **out, struct dt_error *err)
{
	const uint8_t *p = buf;
	const char *fname = name != NULL ? name : "model";
	struct spec *specs = NULL;
	struct span *spans = NULL;
	struct nn_model *m = NULL;
	json_t *root = NULL, *e;
	json_error_t jerr;
	const char *key;
	uint64_t hl, dlen;
	size_t n_specs = 0, n_spans = 0, i;
	int rc = -1, ndim, d;
	int64_t shape[NN_MAX_DIMS];
	size_t numel;

	if (out == NULL || (buf == NULL && len > 0)) {
		dt_error_set(err, DT_E_INVALID, "%s: NULL argument", fname);
		goto out;
	}
	if (len < 8) {
		dt_error_set(err, DT_E_FORMAT,
		    "%s: truncated: %zu bytes, no 8-byte header length", fname,
		    len);
		goto out;
	}
	memcpy(&hl, p, 8);
	hl = le64toh(hl);
	if (hl > len - 8) {
		dt_error_set(err, DT_E_FORMAT,
		    "%s: truncated: header length %" PRIu64 " exceeds the "
		    "file size %zu", fname, hl, len);
		goto out;
	}
	if (hl > HEADER_MAX) {
		dt_error_set(err, DT_E_FORMAT,
		    "%s: header length %" PRIu64 " exceeds the limit of %u "
		    "bytes", fname, hl, HEADER_MAX);
		goto out;
	}
	dlen = len - 8 - hl;
	root = json_loadb((const char *)p + 8, (size_t)hl,
	    JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		dt_error_set(err, DT_E_FORMAT,
		    "%s: header is not valid JSON: %s (line %d, column %d)",
		    fname, jerr.text, jerr.line, jerr.column);
		goto out;
	}
	if (!json_is_object(root)) {
		dt_error_set(err, DT_E_FORMAT,
		    "%s: header is not a JSON object", fname);
		goto out;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (specs = calloc(SPECS_MAX, sizeof(*specs))) == NULL ||
	    (spans = calloc(json_object_size(root) + 1,
	    sizeof(*spans))) == NULL) {
		dt_error_set(err, DT_E_NOMEM, "%s: out of memory", fname);
		goto out;
	}
	if (load_meta(fname, root, m, err) != 0)
		goto out;
	if (parse_required(m, &m->hp, &m->activities, &m->n_activities,
	    err) != 0) {
		dt_error_prefix(err, "%s", fname);
		goto out;
	}

	/* The classifier's rows give the number of subjects. */
	e = json_object_get(root, "id_head.classifier.weight");
	if (e == NULL) {
		dt_error_set(err, DT_E_FORMAT,
		    "%s: missing tensor id_head.classifier.weight", fname);
		goto out;
	}
	if (parse_entry(fname, "id_head.classifier.weight", e, dlen, 0, &ndim,
	    shape, &numel, &spans[0], err) != 0)
		goto out;
	if (ndim != 2 || shape[0] < 1 || shape[0] > MAX_SUBJECTS) {
		dt_error_set(err, DT_E_FORMAT,
		    "%s: tensor id_head.classifier.weight: shape is not "
		    "[n_subjects 1..%d, %d]", fname, MAX_SUBJECTS,
		    m->hp.embedding_dim);
		goto out;
	}
	m->n_subjects = (int)shape[0];

	n_specs = build_specs(&m->hp, m->n_subjects, m->n_activities, specs);
	for (i = 0; i < n_specs; i++) {
		const struct spec *s = &specs[i];
		int same;

		e = json_object_get(root, s->name);
		if (e == NULL) {
			dt_error_set(err, DT_E_FORMAT,
			    "%s: missing tensor %s", fname, s->name);
			goto out;
		}
		if (parse_entry(fname, s->name, e, dlen, 0, &ndim, shape,
		    &numel, &spans[n_spans], err) != 0)
			goto out;
		same = ndim == s->ndim;
		for (d = 0; same && d < ndim; d++)
			same = shape[d] == s->shape[d];
		if (!same) {
			char got[80], want[80];
			size_t o1 = 0, o2 = 0;

			got[0] = want[0] = '\0';
			for (d = 0; d < ndim; d++)
				o1 += (size_t)snprintf(got + o1,
				    sizeof(got) - o1, "%s%" PRId64,
				    d ? "," : "", shape[d]);
			for (d = 0; d < s->ndim; d++)
				o2 += (size_t)snprintf(want + o2,
				    sizeof(want) - o2, "%s%" PRId64,
				    d ? "," : "", s->shape[d]);
			dt_error_set(err, DT_E_FORMAT,
			    "%s: tensor %s: shape [%s] disagrees with the "
			    "hyperparameters [%s]", fname, s->name, got, want);
			goto out;
		}
		spans[n_spans].name = s->name;
		n_spans++;
	}
	/* Anything else in the header. */
	json_object_foreach(root, key, e) {
		int known = 0;

		if (strcmp(key, "__metadata__") == 0)
			continue;
		for (i = 0; i < n_specs && !known; i++)
			known = strcmp(key, specs[i].name) == 0;
		if (known)
			continue;
		if (!is_bn_counter(key, specs, n_specs)) {
			dt_error_set(err, DT_E_FORMAT,
			    "%s: unexpected tensor %.100s", fname, key);
			goto out;
		}
		if (parse_entry(fname, key, e, dlen, 1, &ndim, shape, &numel,
		    &spans[n_spans], err) != 0)
			goto out;
		if (numel != 1) {
			dt_error_set(err, DT_E_FORMAT,
			    "%s: tensor %.100s: %zu elements, expected 1",
			    fname, key, numel);
			goto out;
		}
		n_spans++;
	}
	qsort(spans, n_spans, sizeof(*spans), span_cmp);
	for (i = 1; i < n_spans; i++) {
		if (spans[i].begin < spans[i - 1].end) {
			dt_error_set(err, DT_E_FORMAT,
			    "%s: tensors %.100s and %.100s overlap", fname,
			    spans[i - 1].name, spans[i].name);
			goto out;
		}
	}

	if (alloc_tensors(m, specs, n_specs, err) != 0)
		goto out;
	for (i = 0; i < n_specs; i++) {
		uint64_t b;

		e = json_object_get(root, specs[i].name);
		b = (uint64_t)json_integer_value(json_array_get(
		    json_object_get(e, "data_offsets"), 0));
		if (copy_floats(fname, specs[i].name, p + 8 + hl + b,
		    m->tensors[i].numel, m->tensors[i].data, err) != 0)
			goto out;
	}
	*out = m;
	m = NULL;
	rc = 0;
out:
	json_decref(root);
	free(specs);
	free(spans);
	nn_model_free(m);
	return rc;
}

int
nn_model_load(const char *path, struct nn_model **out, struct dt_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (path == NULL || out == NULL)
		return dt_error_set(err, DT_E_INVALID, "model: NULL argument");
	if (dt_file_read(path, FILE_MAX, NULL, &buf, &len, NULL, err) != 0)
		return -1;
	rc = nn_model_load_buffer((const uint8_t *)buf, len, path, out, err);
	free(buf);
	return rc;
}
/* ------------------------------------------------------------------------ */
/* Saving. */

static int
name_cmp(const void *a, const void *b)
{
	const struct nn_tensor *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

static int
hp_equal(const struct nn_hparams *a, const struct nn_hparams *b)
{
	size_t i;
	int s;

	for (i = 0; i < N_HP_INT; i++)
		if (*hp_int_field((struct nn_hparams *)a, i) !=
		    *hp_int_field((struct nn_hparams *)b, i))
			return 0;
	if (a->n_stages != b->n_stages)
		return 0;
	for (s = 0; s < a->n_stages && s < NN_MAX_STAGES; s++)
		if (a->stage_channels[s] != b->stage_channels[s])
			return 0;
	return 1;
}

/* 1 when the metadata already says what m->hp and m->activities say. */
static int
meta_consistent(const struct nn_model *m)
{
	struct nn_hparams hp;
	char **acts = NULL;
	int n = 0, i, same;

	if (parse_required(m, &hp, &acts, &n, NULL) != 0)
		return 0;
	same = hp_equal(&hp, &m->hp) &&
	    n == m->n_activities;
	for (i = 0; i < n; i++) {
		if (same && strcmp(acts[i], m->activities[i]) != 0)
			same = 0;
		free(acts[i]);
	}
	free(acts);
	return same;
}

int
nn_model_save_buffer(const struct nn_model *m, void **bufp, size_t *lenp,
    struct dt_error *err)
{
	struct nn_model tmp;
	const struct nn_tensor **order = NULL;
	json_t *root = NULL, *meta = NULL, *e;
	char *hdr = NULL;
	uint8_t *buf = NULL;
	size_t hl, padded, total, off, i, j;
	uint64_t v64;
	int rc = -1;

	if (m == NULL || bufp == NULL || lenp == NULL)
		return dt_error_set(err, DT_E_INVALID, "model: NULL argument");
	memset(&tmp, 0, sizeof(tmp));
	if ((root = json_object()) == NULL || (meta = json_object()) == NULL)
		goto nomem;
	/* Metadata, made consistent with hp/activities if need be. */
	tmp.hp = m->hp;
	tmp.n_activities = m->n_activities;
	tmp.activities = m->activities;
	for (i = 0; i < m->n_meta; i++) {
		json_t *v = json_string(m->meta[i].value);

		if (v == NULL || json_object_set_new(meta, m->meta[i].key,
		    v) != 0) {
			dt_error_set(err, DT_E_INVALID, "__metadata__ field "
			    "%.100s: key or value is not valid UTF-8",
			    m->meta[i].key);
			goto out;
		}
	}
	if (!meta_consistent(m)) {
		tmp.meta = NULL;
		tmp.n_meta = 0;
		if (set_required_meta(&tmp, err) != 0)
			goto out;
		for (i = 0; i < tmp.n_meta; i++)
			if (json_object_set_new(meta, tmp.meta[i].key,
			    json_string(tmp.meta[i].value)) != 0)
				goto nomem;
	}
	if (json_object_set(root, "__metadata__", meta) != 0)
		goto nomem;

	if ((order = calloc(m->n_tensors + 1, sizeof(*order))) == NULL)
		goto nomem;
	for (i = 0; i < m->n_tensors; i++)
		order[i] = &m->tensors[i];
	qsort(order, m->n_tensors, sizeof(*order), name_cmp);
	off = 0;
	for (i = 0; i < m->n_tensors; i++) {
		const struct nn_tensor *t = order[i];
		json_t *shape;

		if (i > 0 && strcmp(order[i - 1]->name, t->name) == 0) {
			dt_error_set(err, DT_E_INVALID,
			    "tensor %s: name used twice", t->name);
			goto out;
		}
		if ((e = json_object()) == NULL ||
		    json_object_set_new(root, t->name, e) != 0 ||
		    json_object_set_new(e, "dtype", json_string("F32")) != 0 ||
		    (shape = json_array()) == NULL ||
		    json_object_set_new(e, "shape", shape) != 0)
			goto nomem;
		for (j = 0; j < (size_t)t->ndim; j++)
			if (json_array_append_new(shape,
			    json_integer(t->shape[j])) != 0)
				goto nomem;
		if (json_object_set_new(e, "data_offsets",
		    json_pack("[I,I]", (json_int_t)off,
		    (json_int_t)(off + 4 * t->numel))) != 0)
			goto nomem;
		off += 4 * t->numel;
	}
	if ((hdr = json_dumps(root, JSON_COMPACT)) == NULL)
		goto nomem;
	hl = strlen(hdr);
	padded = (hl + 7) & ~(size_t)7;
	total = 8 + padded + off;
	if ((buf = malloc(total)) == NULL)
		goto nomem;
	v64 = htole64((uint64_t)padded);
	memcpy(buf, &v64, 8);
	memcpy(buf + 8, hdr, hl);
	memset(buf + 8 + hl, ' ', padded - hl);
	off = 8 + padded;
	for (i = 0; i < m->n_tensors; i++) {
		const struct nn_tensor *t = order[i];

		for (j = 0; j < t->numel; j++) {
			uint32_t u;

			memcpy(&u, &t->data[j], 4);
			u = htole32(u);
			memcpy(buf + off, &u, 4);
			off += 4;
		}
	}
	*bufp = buf;
	*lenp = total;
	buf = NULL;
	rc = 0;
	goto out;
nomem:
	dt_error_set(err, DT_E_NOMEM, "model: out of memory while saving");
out:
	for (i = 0; i < tmp.n_meta; i++) {
		free(tmp.meta[i].key);
		free(tmp.meta[i].value);
	}
	free(tmp.meta);
	free(buf);
	free(hdr);
	free(order);
	json_decref(meta);
	json_decref(root);
	return rc;
}

int
nn_model_save(const struct nn_model *m, const char *path,
    struct dt_error *err)
{
	void *buf = NULL;
	size_t len = 0;
	int rc = -1;

	if (path == NULL)
		return dt_error_set(err, DT_E_INVALID, "model: NULL path");
	if (nn_model_save_buffer(m, &buf, &len, err) == 0)
		rc = dt_file_replace(path, buf, len, 0644, err);
	free(buf);
	return rc;
}

int
nn_model_copy_weights(struct nn_model *dst, const struct nn_model *src,
    const char *skip)
{
	size_t i;
	int n = 0;

	for (i = 0; i < src->n_tensors; i++) {
		const struct nn_tensor *a = &src->tensors[i];
		struct nn_tensor *b;

		if (skip != NULL && strcmp(a->name, skip) == 0)
			continue;
		b = nn_model_tensor_mut(dst, a->name);
		if (b == NULL || b->ndim != a->ndim || b->numel != a->numel ||
		    memcmp(b->shape, a->shape, sizeof(a->shape[0]) *
		    (size_t)a->ndim) != 0)
			continue;
		memcpy(b->data, a->data, sizeof(float) * a->numel);
		n++;
	}
	return n;
}
