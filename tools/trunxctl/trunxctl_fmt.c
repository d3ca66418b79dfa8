/*
 * trunxctl_fmt.c — turns the daemon's JSON results into text for humans: an aligned
 * key/value tree for status, reload and hangup, a table for calls. Unknown fields
 * are printed too, so new counters show up without a trunxctl change.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "trunxctl.h"

#define CELL_MAX 256    /* one rendered value */
#define COL_MAX  40     /* widest table column; longer cells are cut with "~" */

struct sbuf {
	char   s[CELL_MAX];
	size_t n;
};

static void sb_add(struct sbuf *b, const char *s)
{
	size_t room = sizeof(b->s) - 1 - b->n, len = strlen(s);

	if (len > room)
		len = room;
	memcpy(b->s + b->n, s, len);
	b->n += len;
	b->s[b->n] = '\0';
}

/* A value on one line: strings bare, arrays "a,b", objects "k=v,k=v". */
static void render(struct sbuf *b, const json_t *v)
{
	char tmp[64];

	switch (json_typeof(v)) {
	case JSON_STRING:
		sb_add(b, json_string_value(v));
		break;
	case JSON_INTEGER:
		snprintf(tmp, sizeof(tmp), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		sb_add(b, tmp);
		break;
	case JSON_REAL:
		snprintf(tmp, sizeof(tmp), "%g", json_real_value(v));
		sb_add(b, tmp);
		break;
	case JSON_TRUE:  sb_add(b, "yes"); break;
	case JSON_FALSE: sb_add(b, "no"); break;
	case JSON_NULL:  sb_add(b, "-"); break;
	case JSON_ARRAY: {
		size_t i;
		const json_t *e;
		if (json_array_size(v) == 0)
			sb_add(b, "-");
		json_array_foreach(v, i, e) {
			if (i)
				sb_add(b, ",");
			render(b, e);
		}
		break;
	}
	case JSON_OBJECT: {
		const char *k;
		const json_t *e;
		int first = 1;
		json_object_foreach((json_t *)v, k, e) {
			if (!first)
				sb_add(b, " ");
			first = 0;
			sb_add(b, k);
			sb_add(b, "=");
			render(b, e);
		}
		break;
	}
	}
}

static void fmt_duration(char *out, size_t len, long long s)
{
	if (s >= 86400)
		snprintf(out, len, "%lldd %02lld:%02lld:%02lld", s / 86400, s % 86400 / 3600,
			 s % 3600 / 60, s % 60);
	else
		snprintf(out, len, "%02lld:%02lld:%02lld", s / 3600, s % 3600 / 60, s % 60);
}

static void print_tree(FILE *out, const json_t *obj, int indent)
{
	const char *k;
	const json_t *v;
	int width = 0;

	json_object_foreach((json_t *)obj, k, v) {
		if ((int)strlen(k) > width)
			width = (int)strlen(k);
	}
	json_object_foreach((json_t *)obj, k, v) {
		struct sbuf b = {.n = 0};

		if (json_is_object(v) && json_object_size(v)) {
			fprintf(out, "%*s%s\n", indent, "", k);
			print_tree(out, v, indent + 2);
			continue;
		}
		if (strcmp(k, "uptime_s") == 0 && json_is_integer(v)) {
			char d[64];
			fmt_duration(d, sizeof(d), (long long)json_integer_value(v));
			fprintf(out, "%*s%-*s  %s (%" JSON_INTEGER_FORMAT " s)\n", indent, "",
				width, "uptime", d, json_integer_value(v));
			continue;
		}
		render(&b, v);
		fprintf(out, "%*s%-*s  %s\n", indent, "", width, k, b.s);
	}
}

/* ---- calls table ---- */

enum { C_ID, C_FROM, C_TO, C_STATE, C_LEGS, C_CODECS, C_DURATION, N_COLS };

static const char *const col_names[N_COLS] = {
	"ID", "FROM", "TO", "STATE", "LEGS", "CODECS", "DURATION",
};
static const char *const col_keys[N_COLS] = {
	"id", "from", "to", "state", "legs", "codecs", "duration_ms",
};

/* One leg: its state, prefixed by its name or side when the daemon gives one. */
static void render_legs(struct sbuf *b, const json_t *legs)
{
	size_t i;
	const json_t *leg;

	if (!json_is_array(legs)) {
		render(b, legs ? legs : json_null());
		return;
	}
	json_array_foreach(legs, i, leg) {
		const json_t *name = json_object_get(leg, "leg");
		const json_t *state = json_object_get(leg, "state");

		if (!name)
			name = json_object_get(leg, "side");
		if (i)
			sb_add(b, ",");
		if (!json_is_object(leg) || (!name && !state)) {
			render(b, leg);
			continue;
		}
		if (name) {
			render(b, name);
			if (state)
				sb_add(b, ":");
		}
		if (state)
			render(b, state);
	}
}

static void cell(char out[COL_MAX + 1], const json_t *call, int col)
{
	const json_t *v = json_object_get(call, col_keys[col]);
	struct sbuf b = {.n = 0};

	if (col == C_DURATION && json_is_integer(v)) {
		fmt_duration(b.s, sizeof(b.s), (long long)(json_integer_value(v) / 1000));
		b.n = strlen(b.s);
	} else if (col == C_LEGS) {
		render_legs(&b, v);
	} else {
		render(&b, v ? v : json_null());
	}
	if (b.n > COL_MAX) {
		b.s[COL_MAX - 1] = '~';
		b.n = COL_MAX;
	}
	memcpy(out, b.s, b.n);
	out[b.n] = '\0';
}

static void print_calls(FILE *out, const json_t *calls)
{
	int width[N_COLS];
	size_t i, n = json_array_size(calls);
	const json_t *call;
	char c[COL_MAX + 1];

	if (!json_is_array(calls)) {
		struct sbuf b = {.n = 0};
		render(&b, calls);
		fprintf(out, "%s\n", b.s);
		return;
	}
	if (n == 0) {
		fprintf(out, "no calls\n");
		return;
	}
	for (int k = 0; k < N_COLS; k++)
		width[k] = (int)strlen(col_names[k]);
	json_array_foreach(calls, i, call) {
		for (int k = 0; k < N_COLS; k++) {
			cell(c, call, k);
			if ((int)strlen(c) > width[k])
				width[k] = (int)strlen(c);
		}
	}
	for (int k = 0; k < N_COLS; k++)
		fprintf(out, "%-*s%s", width[k], col_names[k], k + 1 < N_COLS ? "  " : "\n");
	json_array_foreach(calls, i, call) {
		for (int k = 0; k < N_COLS; k++) {
			cell(c, call, k);
			fprintf(out, "%-*s%s", width[k], c, k + 1 < N_COLS ? "  " : "\n");
		}
	}
	fprintf(out, "%zu call%s\n", n, n == 1 ? "" : "s");
}

/* ---- generic tables (trunks, budgets) ---- */

struct col {
	const char *title;
	const char *key;     /**< a field, or two joined by '+' (summed when integers) */
};

static void table_cell(char out[COL_MAX + 1], const json_t *row, const struct col *c)
{
	struct sbuf b = {.n = 0};
	const char *plus = strchr(c->key, '+');

	if (plus) {
		char k1[32];
		const json_t *a, *v;

		snprintf(k1, sizeof(k1), "%.*s", (int)(plus - c->key), c->key);
		a = json_object_get(row, k1);
		v = json_object_get(row, plus + 1);
		snprintf(b.s, sizeof(b.s), "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
			 json_integer_value(a), json_integer_value(v));
		b.n = strlen(b.s);
	} else {
		const json_t *v = json_object_get(row, c->key);

		render(&b, v ? v : json_null());
	}
	if (b.n > COL_MAX) {
		b.s[COL_MAX - 1] = '~';
		b.n = COL_MAX;
	}
	memcpy(out, b.s, b.n);
	out[b.n] = '\0';
}

static void print_table(FILE *out, const json_t *rows, const struct col *cols, int n_cols,
			const char *what)
{
	int width[16];
	size_t i, n = json_array_size(rows);
	const json_t *row;
	char c[COL_MAX + 1];

	for (int k = 0; k < n_cols; k++)
		width[k] = (int)strlen(cols[k].title);
	json_array_foreach(rows, i, row) {
		for (int k = 0; k < n_cols; k++) {
			table_cell(c, row, &cols[k]);
			if ((int)strlen(c) > width[k])
				width[k] = (int)strlen(c);
		}
	}
	for (int k = 0; k < n_cols; k++)
		fprintf(out, "%-*s%s", k + 1 < n_cols ? width[k] : 0, cols[k].title,
			k + 1 < n_cols ? "  " : "\n");
	json_array_foreach(rows, i, row) {
		for (int k = 0; k < n_cols; k++) {
			table_cell(c, row, &cols[k]);
			fprintf(out, "%-*s%s", k + 1 < n_cols ? width[k] : 0, c,
				k + 1 < n_cols ? "  " : "\n");
		}
	}
	fprintf(out, "%zu %s%s\n", n, what, n == 1 ? "" : "s");
}

static void print_trunks(FILE *out, const json_t *trunks)
{
	static const struct col cols[] = {
		{"NAME", "name"}, {"KIND", "kind"}, {"STATUS", "status"},
		{"SOURCES", "sources"}, {"URI", "uri"}, {"QUALIFY", "qualify"},
		{"RTT_MS", "rtt_ms"}, {"REGISTER", "registration"}, {"CALLS IN/OUT", "calls_in+calls_out"},
	};

	if (!json_is_array(trunks)) {
		print_tree(out, trunks, 0);
		return;
	}
	print_table(out, trunks, cols, (int)(sizeof(cols) / sizeof(cols[0])), "trunk");
}

static void print_budgets(FILE *out, const json_t *b)
{
	static const struct col pools[] = {
		{"GROUP", "group"}, {"POOL", "pool"}, {"CHANNELS", "channels"}, {"USED", "used"},
	};
	static const struct col tenants[] = {
		{"TENANT", "tenant"}, {"CAP", "cap"}, {"USED", "used"},
	};
	const json_t *g = json_object_get(b, "global");
	json_t *top = json_deep_copy(b);

	json_object_del(top, "pools");
	json_object_del(top, "tenants");
	json_object_del(top, "global");
	print_tree(out, top, 0);
	json_decref(top);
	if (g)
		fprintf(out, "global cap %" JSON_INTEGER_FORMAT ", used %" JSON_INTEGER_FORMAT "\n",
			json_integer_value(json_object_get(g, "cap")),
			json_integer_value(json_object_get(g, "used")));
	if (json_is_array(json_object_get(b, "pools"))) {
		fprintf(out, "\n");
		print_table(out, json_object_get(b, "pools"), pools, 4, "pool");
	}
	if (json_array_size(json_object_get(b, "tenants"))) {
		fprintf(out, "\n");
		print_table(out, json_object_get(b, "tenants"), tenants, 3, "tenant");
	}
}

static const char *str_or_ok(const char *s)
{
	return s ? s : "ok";
}

void trunxctl_print(FILE *out, const char *cmd, const json_t *result)
{
	if (strcmp(cmd, "trunks") == 0) {
		print_trunks(out, result);
		return;
	}
	if (strcmp(cmd, "budgets") == 0 && json_is_object(result)) {
		print_budgets(out, result);
		return;
	}
	if (strcmp(cmd, "calls") == 0) {
		print_calls(out, result);
		return;
	}
	if (strcmp(cmd, "loglevel") == 0) {
		const char *now = json_string_value(json_object_get(result, "log_level"));
		const char *was = json_string_value(json_object_get(result, "previous"));

		if (was)
			fprintf(out, "log level %s (was %s)\n", now ? now : "?", was);
		else
			fprintf(out, "log level %s\n", now ? now : "?");
		return;
	}
	if (strcmp(cmd, "reload") == 0)
		fprintf(out, "configuration reloaded\n");
	else if (strcmp(cmd, "hangup") == 0)
		fprintf(out, "hangup sent\n");
	else if (strcmp(cmd, "play") == 0 || strcmp(cmd, "record") == 0 ||
		 strcmp(cmd, "amd") == 0 || strcmp(cmd, "dtmf") == 0 ||
		 strcmp(cmd, "transfer") == 0)
		fprintf(out, "%s: %s\n", cmd,
			str_or_ok(json_string_value(json_object_get(result, "result"))));
	if (json_is_object(result))
		print_tree(out, result, strcmp(cmd, "status") == 0 ? 0 : 2);
	else if (result && !json_is_null(result)) {
		struct sbuf b = {.n = 0};
		render(&b, result);
		fprintf(out, "%s\n", b.s);
	}
}
