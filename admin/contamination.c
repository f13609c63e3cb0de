/* admin/contamination.c — probe persons the model trained on. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "admin/contamination.h"

int
eval_contamination(const char *protocol, const char *model,
    const struct data_corpus *c, const int *rows, const int *probes, int n,
    bool allow, json_t *out, struct dt_error *err)
{
	json_t *list = json_array();
	char names[200] = "";
	size_t used = 0;
	int i, k = 0;

	if (list == NULL)
		return dt_error_set(err, DT_E_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		const char *name = c->subjects[probes[i]];

		if (rows[probes[i]] < 0)
			continue;
		k++;
		json_array_append_new(list, json_string(name));
		if (used + strlen(name) + 8 < sizeof(names))
			used += (size_t)snprintf(names + used, sizeof(names) -
			    used, "%s%s", used ? ", " : "", name);
		else if (used + 5 < sizeof(names) && names[used - 1] != '.')
			used += (size_t)snprintf(names + used, sizeof(names) -
			    used, ", ...");
	}
	if (k > 0 && !allow) {
		json_decref(list);
		return dt_error_set(err, DT_E_INVALID, "%s on model %s: %d of "
		    "the %d probe persons are among its training subjects "
		    "(metadata subjects: %s), so its open-set figures would "
		    "flatter; evaluate a model trained without them, or pass "
		    "--contaminated to measure anyway (the result is then "
		    "marked \"contaminated\")", protocol, model, k, n, names);
	}
	json_object_set_new(out, "contaminated", json_boolean(k > 0));
	if (k > 0)
		json_object_set_new(out, "contaminated_subjects", list);
	else
		json_decref(list);
	return 0;
}
